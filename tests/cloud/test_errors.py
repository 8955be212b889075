"""Error paths of `apply`/`audit` that a real service here cannot be made to produce.

An old Placement or nova (missing microversion) is played back from recorded version documents
(tests/cloud/data/recorded/) by a small HTTP server on 127.0.0.1. The errors real services can
produce (unknown cloud, bad credentials, unreachable endpoint) are tested in tests/live.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gpuslice.cli import main

RECORDED = Path(__file__).parent / "data" / "recorded"
OBJECTS = Path(__file__).parent / "data" / "cloud-objects.json"


def _serve(routes: Mapping[str, str]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = routes.get(self.path.rstrip("/") or "/")
            body = (RECORDED / name).read_bytes() if name else b'{"error": "not recorded"}'
            self.send_response(200 if name else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def recorded_cloud(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, ThreadingHTTPServer]]:
    servers: dict[str, ThreadingHTTPServer] = {}

    def make(name: str, placement_doc: str, nova_doc: str) -> None:
        placement = _serve({"/": placement_doc})
        nova = _serve({"/v2.1": nova_doc})
        servers[name] = placement
        servers[f"{name}-nova"] = nova
        clouds = json.loads((tmp_path / "clouds.yaml").read_text()) if servers else {}
        clouds.setdefault("clouds", {})[name] = {
            "auth_type": "admin_token",
            "auth": {"endpoint": "http://127.0.0.1:9", "token": "admin:hush-hush"},
            "compute_endpoint_override": f"http://127.0.0.1:{nova.server_port}/v2.1",
            "placement_endpoint_override": f"http://127.0.0.1:{placement.server_port}",
        }
        (tmp_path / "clouds.yaml").write_text(json.dumps(clouds))

    (tmp_path / "clouds.yaml").write_text("{}")
    make("old-placement", "placement-root-queens.json", "nova-v21-root.json")
    make("old-nova", "placement-root.json", "nova-v21-root-pike.json")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "clouds.yaml"))
    monkeypatch.delenv("OS_CLOUD", raising=False)
    yield servers
    for server in servers.values():
        server.shutdown()


def test_missing_placement_microversion_exits_3(
    recorded_cloud: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "--cloud", "old-placement"]) == 3
    err = capsys.readouterr().err
    assert "Placement offers microversion 1.28 at most; gpuslice needs 1.29" in err
    assert "hush-hush" not in err
    assert "Traceback" not in err


def test_missing_nova_microversion_exits_3(
    recorded_cloud: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apply", str(OBJECTS), "--cloud", "old-nova", "--dry-run"]) == 3
    err = capsys.readouterr().err
    assert "nova's API offers microversion 2.53 at most; gpuslice needs 2.61" in err


def test_unknown_cloud_exits_3_naming_clouds_yaml(
    recorded_cloud: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "--cloud", "nowhere"]) == 3
    err = capsys.readouterr().err
    assert "nowhere" in err
    assert "clouds.yaml" in err


def test_bad_input_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "objects.json"
    bad.write_text(json.dumps({"flavors": [{"name": "g1", "vcpu": 2}]}))
    assert main(["apply", str(bad), "--cloud", "any"]) == 2
    err = capsys.readouterr().err
    assert "vcpu (did you mean vcpus?)" in err


def test_no_cloud_named_anywhere_exits_3_saying_how_to_name_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "clouds.yaml").write_text("{}")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "clouds.yaml"))
    for variable in ("OS_CLOUD", "OS_AUTH_URL", "OS_AUTH_TYPE", "OS_TOKEN", "OS_PASSWORD"):
        monkeypatch.delenv(variable, raising=False)
    assert main(["audit"]) == 3
    err = capsys.readouterr().err
    assert "missing authentication option(s) auth_url" in err
    assert "--cloud NAME" in err
    assert "OS_CLOUD" in err
