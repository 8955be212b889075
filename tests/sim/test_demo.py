"""`gpuslice demo`: the whole scenario runs and tells the verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuslice.cli import main
from gpuslice.errors import InputError
from gpuslice.sim.demo import find_lab, run_demo
from gpuslice.sim.workload import SyntheticSpec
from tests.conftest import BRIGHT_LAB


def test_demo_plans_renders_simulates_and_reports(tmp_path: Path) -> None:
    result = run_demo(
        tmp_path, lab=BRIGHT_LAB, workload=SyntheticSpec(requests=600, load=1.5, gpu_share=0.05)
    )
    assert [(r.fleet, r.strategy) for r in result.rendered] == [
        ("fleet.yaml", "split"),
        ("fleet-2025.1.yaml", "placement"),
        ("gpu-menu", "placement"),
    ]
    assert all(r.files > 0 and r.out_dir.is_dir() for r in result.rendered)
    assert result.gpus[0].address == "0000:86:00.0"
    newton, current = result.simulations
    assert newton.result("split").promise_kept
    assert current.result("placement").promise_kept
    assert "split" in {s.name for s in current.skipped}
    assert result.report.is_file()
    assert result.report.read_text(encoding="utf-8").count("Strategies compared on") == 3
    assert result.menu is not None
    sizes = {(f.flavor, f.gpus) for f in result.menu.result("placement").by_flavor}
    assert ("g4.a100", 4) in sizes
    assert result.menu.result("placement").promise_kept


def test_demo_command_says_where_the_report_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--out", str(tmp_path / "out"), "--lab", str(BRIGHT_LAB)]) == 0
    out = capsys.readouterr().out
    assert "verdict" in out
    assert "placement: keeps the promise" in out
    assert "g4.a100" in out
    assert str(tmp_path / "out" / "report" / "index.html") in out.replace("\n", "")
    assert f"gpuslice doctor {BRIGHT_LAB / 'fleet-2025.1.yaml'} --snapshots" in out


def test_missing_lab_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--lab"):
        find_lab(tmp_path)
