"""`gpuslice verify` without nova, and the report that crosses the process boundary."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from importlib.machinery import ModuleSpec

import pytest

from gpuslice.cli import main
from gpuslice.twin.client import report_from_dict
from gpuslice.twin.report import Report, Row
from tests.twin.nova import LAB


def test_without_nova_verify_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == "nova" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert main(["verify", str(LAB)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "pip install 'gpuslice[nova]'" in err


def test_core_package_does_not_import_nova() -> None:
    """The CLI, verify's command and its client load without nova (a fresh interpreter)."""
    code = (
        "import sys, gpuslice.cli, gpuslice.cli.verify, gpuslice.twin.client, gpuslice.twin.verify;"
        "print(sorted(m for m in sys.modules if m == 'nova' or m.startswith('nova.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_report_survives_the_trip_through_json() -> None:
    report = Report(
        rows=[Row("hyper18", "placement", "fill", "No valid host", "ERROR: No valid host", True)],
        notes=["a note"],
        run_seconds={"hyper18": 12.5},
    )
    back = report_from_dict(report.as_dict())
    assert back == report
    assert back.ok
    bad = Report(rows=[Row("h", "none", "gpu", "ACTIVE", "ERROR", False)])
    assert not bad.ok
    assert bad.mismatches == bad.rows


def test_table_marks_mismatches_and_exit_code_is_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        Row(
            "hyper18", "none", "ordinary first: fill", "No valid host", "ERROR: No valid host", True
        ),
        Row("hyper18", "none", "ordinary first: GPU VM 1 of 1", "ACTIVE", "ERROR: No valid", False),
    ]

    def fake(*_args: object, **_kwargs: object) -> Report:
        return Report(rows=rows, run_seconds={"hyper18": 1.0})

    monkeypatch.setattr(importlib.util, "find_spec", lambda *_a, **_k: object())
    monkeypatch.setattr("gpuslice.cli.verify.verify_in_child", fake)
    assert main(["verify", str(LAB), "--strategy", "none"]) == 1
    captured = capsys.readouterr()
    assert "MISMATCH" in captured.out
    assert "ordinary first: GPU VM 1 of 1" in captured.out
    assert "1 of 2 steps did not see what the promise expects" in " ".join(captured.err.split())
