"""Helpers for the real-nova tests: run `gpuslice verify` the way a user does."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from gpuslice.cli import main

LAB = Path(__file__).resolve().parent / "data" / "lab.yaml"

# Real nova runs only where the nova extra is installed (.venv-nova, made by scripts/nova-venv and
# run by scripts/test-nova); the core venv skips these tests and says why.
needs_nova = pytest.mark.skipif(
    importlib.util.find_spec("nova") is None,
    reason="needs real nova (pip install 'gpuslice[nova]'); scripts/test-nova runs these",
)


def verify_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """Exit code and JSON report of `gpuslice verify ARGS --json`."""
    code = main(["verify", *args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def row(report: dict[str, Any], host: str, step: str) -> dict[str, Any]:
    """The one row of `host` whose step is `step`."""
    found = [r for r in report["rows"] if r["host"] == host and r["step"] == step]
    assert len(found) == 1, (
        f"{host}: no single row {step!r} in {[r['step'] for r in report['rows']]}"
    )
    return found[0]
