"""The live tests' cloud: real nova-api and Placement over HTTP on 127.0.0.1 (cloudserver.py).

These tests need nova 34 and placement 16 in the interpreter that runs them (`scripts/test-live`
creates .venv-nova for that). Elsewhere, such as the main .venv, test_live.py skips itself with
that reason (pytest.importorskip), so `pytest` there reports them skipped instead of failing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.live.livecloud import HERE, LiveCloud, write_clouds_yaml

MENU_FLEET = HERE / "data" / "menu-fleet.yaml"


@pytest.fixture(scope="session")
def live_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCloud]:
    """Start cloudserver.py and wait until it serves; stop it at the end of the session."""
    yield from _serve(tmp_path_factory, ())


@pytest.fixture(scope="module")
def menu_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCloud]:
    """A cloud of the menu fleet (two GPU models, a mixed host), for one module."""
    yield from _serve(tmp_path_factory, ("--fleet", str(MENU_FLEET)))


def _serve(factory: pytest.TempPathFactory, extra: tuple[str, ...]) -> Iterator[LiveCloud]:
    state = factory.mktemp("cloud")
    log = (state / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, str(HERE / "cloudserver.py"), "--state", str(state), *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    endpoints_file = state / "endpoints.json"
    deadline = time.monotonic() + 300
    while not endpoints_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            tail = (state / "server.log").read_text()[-3000:]
            pytest.fail(f"cloudserver did not start:\n{tail}")
        time.sleep(0.5)
    endpoints = json.loads(endpoints_file.read_text())
    clouds_yaml = state / "clouds.yaml"
    write_clouds_yaml(clouds_yaml, endpoints["compute"], endpoints["placement"])
    try:
        yield LiveCloud(
            state, endpoints["compute"], endpoints["placement"], endpoints["image"], clouds_yaml
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
