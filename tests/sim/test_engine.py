"""The event loop on tiny scenarios: event logs, the promise, determinism."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuslice.fleet import Host
from gpuslice.plan import make_plan
from gpuslice.sim.engine import Event, run
from gpuslice.sim.runner import simulate, synthetic_for
from gpuslice.sim.workload import SyntheticSpec, VmRequest, Workload
from tests.sim.fleets import small_fleet


def fill_then_gpu() -> Workload:
    """Ordinary 1-vCPU VMs that never leave, more than the cloud holds; then two GPU VMs."""
    ordinary = [VmRequest(float(i), None, 1, 1024, 10) for i in range(40)]
    gpus = [VmRequest(100.0, 50.0, 0, 0, 0, gpus=1), VmRequest(101.0, None, 0, 0, 0, gpus=1)]
    return Workload(tuple(ordinary + gpus))


def test_event_log_of_a_tiny_run() -> None:
    plan = make_plan(small_fleet(), "placement")
    workload = Workload(
        (
            VmRequest(0.0, 5.0, 2, 2048, 20),
            VmRequest(1.0, None, 0, 0, 0, gpus=1),
            VmRequest(2.0, None, 0, 0, 0, gpus=1),
            VmRequest(3.0, None, 0, 0, 0, gpus=1),
            VmRequest(10.0, None, 2, 2048, 20),
        )
    )
    result = run(plan, workload, log=True)
    assert result.events == (
        Event(0.0, "boot", 0, "hyper20"),
        Event(1.0, "boot", 1, "hyper18"),
        Event(2.0, "boot", 2, "hyper16"),
        Event(3.0, "refuse", 3),
        Event(5.0, "delete", 0, "hyper20"),
        Event(10.0, "boot", 4, "hyper20"),
    )
    # the third GPU VM found no free GPU: refused, but the promise holds
    assert (result.gpu_requests, result.gpu_accepted, result.gpu_refused_while_free) == (3, 2, 0)


@pytest.mark.parametrize(
    ("release", "strategy"),
    [("newton", "split"), ("2025.1", "placement"), ("2025.1", "dedicated")],
)
def test_the_promise_holds_when_ordinary_vms_fill_the_cloud(release: str, strategy: str) -> None:
    result = run(make_plan(small_fleet(release, strategy), strategy), fill_then_gpu())
    assert result.ordinary_accepted < result.ordinary_requests  # the cloud did fill up
    assert result.gpu_accepted == 2
    assert result.gpu_refused_while_free == 0


@pytest.mark.parametrize("release", ["newton", "2025.1"])
def test_the_promise_breaks_without_a_hold(release: str) -> None:
    result = run(make_plan(small_fleet(release, "none"), "none"), fill_then_gpu())
    assert result.gpu_refused_while_free == 2
    assert result.gpu_accepted == 0
    assert "refused while a matching GPU was free" in result.first_break[0]
    assert any("hyper18: removed by" in line for line in result.first_break[1:])


def test_same_seed_same_result_other_seed_other_workload() -> None:
    fleet = small_fleet()
    spec = SyntheticSpec(requests=600, load=1.2, gpu_share=0.1)

    def once(seed: int) -> list[object]:
        sim = simulate(fleet, synthetic_for(fleet, spec, seed), seed=seed)
        return [replace(r, wall_seconds=0.0) for r in sim.results]

    assert once(3) == once(3)
    assert once(3) != once(4)


def test_simulate_skips_what_the_release_cannot_carry_and_costs_against_none() -> None:
    fleet = small_fleet("2025.1")
    sim = simulate(fleet, fill_then_gpu())
    assert [s.name for s in sim.skipped] == ["split"]
    assert "409" in sim.skipped[0].reason
    none, dedicated, placement = (sim.result(n) for n in ("none", "dedicated", "placement"))
    assert sim.cost(none) == (0.0, 0.0)
    # dedicated gives the GPU hosts' whole CPU away; placement only the slices
    assert sim.cost(dedicated)[0] == pytest.approx(16 / 32)
    assert sim.cost(placement)[0] == pytest.approx(4 / 32)
    assert placement.gpu_only_capacity.vcpus == 4


def test_utilisation_series_stay_between_zero_and_one() -> None:
    fleet = small_fleet()
    workload = synthetic_for(fleet, SyntheticSpec(requests=400, load=1.5), seed=1)
    result = run(make_plan(fleet, "placement"), workload, samples=20)
    for values in (result.series.cpu, result.series.ram, result.series.gpu):
        assert len(values) == 20
        assert all(0.0 <= v <= 1.0 for v in values)
    assert max(result.series.cpu) > 0.5
    assert sum(result.series.ordinary_refused) == (
        result.ordinary_requests - result.ordinary_accepted
    )


def test_a_deletion_at_the_same_instant_frees_room_before_a_creation() -> None:
    plan = make_plan(small_fleet(), "none")
    # only hyper20 can hold a 16-vCPU VM (the GPU hosts have 8 CPUs); the first one leaves at
    # t=5, and the second, created at t=5, fits only because the deletion goes first.
    workload = Workload((VmRequest(1.0, 4.0, 16, 1024, 10), VmRequest(5.0, None, 16, 1024, 10)))
    result = run(plan, workload, log=True)
    assert result.events == (
        Event(1.0, "boot", 0, "hyper20"),
        Event(5.0, "delete", 0, "hyper20"),
        Event(5.0, "boot", 1, "hyper20"),
    )


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), load=st.floats(0.5, 2.0))
def test_any_seed_replays_identically(seed: int, load: float) -> None:
    fleet = small_fleet()
    plan = make_plan(fleet, "weigher")

    def once() -> object:
        workload = synthetic_for(fleet, SyntheticSpec(requests=150, load=load), seed)
        return replace(run(plan, workload, seed=seed, log=True), wall_seconds=0.0)

    assert once() == once()


def test_builds_in_flight_spread_until_the_periodic_update() -> None:
    """nova counts a build on its host until the compute's periodic update (60 s): a second VM
    10 s after the first goes to the other host; one 70 s after it, after an update, does not
    (IoOpsWeigher, multiplier -1.0)."""
    base = small_fleet()
    big = Host("big", tuple(range(20)), 40960, 1000)
    small = Host("small", tuple(range(16)), 32768, 800)
    fleet = replace(base, hosts=(base.hosts[0], big, small))
    plan = make_plan(fleet, "placement")

    def second(at: float) -> str | None:
        workload = Workload((VmRequest(0.0, None, 1, 1024, 10), VmRequest(at, None, 1, 1024, 10)))
        events = run(plan, workload, log=True).events
        assert events[0] == Event(0.0, "boot", 0, "big")
        return events[1].host

    assert second(10.0) == "small"
    assert second(70.0) == "big"
