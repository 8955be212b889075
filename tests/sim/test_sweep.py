"""Sweeps: the grid, one point as a pure function, equal results on every engine, the CLI."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from gpuslice.cli import main
from gpuslice.errors import InputError
from gpuslice.fleet import SliceSpec
from gpuslice.sim.runner import simulate, synthetic_for
from gpuslice.sim.sweep import (
    Grid,
    SweepPoint,
    run_point,
    run_sweep,
    summarize,
    to_json,
    with_slice,
)
from gpuslice.sim.sweep_report import render_sweep_report
from gpuslice.sim.traces import parse_generic
from gpuslice.sim.workload import SyntheticSpec
from tests.conftest import BRIGHT_LAB
from tests.sim.fleets import small_fleet

SMALL, BIG = SliceSpec(2, 4096, 40), SliceSpec(4, 8192, 40)
SPEC = SyntheticSpec(requests=400, gpu_share=0.1)
GRID = Grid((SMALL, BIG), ("none", "weigher", "placement"), (1, 2), loads=(0.9, 1.5))
needs_dask = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None,
    reason="Dask's distributed is not installed (pip install -e '.[sweep]')",
)
CURRENT = str(BRIGHT_LAB / "fleet-2025.1.yaml")


def test_points_are_the_product_in_a_fixed_order() -> None:
    points = GRID.points()
    assert len(points) == 2 * 3 * 2 * 2
    assert points[:3] == (
        SweepPoint(SMALL, "none", 1, 0.9),
        SweepPoint(SMALL, "none", 2, 0.9),
        SweepPoint(SMALL, "none", 1, 1.5),
    )
    assert points[-1] == SweepPoint(BIG, "placement", 2, 1.5)
    with_trace = Grid((None,), ("none",), (3,), loads=(1.0,), traces=("t.csv",)).points()
    assert with_trace == (
        SweepPoint(None, "none", 3, 1.0),
        SweepPoint(None, "none", 3, None, "t.csv"),
    )


@pytest.mark.parametrize(
    ("kwargs", "field", "text"),
    [
        ({"strategies": ("none", "best")}, "--strategies", "unknown strategy 'best'"),
        ({"seeds": (1, 1)}, "--seeds", "lists a value twice"),
        ({"seeds": ()}, "--seeds", "at least one value"),
        ({"loads": (0.0,)}, "--loads", "above 0"),
        ({"loads": ()}, "--loads", "give --loads, --trace or both"),
    ],
)
def test_bad_grids_are_refused(kwargs: dict[str, object], field: str, text: str) -> None:
    base: dict[str, object] = {
        "slices": (SMALL,),
        "strategies": ("none",),
        "seeds": (1,),
        "loads": (0.9,),
    }
    with pytest.raises(InputError, match=text) as caught:
        Grid(**{**base, **kwargs})  # type: ignore[arg-type]
    assert caught.value.field == field


def test_a_point_is_the_simulator_run_on_the_sliced_fleet() -> None:
    fleet = small_fleet()
    point = SweepPoint(BIG, "placement", 5, 1.2)
    result = run_point(fleet, SPEC, point)
    sliced = with_slice(fleet, BIG)
    assert all(m.slice == BIG for m in sliced.models)
    workload = synthetic_for(sliced, replace(SPEC, load=1.2), 5)
    sim = simulate(sliced, workload, strategies=("placement",), seed=5)
    direct = sim.results[0]
    assert result.gpu_refused_while_free == direct.gpu_refused_while_free
    assert result.ordinary_accepted == direct.ordinary_accepted
    assert (result.cpu_lost, result.ram_lost) == sim.cost(direct)
    assert result == run_point(fleet, SPEC, point)
    # A bigger slice holds more back from ordinary VMs under placement.
    small = run_point(fleet, SPEC, replace(point, slice=SMALL))
    assert small.cpu_lost < result.cpu_lost


def test_a_strategy_the_release_cannot_carry_is_skipped_with_the_reason() -> None:
    result = run_point(small_fleet("2025.1"), SPEC, SweepPoint(None, "split", 1, 0.9))
    assert result.skipped is not None
    assert result.skipped.startswith("strategy split cannot work on 2025.1")
    assert not result.promise_kept


def test_summary_counts_broken_seeds_and_compares_with_none() -> None:
    sweep = run_sweep(small_fleet(), SPEC, GRID, engine="serial")
    cells = summarize(sweep)
    assert len(cells) == 2 * 3 * 2
    for cell in cells:
        group = [
            r
            for r in sweep.results
            if (r.point.slice, r.point.strategy, r.point.workload_label)
            == (cell.slice, cell.strategy, cell.workload)
        ]
        assert cell.seeds == 2
        assert cell.seeds_broken == sum(1 for r in group if r.gpu_refused_while_free)
        assert cell.breaks_max == max(r.gpu_refused_while_free for r in group)
        if cell.strategy == "none":
            assert cell.ordinary_vs_none_mean == 0.0
    placement = [c for c in cells if c.strategy == "placement"]
    assert all(c.seeds_broken == 0 for c in placement)
    assert any(c.seeds_broken for c in cells if c.strategy == "none")
    assert all(c.cpu_lost > 0 for c in placement)


def test_serial_and_process_pool_give_equal_results() -> None:
    fleet = small_fleet()
    serial = run_sweep(fleet, SPEC, GRID, engine="serial")
    pooled = run_sweep(fleet, SPEC, GRID, engine="process", workers=2)
    assert pooled.workers == 2
    assert pooled.results == serial.results
    assert [r.point for r in pooled.results] == list(GRID.points())


@needs_dask
def test_a_local_two_worker_dask_cluster_gives_the_same_results() -> None:
    from distributed import LocalCluster

    fleet = small_fleet()
    serial = run_sweep(fleet, SPEC, GRID, engine="serial")
    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        remote = run_sweep(fleet, SPEC, GRID, engine="dask", scheduler=cluster.scheduler_address)
    assert remote.results == serial.results
    assert remote.engine.startswith("dask tcp://127.0.0.1:")
    started = run_sweep(fleet, SPEC, GRID, engine="dask", workers=2)
    assert started.results == serial.results


def test_bad_engine_options_are_refused() -> None:
    with pytest.raises(InputError, match="goes with --engine dask"):
        run_sweep(small_fleet(), SPEC, GRID, engine="process", scheduler="tcp://127.0.0.1:1")
    with pytest.raises(InputError, match="1 or more"):
        run_sweep(small_fleet(), SPEC, GRID, workers=0)
    traced = Grid((None,), ("none",), (1,), traces=("t.csv",))
    with pytest.raises(InputError, match=r"'t\.csv' was not read"):
        run_sweep(small_fleet(), SPEC, traced, engine="serial")


def test_dask_engine_without_dask_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    with pytest.raises(InputError, match=r"gpuslice\[sweep\]") as caught:
        run_sweep(small_fleet(), SPEC, GRID, engine="dask", workers=2)
    assert caught.value.field == "--engine"


def test_traces_replay_as_read_for_every_seed() -> None:
    text = "create_time,delete_time,vcpus,memory_mb,disk_gb,gpus\n" + "".join(
        f"{i},{i + 50},1,2048,20,{1 if i % 3 == 0 else 0}\n" for i in range(60)
    )
    traces = {"t.csv": parse_generic(text, source="t.csv")}
    grid = Grid((None,), ("none", "placement"), (1, 2), traces=("t.csv",))
    sweep = run_sweep(small_fleet(), SPEC, grid, traces=traces, engine="serial")
    assert [r.point.workload_label for r in sweep.results] == ["trace t.csv"] * 4
    assert all(r.gpu_requests + r.ordinary_requests == 60 for r in sweep.results)
    data = to_json(sweep)
    points = data["points"]
    assert isinstance(points, list)
    assert points[0]["trace"] == "t.csv"
    assert points[0]["load"] is None


def test_report_is_self_contained_svg() -> None:
    sweep = run_sweep(small_fleet(), SPEC, GRID, engine="serial")
    page = render_sweep_report(sweep)
    assert page.count("<svg") == 2  # one trade-off chart per load
    assert "<script" not in page
    assert "http" not in page.replace('xmlns="http', "")
    assert page.count("<circle") == len(summarize(sweep))


def test_cli_json_table_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "sweep",
        CURRENT,
        "--slice",
        "fleet",
        "--slice",
        "4,32768,0",
        "--strategies",
        "none,placement,split",
        "--seeds",
        "1-2",
        "--requests",
        "300",
        "--engine",
        "serial",
    ]
    assert main([*args, "--json", "--report", str(tmp_path / "r")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["points"]) == 2 * 3 * 2
    assert data["grid"]["slices"] == [None, {"vcpus": 4, "memory_mb": 32768, "disk_gb": 0}]
    split = [p for p in data["points"] if p["strategy"] == "split"]
    assert all(p["skipped"] for p in split)
    saved = json.loads((tmp_path / "r" / "sweep.json").read_text(encoding="utf-8"))
    assert [p["gpu_requests"] for p in saved["points"]] == [
        p["gpu_requests"] for p in data["points"]
    ]
    assert "<svg" in (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "placement" in out
    assert "skipped" in out


@pytest.mark.parametrize(
    ("extra", "text"),
    [
        (["--slice", "2,16384"], "write VCPUS,MEMORY_MB,DISK_GB"),
        (["--seeds", "5-1"], "neither a seed nor a range"),
        (["--loads", "high"], "'high' is not a number"),
        (["--strategies", "nonee"], "unknown strategy"),
    ],
)
def test_cli_bad_input_exits_2(
    extra: list[str], text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", CURRENT, "--engine", "serial", *extra]) == 2
    assert text in capsys.readouterr().err
