"""Each weigher on its own, normalisation, multipliers, and determinism of decisions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuslice.errors import InputError
from gpuslice.model import (
    Scheduler,
    WeigherSetting,
    from_plan,
    request_from_flavor,
)
from tests.model.builders import flavor, plan, provider


def chosen(scheduler: Scheduler, f) -> str:  # type: ignore[no-untyped-def]
    claim = scheduler.schedule(scheduler.prepare(request_from_flavor(f)))
    assert claim is not None
    return scheduler.names[claim.provider]


def only(name: str, multiplier: float = 1.0) -> tuple[WeigherSetting, ...]:
    return (WeigherSetting(name, multiplier),)


def test_ram_weigher_spreads_and_negative_multiplier_stacks() -> None:
    hosts = [provider("small", ram=8192), provider("large", ram=32768)]
    spread = Scheduler(from_plan(plan(hosts), weighers=only("RAMWeigher")))
    stack = Scheduler(from_plan(plan(hosts), weighers=only("RAMWeigher", -1.0)))
    assert chosen(spread, flavor("m", ram=1024)) == "large"
    assert chosen(stack, flavor("m", ram=1024)) == "small"


def test_cpu_weigher_prefers_free_vcpus() -> None:
    hosts = [provider("few", vcpu=4), provider("many", vcpu=32)]
    s = Scheduler(from_plan(plan(hosts), weighers=only("CPUWeigher")))
    assert chosen(s, flavor("m", vcpus=1)) == "many"


def test_pci_weigher_keeps_ordinary_vms_off_gpu_hosts_and_stacks_gpu_vms() -> None:
    hosts = [provider("gpu2", gpus=2), provider("gpu1", gpus=1), provider("plain")]
    s = Scheduler(from_plan(plan(hosts), weighers=only("PCIWeigher")))
    assert chosen(s, flavor("m")) == "plain"
    # a GPU VM goes where the fewest devices are free: the one-GPU host, not the two-GPU host
    assert chosen(s, flavor("g", pci_passthrough__alias="gpu:1")) == "gpu1"


def test_scores_are_normalised_and_multiplied() -> None:
    hosts = [provider("a", ram=4096), provider("b", ram=8192), provider("c", ram=16384)]
    s = Scheduler(from_plan(plan(hosts), weighers=only("RAMWeigher", 2.0)))
    scores = s.scores(s.prepare(request_from_flavor(flavor("m", ram=0))))
    # RAMWeigher has minval 0: each host weighs free / max free, times the multiplier
    assert scores == pytest.approx({"a": 0.5, "b": 1.0, "c": 2.0})


def test_equal_raw_values_weigh_zero_and_ties_go_to_fleet_order() -> None:
    hosts = [provider("first"), provider("second")]
    s = Scheduler(from_plan(plan(hosts), weighers=only("PCIWeigher")))
    assert s.scores(s.prepare(request_from_flavor(flavor("m")))) == {"first": 0.0, "second": 0.0}
    assert chosen(s, flavor("m")) == "first"


def test_default_weighers_follow_the_release() -> None:
    hosts = [provider("h", gpus=1)]
    modern = from_plan(plan(hosts, release="2025.1", pci_weight_multiplier=10.0))
    newton = from_plan(plan(hosts, release="newton"))
    ocata = from_plan(plan(hosts, release="ocata"))
    assert [w.name for w in modern.config.weighers] == [
        "RAMWeigher",
        "CPUWeigher",
        "PCIWeigher",
        "DiskWeigher",
        "IoOpsWeigher",
    ]
    assert modern.config.weighers[2].multiplier == 10.0
    assert modern.config.weighers[4].multiplier == -1.0
    assert [w.name for w in newton.config.weighers] == ["RAMWeigher", "CPUWeigher", "IoOpsWeigher"]
    # nova 15's wheel has scheduler/weights/disk.py but no pci.py
    assert [w.name for w in ocata.config.weighers] == [
        "RAMWeigher",
        "CPUWeigher",
        "DiskWeigher",
        "IoOpsWeigher",
    ]


def test_io_ops_spread_builds_until_the_periodic_update() -> None:
    """nova counts a build as an I/O operation on its host until the compute's periodic update
    recounts: back to back, the next VM goes elsewhere; after `settle`, RAM decides again."""
    hosts = [provider("big", ram=32768), provider("small", ram=16384)]
    weighers = (WeigherSetting("RAMWeigher"), WeigherSetting("IoOpsWeigher", -1.0))
    s = Scheduler(from_plan(plan(hosts), weighers=weighers))
    request = s.prepare(request_from_flavor(flavor("m", ram=1024)))
    first = s.schedule(request)
    assert first is not None
    assert s.names[first.provider] == "big"
    assert s.io_ops.tolist() == [1, 0]
    # big: RAM 31 of 31 (1.0) - I/O 1 of 1 (1.0) = 0; small: 15/31 - 0: small wins
    second = s.schedule(request)
    assert second is not None
    assert s.names[second.provider] == "small"
    s.release(second)  # a build deleted before the update takes its I/O back
    assert s.io_ops.tolist() == [1, 0]
    s.settle()
    assert s.io_ops.tolist() == [0, 0]
    third = s.schedule(request)
    assert third is not None
    assert s.names[third.provider] == "big"
    s.settle()
    s.release(first)  # built before the update: nothing in flight to take back
    assert s.io_ops.tolist() == [0, 0]
    assert s.weights[1].tolist() == s.raw_weights(1) == [0.0, 0.0]


def test_disk_weigher_spreads_by_free_disk_and_counts_each_flavors_disk() -> None:
    hosts = [provider("small", disk=100), provider("big", disk=130)]
    s = Scheduler(from_plan(plan(hosts), weighers=only("DiskWeigher")))
    assert chosen(s, flavor("d", disk=20)) == "big"  # 130 GB free against 100
    assert chosen(s, flavor("d", disk=20)) == "big"  # 110 against 100
    assert chosen(s, flavor("d", disk=20)) == "small"  # 90 against 100
    assert s.weights[0].tolist() == [80 * 1024.0, 90 * 1024.0]


def test_unknown_weigher_is_an_error() -> None:
    with pytest.raises(InputError, match="unknown weigher"):
        Scheduler(from_plan(plan([provider("h")]), weighers=only("NoSuchWeigher")))


def test_host_subset_size_is_seeded() -> None:
    hosts = [provider(f"h{i}") for i in range(6)]

    def picks(seed: int) -> list[str]:
        s = Scheduler(from_plan(plan(hosts), host_subset_size=3), seed=seed)
        return [chosen(s, flavor("m")) for _ in range(12)]

    assert picks(7) == picks(7)
    assert len(set(picks(7))) > 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=1, max_size=60))
def test_cached_candidates_and_weights_match_a_full_recomputation(
    steps: list[tuple[int, bool]],
) -> None:
    hosts = [provider(f"h{i}", vcpu=4 + i, ram=8192, gpus=i % 2) for i in range(5)]
    s = Scheduler(from_plan(plan(hosts)))
    kinds = [
        s.prepare(request_from_flavor(flavor("a", vcpus=1, ram=1024))),
        s.prepare(request_from_flavor(flavor("b", vcpus=3, ram=2048))),
        s.prepare(request_from_flavor(flavor("g", vcpus=1, pci_passthrough__alias="gpu:1"))),
        s.prepare(request_from_flavor(flavor("c", vcpus=2, ram=4096))),
    ]
    live = []
    for kind, release in steps:
        if release and live:
            s.release(live.pop(0))
        claim = s.schedule(kinds[kind])
        if claim is not None:
            live.append(claim)
        for k in kinds:
            assert list(s.candidates(k)) == list(s._full_mask(k).nonzero()[0])
        for row in range(len(s.weighers)):
            assert s.weights[row].tolist() == s.raw_weights(row)
