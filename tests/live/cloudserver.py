"""A small real cloud on 127.0.0.1: nova-api and Placement over HTTP, with real services behind.

Run with the .venv-nova interpreter (nova 34, placement 16 and nova's functional harness):

    python tests/live/cloudserver.py --state DIR

It plans a fleet file with gpuslice (default: examples/bright-lab/fleet-2025.1.yaml) and starts,
in this one process, nova's real conductor and scheduler, one real nova-compute service per host
(nova's fake virt driver, reporting the host's CPUs, RAM and disk; each host runs with its plan's
reserved_host_* and allocation ratios and its plan's provider.yaml, as an operator deploys them),
the real Placement WSGI app and the real nova-api WSGI app, and serves both APIs over HTTP on
ephemeral ports of 127.0.0.1. It writes `DIR/endpoints.json` when ready and runs until its parent
exits (or SIGTERM).

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

DEFAULT_FLEET = Path(__file__).resolve().parents[2] / "examples/bright-lab/fleet-2025.1.yaml"
# The nova.conf options of a host's plan that this harness applies to its nova-compute (the fake
# virt driver has no PCI devices, so [pci] options have nothing to act on here).
APPLIED = {
    ("DEFAULT", "reserved_host_cpus"): 0,
    ("DEFAULT", "reserved_host_memory_mb"): 512,
    ("DEFAULT", "reserved_host_disk_mb"): 0,
    ("DEFAULT", "cpu_allocation_ratio"): None,
    ("DEFAULT", "ram_allocation_ratio"): None,
    ("DEFAULT", "disk_allocation_ratio"): None,
}
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

    def __init__(self, state: Path, fleet: Path) -> None:
        super().__init__("runTest")
        self.state = state
        self.fleet = fleet
        self.gpus: dict[str, int] = {}

    def runTest(self) -> None:  # noqa: N802 - testtools' name
        pass

    def setUp(self) -> None:
        super().setUp()
        from gpuslice.fleetfile import load_fleet
        from gpuslice.plan import make_plan
        from gpuslice.plan.types import NodePlan

        plan = make_plan(load_fleet(self.fleet))
        self.gpus = {h.host.name: len(h.host.gpus) for h in plan.hosts}
        # Quota counted from Placement: the configuration whose effect audit must catch (GPU VMs
        # hold no VCPU there, so they count 0 cores).
        self.flags(count_usage_from_placement=True, group="quota")
        ctx = nova_context.get_admin_context()
        # nova's CONF is one per process: each compute is started (and its inventory reported)
        # with its own host's options set; GPU hosts last, so that later inventory updates
        # (claims when a server boots on a GPU host) see a GPU host's options.
        for host in sorted(plan.hosts, key=lambda h: bool(h.host.gpus)):
            name = host.host.name
            try:
                node = plan.node(name)
            except KeyError:  # a host the plan sets nothing on (no GPU): nova's defaults
                node = NodePlan(name, "compute")
            options = {
                (o.section, o.name): o.value for o in node.options if o.path == "etc/nova/nova.conf"
            }
            for (section, option), default in APPLIED.items():
                value = options.get((section, option), default)
                if value is not None:
                    group = None if section == "DEFAULT" else section
                    self.flags(**{option: value}, group=group)
            provider_dir = self.state / "provider_config" / name
            provider_dir.mkdir(parents=True, exist_ok=True)
            for document in node.documents:
                if document.path.startswith("etc/nova/provider_config/"):
                    target = provider_dir / Path(document.path).name
                    target.write_text(json.dumps(document.content))
            self.flags(provider_config_location=str(provider_dir), group="compute")
            compute = self._start_compute(name)
            compute.driver.vcpus = host.total.vcpus
            compute.driver.memory_mb = host.total.memory_mb
            compute.driver.local_gb = host.total.disk_gb
            compute.manager.update_available_resource(ctx)
        # Serve the real apps over HTTP. The nova API app is the one nova's harness loaded.
        placement_app = placement_deploy.loadapp(self.placement_fixture_conf())
        nova_app = self.api_fixture.app()
        self.placement_server = serve(placement_app)
        self.nova_server = serve(token_auth(nova_app))

    def useFixture(self, fixture):  # noqa: N802 - testtools' name
        if type(fixture).__name__ == "PlacementFixture":
            self._placement_fixture = fixture
        if type(fixture).__name__ == "OSAPIFixture":
            # nova's API loads api-paste.ini; pip installs it below the venv, not where nova's
            # harness looks: point nova at it, as verify does.
            from gpuslice.twin._nova34 import use_shipped_api_paste

            use_shipped_api_paste(self)
        return super().useFixture(fixture)

    def placement_fixture_conf(self):
        return self._placement_fixture.conf_fixture.conf


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--fleet", type=Path, default=DEFAULT_FLEET)
    args = parser.parse_args()
    os.environ.setdefault("OS_TEST_TIMEOUT", "0")
    cloud = LiveCloud(args.state, args.fleet)
    try:
        cloud.setUp()
    except BaseException:
        traceback.print_exc(file=sys.__stderr__)
        return 1
    logging.getLogger().setLevel(logging.WARNING)
    endpoints = {
        "compute": f"http://127.0.0.1:{cloud.nova_server.server_port}/v2.1",
        "placement": f"http://127.0.0.1:{cloud.placement_server.server_port}",
        "hosts": {name: {"gpus": gpus} for name, gpus in cloud.gpus.items()},
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
