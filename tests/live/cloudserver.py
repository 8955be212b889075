"""A small real cloud on 127.0.0.1: nova-api and Placement over HTTP, with real services behind.

Run with the .venv-nova interpreter (nova 34, placement 16 and nova's functional harness):

    python tests/live/cloudserver.py --state DIR

It starts, in this one process, nova's real conductor and scheduler, one real nova-compute
service per host (nova's fake virt driver: it reports the CPUs, RAM and disk we give it, and
each GPU host's slice comes from a provider.yaml, exactly as an operator deploys it), the real
Placement WSGI app and the real nova-api WSGI app, and serves both APIs over HTTP on ephemeral
ports of 127.0.0.1. It writes `DIR/endpoints.json` when ready and runs until its parent exits
(or SIGTERM).

Authentication: nova 34's api-paste.ini has only the keystone pipeline. As nova's own functional
harness does, keystonemiddleware is stubbed out; a small middleware in front of the API turns the
token `user:project` into the identity headers (Placement's own `noauth2` does the same). Any
other token is refused with 401, so "bad credentials" is a real answer of this server.
"""

# nova's functional harness must be imported before anything else of nova (it sets up eventlet).
import nova.tests.functional  # noqa: F401  isort:skip

import argparse
import json
import logging
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from nova import context as nova_context
from nova.tests.functional import integrated_helpers
from placement import deploy as placement_deploy

# name -> (vcpus, memory_mb, disk_gb, gpus); each GPU holds 2 vCPU / 4096 MB / 40 GB.
HOSTS = {
    "hyper18": (8, 16384, 200, 1),
    "hyper19": (8, 16384, 200, 1),
    "hyper20": (8, 16384, 200, 0),
}
SLICE = {"CUSTOM_GPU_VCPU": 2, "CUSTOM_GPU_MEMORY_MB": 4096, "CUSTOM_GPU_DISK_GB": 40}
TOKEN_USERS = {"admin"}


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def token_auth(app):
    """Map `X-Auth-Token: user:project` to the identity headers the stubbed context reads."""

    def middleware(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path in ("", "/", "/v2", "/v2/", "/v2.1", "/v2.1/"):  # version documents: open
            return app(environ, start_response)
        token = environ.get("HTTP_X_AUTH_TOKEN", "")
        user, _, project = token.partition(":")
        if user not in TOKEN_USERS:
            start_response("401 Unauthorized", [("Content-Type", "application/json")])
            return [b'{"error": {"code": 401, "message": "Authentication required"}}']
        environ["HTTP_X_AUTH_USER"] = user
        environ["HTTP_X_AUTH_PROJECT_ID"] = project or user
        environ["HTTP_X_ROLES"] = "reader,member,admin" if user == "admin" else "reader,member"
        return app(environ, start_response)

    return middleware


def serve(app):
    server = make_server(
        "127.0.0.1", 0, app, server_class=_ThreadingServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


class LiveCloud(integrated_helpers.ProviderUsageBaseTestCase):
    compute_driver = "fake.MediumFakeDriver"

    def __init__(self, state: Path) -> None:
        super().__init__("runTest")
        self.state = state

    def runTest(self) -> None:  # noqa: N802 - testtools' name
        pass

    def setUp(self) -> None:
        super().setUp()
        provider_dir = self.state / "provider_config"
        provider_dir.mkdir(parents=True, exist_ok=True)
        for name, (_cpus, _ram, _disk, gpus) in HOSTS.items():
            if not gpus:
                continue
            inventories = {rc: {"total": amount * gpus} for rc, amount in SLICE.items()}
            document = {
                "meta": {"schema_version": "1.0"},
                "providers": [
                    {
                        "identification": {"name": name},
                        "inventories": {"additional": [inventories]},
                    }
                ],
            }
            (provider_dir / f"{name}.yaml").write_text(json.dumps(document))
        self.flags(provider_config_location=str(provider_dir), group="compute")
        # The slice is taken out of the general inventory on GPU hosts (reserved_host_*); the
        # fake driver shares one CONF, so all hosts get the same reserve here.
        self.flags(
            reserved_host_cpus=2, reserved_host_memory_mb=4096, reserved_host_disk_mb=40 * 1024
        )
        # Quota counted from Placement: the configuration whose effect audit must catch (GPU VMs
        # hold no VCPU there, so they count 0 cores).
        self.flags(count_usage_from_placement=True, group="quota")
        self.flags(cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0, disk_allocation_ratio=1.0)
        ctx = nova_context.get_admin_context()
        for name, (cpus, ram, disk, _gpus) in HOSTS.items():
            compute = self._start_compute(name)
            compute.driver.vcpus = cpus
            compute.driver.memory_mb = ram
            compute.driver.local_gb = disk
            compute.manager.update_available_resource(ctx)
        self._run_periodics()
        # Serve the real apps over HTTP. The nova API app is the one nova's harness loaded.
        placement_app = placement_deploy.loadapp(self.placement_fixture_conf())
        nova_app = self.api_fixture.app()
        self.placement_server = serve(placement_app)
        self.nova_server = serve(token_auth(nova_app))

    def useFixture(self, fixture):  # noqa: N802 - testtools' name
        if type(fixture).__name__ == "PlacementFixture":
            self._placement_fixture = fixture
        return super().useFixture(fixture)

    def placement_fixture_conf(self):
        return self._placement_fixture.conf_fixture.conf


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state", required=True, type=Path)
    args = parser.parse_args()
    os.environ.setdefault("OS_TEST_TIMEOUT", "0")
    cloud = LiveCloud(args.state)
    try:
        cloud.setUp()
    except BaseException:
        traceback.print_exc(file=sys.__stderr__)
        return 1
    logging.getLogger().setLevel(logging.WARNING)
    endpoints = {
        "compute": f"http://127.0.0.1:{cloud.nova_server.server_port}/v2.1",
        "placement": f"http://127.0.0.1:{cloud.placement_server.server_port}",
        "hosts": {name: {"gpus": spec[3]} for name, spec in HOSTS.items()},
        "image": "155d900f-4e14-4e4c-a73d-069cbf4541e6",
    }
    tmp = args.state / "endpoints.json.tmp"
    tmp.write_text(json.dumps(endpoints))
    tmp.replace(args.state / "endpoints.json")
    # Not sys.stdin.read(): under eventlet that would block every green thread. Run until our
    # parent goes away (or SIGTERM).
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
