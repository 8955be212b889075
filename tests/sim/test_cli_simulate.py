"""`gpuslice simulate` as a user runs it: JSON contract, --check, --report, bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from gpuslice.cli import main
from tests.conftest import BRIGHT_LAB

CURRENT = str(BRIGHT_LAB / "fleet-2025.1.yaml")
NEWTON = str(BRIGHT_LAB / "fleet.yaml")
STRESS = ["--requests", "800", "--load", "1.5", "--gpu-share", "0.1"]
CONTRACT = {
    "name",
    "gpu_requests",
    "gpu_accepted",
    "gpu_refused_while_free",
    "ordinary_requests",
    "ordinary_accepted",
    "wall_seconds",
}


def test_json_has_the_contract_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", CURRENT, *STRESS, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = [s["name"] for s in data["strategies"]]
    assert names == ["none", "weigher", "dedicated", "placement"]
    for entry in data["strategies"]:
        assert set(entry) >= CONTRACT
        assert entry["gpu_requests"] + entry["ordinary_requests"] == 800
    assert data["skipped"][0]["name"] == "split"


def test_table_and_verdicts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", NEWTON, *STRESS, "--strategies", "none,split"]) == 0
    out = capsys.readouterr().out
    assert "split: keeps the promise" in out
    assert "none" in out


def test_check_fails_when_the_fleets_strategy_breaks_the_promise(
    write_fleet: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    text = (BRIGHT_LAB / "fleet-2025.1.yaml").read_text(encoding="utf-8")
    text = text.replace("strategy: placement", "strategy: none")
    text = text.replace("captures/", f"{BRIGHT_LAB}/captures/")
    fleet = write_fleet(text)
    assert "strategy: none" in text
    args = ["simulate", str(fleet), "--requests", "3000", "--load", "1.5", "--gpu-share", "0.05"]
    assert main([*args, "--check", "--strategies", "none"]) == 1
    assert "breaks the promise" in capsys.readouterr().err
    assert main(["simulate", CURRENT, *args[2:], "--check", "--strategies", "placement"]) == 0


def test_report_is_self_contained_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    assert main(["simulate", CURRENT, *STRESS, "--report", str(out)]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.count("<svg") >= 6
    assert "<script" not in page
    assert "http://" not in page.replace("http://www.w3.org", "")
    assert json.loads((out / "simulation.json").read_text(encoding="utf-8"))["strategies"]


def test_generic_trace_replay_and_bad_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text(
        "create_time,delete_time,vcpus,memory_mb,disk_gb,gpus\n0,100,2,4096,20,0\n1,,0,0,0,1\n",
        encoding="utf-8",
    )
    assert main(["simulate", CURRENT, "--trace", str(trace), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert all(s["gpu_accepted"] == 1 for s in data["strategies"])
    trace.write_text("create_time,delete_time,vcpus,memory_mb,disk_gb,gpus\n0,1,a,1,1,0\n")
    assert main(["simulate", CURRENT, "--trace", str(trace)]) == 2
    assert "trace.csv:2" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate"]) == 2
    assert main(["simulate", CURRENT, "--strategies", "nope"]) == 2
    assert "unknown strategy 'nope'" in capsys.readouterr().err


def test_workload_file_and_options_over_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "workload.yaml"
    spec.write_text("requests: 300\ngpu_share: 0.2\nmix: 2x4096x40\n", encoding="utf-8")
    args = ["simulate", CURRENT, "--workload", str(spec), "--strategies", "placement", "--json"]
    assert main(args) == 0
    entry = json.loads(capsys.readouterr().out)["strategies"][0]
    assert entry["gpu_requests"] + entry["ordinary_requests"] == 300
    assert main([*args, "--requests", "120"]) == 0
    entry = json.loads(capsys.readouterr().out)["strategies"][0]
    assert entry["gpu_requests"] + entry["ordinary_requests"] == 120
    spec.write_text("requets: 300\n", encoding="utf-8")
    assert main(args) == 2
    assert "did you mean 'requests'" in capsys.readouterr().err


def _inflate_args(tmp_path: Path) -> list[str]:
    pods = tmp_path / "pods.csv"
    rows = ["name,cpu_milli,memory_mib,num_gpu,gpu_milli"]
    rows += [f"p{k},4000,8192,{k % 2},1000" for k in range(12)]
    pods.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return [CURRENT, "--trace", str(pods), "--trace-format", "alibaba-openb", "--inflate", "1.3"]


def test_inflate_json_has_the_contract_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*_inflate_args(tmp_path), "--seeds", "3", "--strategies", "none,placement", "--json"]
    assert main(["simulate", *args]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["seeds"] == [1, 2, 3]
    for entry in data["strategies"]:
        assert set(entry) >= {*CONTRACT, "seeds", "allocation_curve"}
        assert entry["seeds"] == 3
        assert entry["allocation_curve"][0]["arrived"] == 0.0
        assert entry["allocation_curve"][-1]["arrived"] == pytest.approx(1.3)


def test_inflate_table_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [*_inflate_args(tmp_path), "--seeds", "2", "--report", str(tmp_path / "r")]
    assert main(["simulate", *args]) == 0
    out = capsys.readouterr().out
    assert "Inflated to 130%" in out
    assert "placement: keeps the promise along the whole curve" in out
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert "GPUs allocated (mean over seeds)" in page
    assert json.loads((tmp_path / "r" / "simulation.json").read_text())["mode"] == "inflate"


@pytest.mark.parametrize(
    ("extra", "what"),
    [(["--seeds", "3"], "--inflate"), (["--inflate", "1.3"], "--trace")],
)
def test_inflate_options_out_of_place_are_usage_errors(
    extra: list[str], what: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", CURRENT, *extra]) == 2
    assert what in capsys.readouterr().err
