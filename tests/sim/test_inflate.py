"""Inflation experiments: trimming and topping up, the curves, the promise along them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gpuslice.errors import InputError
from gpuslice.fleet import SliceSpec
from gpuslice.plan import make_plan
from gpuslice.releases import parse_release
from gpuslice.sim.inflate import (
    InflateSpec,
    inflate,
    inflation_to_json,
    run_inflated,
    run_inflation,
)
from gpuslice.sim.traces import read_alibaba_fleet, read_trace
from gpuslice.sim.workload import VmRequest, Workload
from tests.sim.fleets import small_fleet


def gpu_pod(gpus: int = 1) -> VmRequest:
    return VmRequest(0.0, None, 4, 8192, 0, gpus=gpus)


def big_vm() -> VmRequest:
    return VmRequest(0.0, None, 8, 15000, 0)


def test_trims_at_the_first_request_that_reaches_the_target() -> None:
    pool = [gpu_pod(1), gpu_pod(2), VmRequest(0.0, None, 1, 512, 0)] * 20
    out = inflate(pool, capacity=10, factor=1.3, seed=4)
    demand = np.cumsum([r.gpus for r in out])
    assert demand[-1] >= 13
    assert demand[-2] < 13
    assert len(out) < len(pool)


def test_tops_up_by_drawing_from_the_trace_when_it_falls_short() -> None:
    pool = [gpu_pod(1), gpu_pod(1), VmRequest(0.0, None, 1, 512, 0)]
    out = inflate(pool, capacity=10, factor=1.3, seed=1)
    assert sum(r.gpus for r in out) == 13
    assert sorted(map(id, out[:3])) == sorted(map(id, pool))  # every request once, shuffled
    assert all(r in pool for r in out)


def test_the_same_seed_gives_the_same_requests_and_another_seed_another_order() -> None:
    pool = [VmRequest(0.0, None, k, 512, 0, gpus=1) for k in range(1, 40)]
    assert inflate(pool, 30, 1.0, 7) == inflate(pool, 30, 1.0, 7)
    assert inflate(pool, 30, 1.0, 7) != inflate(pool, 30, 1.0, 8)


@pytest.mark.parametrize(
    ("pool", "capacity", "what"),
    [([big_vm()], 4, "no GPU requests"), ([gpu_pod()], 0, "no GPUs")],
)
def test_a_target_that_cannot_be_reached_is_refused(
    pool: list[VmRequest], capacity: int, what: str
) -> None:
    with pytest.raises(InputError, match=what):
        inflate(pool, capacity, 1.3, 1)


@pytest.mark.parametrize("factor", [0.0, -1.0, float("nan"), 11.0])
def test_a_bad_factor_names_the_option(factor: float) -> None:
    with pytest.raises(InputError, match="--inflate"):
        InflateSpec(factor=factor)


def test_the_grid_runs_from_zero_to_the_factor() -> None:
    grid = InflateSpec(factor=1.3).grid
    assert grid[0] == 0.0
    assert grid[-1] == pytest.approx(1.3)
    assert len(grid) == 131


def _run(strategy: str, requests: list[VmRequest]) -> object:
    fleet = small_fleet(strategy=strategy)
    plan = make_plan(fleet, strategy)
    return run_inflated(plan, requests, capacity=2, grid=InflateSpec(factor=1.5).grid, seed=1)


def test_none_breaks_the_promise_when_ordinary_vms_came_first_and_placement_keeps_it() -> None:
    # 2 GPU hosts (16 GiB, one GPU each) and a plain host (32 GiB): four VMs of 15,000 MiB
    # fill the plain host and, without a slice, both GPU hosts' RAM.
    requests = [big_vm()] * 4 + [gpu_pod(), gpu_pod(), gpu_pod()]
    none = _run("none", requests)
    placement = _run("placement", requests)
    assert (none.gpu_requests, none.gpu_accepted, none.gpu_refused_while_free) == (3, 0, 3)
    assert none.first_break_arrived == 0.0
    assert none.stranded[-1] == 1.0  # both GPUs free, neither host can take a GPU VM
    assert none.allocated[-1] == 0.0
    assert (placement.gpu_accepted, placement.gpu_refused_while_free) == (2, 0)
    assert placement.ordinary_accepted == 2
    assert placement.allocated[-1] == 1.0
    assert placement.stranded[-1] == 0.0
    assert placement.failed == 3  # two ordinary VMs and the third GPU VM (no GPU left)


def test_curves_read_the_state_after_every_request_up_to_each_point() -> None:
    requests = [gpu_pod(), big_vm(), gpu_pod(), gpu_pod()]
    run = _run("placement", requests)
    grid = InflateSpec(factor=1.5).grid.tolist()
    by_point = dict(zip((round(x, 2) for x in grid), run.allocated, strict=True))
    assert by_point[0.0] == 0.0
    assert by_point[0.49] == 0.0
    assert by_point[0.5] == 0.5
    assert by_point[0.99] == 0.5
    assert by_point[1.0] == 1.0
    assert by_point[1.5] == 1.0
    assert list(run.broken) == [0] * len(grid)
    assert all(a <= b for a, b in zip(run.allocated, run.allocated[1:], strict=False))


def test_run_inflation_is_reproducible_and_its_json_follows_the_contract() -> None:
    fleet = small_fleet()
    pods = Workload(tuple([big_vm(), gpu_pod(), VmRequest(0.0, None, 2, 2048, 0)] * 3), "t")
    spec = InflateSpec(factor=1.3, seeds=(1, 2, 3))
    first = inflation_to_json(run_inflation(fleet, pods, spec, strategies=("none", "placement")))
    again = inflation_to_json(run_inflation(fleet, pods, spec, strategies=("none", "placement")))
    for data in (first, again):
        for entry in data["strategies"]:  # type: ignore[attr-defined]
            entry.pop("wall_seconds")
            for seed in entry["per_seed"]:
                seed.pop("wall_seconds")
    assert first == again
    assert first["seeds"] == [1, 2, 3]
    names = [s["name"] for s in first["strategies"]]  # type: ignore[attr-defined]
    assert names == ["none", "placement"]
    for entry in first["strategies"]:  # type: ignore[attr-defined]
        assert entry["seeds"] == 3
        curve = entry["allocation_curve"]
        assert curve[0] == {"arrived": 0.0, "allocated": 0.0, "sd": 0.0, "min": 0.0, "max": 0.0}
        assert curve[-1]["arrived"] == pytest.approx(1.3)
        assert all(0.0 <= p["allocated"] <= 1.0 for p in curve)
        assert entry["gpu_requests"] == 3 * 3  # per seed, 3 GPU VMs reach 130 % of 2 GPUs


OPENB = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "traces" / "alibaba-openb"


@pytest.mark.skipif(
    not (OPENB / "openb_pod_list_multigpu20.csv").exists(),
    reason=f"the Alibaba openb trace is not at {OPENB} (shared/data)",
)
def test_the_openb_multigpu_trace_inflates_on_its_own_nodes() -> None:
    fleet = read_alibaba_fleet(
        OPENB / "openb_node_list_all_node.csv",
        release=parse_release("2025.1"),
        slice_spec=SliceSpec(2, 16384, 0),
    )
    pods = read_trace(OPENB / "openb_pod_list_multigpu20.csv", "alibaba-openb")
    exp = run_inflation(fleet, pods, InflateSpec(seeds=(1,)), strategies=("none", "placement"))
    assert exp.capacity == 6212
    for result in exp.results:
        (run,) = result.runs
        demand = sum(r.gpus for r in inflate(pods.requests, 6212, 1.3, 1))
        assert demand >= 1.3 * 6212 > demand - 8  # trimmed at the request that reached it
        assert run.allocated[0] == 0.0
        assert all(a <= b for a, b in zip(run.allocated, run.allocated[1:], strict=False))
        assert 0.9 < run.allocated[-1] <= 1.0
        assert run.gpu_requests == sum(1 for r in inflate(pods.requests, 6212, 1.3, 1) if r.gpus)
    assert exp.result("placement").promise_kept


@pytest.mark.parametrize(("taken", "left"), [("t4", "P100"), ("p100", "T4")])
def test_a_free_gpu_is_stranded_only_when_a_vm_of_its_own_model_cannot_use_it(
    taken: str, left: str
) -> None:
    from gpuslice.sim.traces import AlibabaNode, alibaba_fleet

    nodes = (AlibabaNode("n1", 8, 65536, 1, "T4"), AlibabaNode("n2", 8, 65536, 1, "P100"))
    fleet = alibaba_fleet(
        nodes, release=parse_release("2025.1"), slice_spec=SliceSpec(2, 4096, 0), per_model=True
    )
    vm = VmRequest(0.0, None, 0, 0, 0, gpus=1, alias=taken)
    exp = run_inflation(
        fleet, Workload((vm,)), InflateSpec(factor=0.5, seeds=(1,)), strategies=("placement",)
    )
    (run,) = exp.result("placement").runs
    assert run.allocated[-1] == 0.5  # one GPU is taken
    assert run.stranded[-1] == 0.0, f"the {left} is free and a {left} VM fits beside it"
