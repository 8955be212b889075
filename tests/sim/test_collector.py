"""The collector is the caller's: the library never pauses it; `paused_collector` does."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest

from gpuslice.collector import paused_collector
from gpuslice.sim.runner import simulate, synthetic_for
from gpuslice.sim.workload import SyntheticSpec
from tests.sim.fleets import small_fleet


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_a_simulation_leaves_the_collector_as_the_caller_set_it(collector_on: None) -> None:
    fleet = small_fleet()
    workload = synthetic_for(fleet, SyntheticSpec(requests=300, load=1.0), seed=1)
    seen: list[bool] = []

    def progress(_name: str) -> Callable[[int, int], None]:
        return lambda _done, _total: seen.append(gc.isenabled())

    simulate(fleet, workload, strategies=("none", "placement"), seed=1, progress=progress)
    assert seen
    assert all(seen)
    assert gc.isenabled()


def test_paused_collector_pauses_for_the_block_and_restores_the_callers_setting(
    collector_on: None,
) -> None:
    with paused_collector():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    with paused_collector():
        assert not gc.isenabled()
    assert not gc.isenabled()
