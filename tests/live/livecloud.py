"""Helpers of the live tests: a running cloudserver and how to drive gpuslice against it.

These tests need nova 34 and placement 16 in the interpreter that runs them (`scripts/test-live`
creates .venv-nova for that). Elsewhere, such as the main .venv, test_live.py skips itself with
that reason (pytest.importorskip), so `pytest` there reports them skipped instead of failing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
DATA = HERE.parent / "cloud" / "data"
TOKEN = "admin:admin"


@dataclass
class LiveCloud:
    """A running cloudserver: its endpoints, a clouds.yaml and how to call gpuslice on it."""

    state: Path
    compute: str
    placement: str
    image: str
    clouds_yaml: Path

    def gpuslice(self, *args: str, cloud: str = "live") -> subprocess.CompletedProcess[str]:
        """Run the gpuslice command of this interpreter's environment, as a user would."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["OS_CLIENT_CONFIG_FILE"] = str(self.clouds_yaml)
        env["COLUMNS"] = "200"
        command = [*_gpuslice_command(), *args]
        if cloud:
            command += ["--cloud", cloud]
        return subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=180, check=False
        )

    def nova(self, method: str, path: str, body: Any = None, version: str = "2.74") -> Any:
        """Call nova's API directly (as an operator's other tools would)."""
        return _http(
            method, self.compute + path, body, {"OpenStack-API-Version": f"compute {version}"}
        )

    def placement_call(self, method: str, path: str, body: Any = None) -> Any:
        """Call Placement directly."""
        return _http(
            method, self.placement + path, body, {"OpenStack-API-Version": "placement 1.29"}
        )


def _gpuslice_command() -> list[str]:
    """The installed console script next to this interpreter, else the same CLI through -c
    (for development with PYTHONPATH=src in a venv gpuslice is not installed in)."""
    script = Path(sys.executable).parent / "gpuslice"
    if script.exists():
        return [str(script)]
    run_main = "import sys; from gpuslice.cli import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", run_main]


def _http(method: str, url: str, body: Any, headers: dict[str, str]) -> Any:
    import requests

    response = requests.request(
        method,
        url,
        json=body,
        headers={"X-Auth-Token": TOKEN, **headers},
        timeout=60,
    )
    assert response.status_code < 400, f"{method} {url}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def write_clouds_yaml(path: Path, compute: str, placement: str) -> None:
    """The clouds.yaml a user of a keystone-less cloud writes (see docs/cloud.md)."""
    clouds = {
        "clouds": {
            name: {
                "auth_type": "admin_token",
                "auth": {"endpoint": compute, "token": token},
                "compute_endpoint_override": c,
                "placement_endpoint_override": p,
            }
            for name, token, c, p in (
                ("live", TOKEN, compute, placement),
                ("badcreds", "intruder:s3cret-T0KEN", compute, placement),
                ("unreachable", TOKEN, "http://127.0.0.1:9/v2.1", "http://127.0.0.1:9"),
            )
        }
    }
    path.write_text(json.dumps(clouds), encoding="utf-8")  # JSON is YAML
