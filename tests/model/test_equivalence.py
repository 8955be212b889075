"""The scheduler's fast paths decide as a plain, host-by-host reading of nova's rules does.

The reference below recomputes everything for every decision: candidates are the hosts that
`explain` does not remove; each weigher's raw values are clamped at its minval, normalised
between the minval (or the candidates' lowest value) and the candidates' highest value,
multiplied and summed term by term; the highest sum wins and ties go to fleet order.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from gpuslice.model import (
    Claim,
    Prepared,
    Scheduler,
    WeigherSetting,
    from_plan,
    request_from_flavor,
)
from gpuslice.plan.types import Inventory, Provider
from tests.model.builders import flavor, plan, provider

MULTIPLIERS = st.sampled_from([1.0, 2.0, 0.5, -1.0, 0.0])


def reference_pick(scheduler: Scheduler, request: Prepared) -> int | None:
    """The host nova's rules choose for `request` now (host_subset_size 1), or None."""
    removed = {r.host for r in scheduler.explain(request)}
    hosts = [j for j, name in enumerate(scheduler.names) if name not in removed]
    if not hosts:
        return None
    totals = [0.0] * len(hosts)
    for weigher, multiplier in zip(scheduler.weighers, scheduler._mult_list, strict=True):
        raw = scheduler.raw_weights(scheduler.weighers.index(weigher))
        values = [raw[j] for j in hosts]
        if weigher.minval is not None:
            values = [max(v, weigher.minval) for v in values]
            low = weigher.minval
        else:
            low = min(values)
        high = max(values)
        coef = multiplier / (high - low) if high > low else 0.0
        for i, v in enumerate(values):
            totals[i] += coef * v
    best = max(totals)
    return hosts[totals.index(best)]


def prepare_kinds(
    scheduler: Scheduler, flavors: list[tuple[int, int, int, str]], *, with_traits: bool
) -> list[Prepared]:
    """One prepared request per drawn flavor: vCPUs, RAM, GPUs (alias count) and, when
    `with_traits`, a CUSTOM_FAST trait requirement."""
    kinds = []
    for i, (v, r, g, trait) in enumerate(flavors):
        specs = {}
        if g:
            specs["pci_passthrough__alias"] = f"gpu:{g}"
        if trait and with_traits:
            specs["trait__CUSTOM_FAST"] = trait
        kinds.append(scheduler.prepare(request_from_flavor(flavor(f"f{i}", v, r, 10, **specs))))
    return kinds


def providers_of(hosts: list[tuple[int, int, int, bool, bool]]) -> list[Provider]:
    return [
        provider(
            f"h{i}",
            vcpu=v,
            ram=r,
            disk=20 * v,  # hosts differ in free disk too (DiskWeigher)
            gpus=g,
            traits=["CUSTOM_FAST"] if fast else [],
            extra={"MEMORY_MB": Inventory(r, allocation_ratio=1.5)} if over else None,
        )
        for i, (v, r, g, fast, over) in enumerate(hosts)
    ]


def replay(
    scheduler: Scheduler,
    kinds: list[Prepared],
    steps: list[tuple[int, int]],
    *,
    after_each: Callable[[Scheduler], None] | None = None,
) -> list[int | None]:
    """Each step releases up to `releases` of the oldest VMs, then schedules kind `kind`.

    Returns the host of every decision (None: refused); `after_each` runs after each one.
    """
    live: list[Claim] = []
    picks: list[int | None] = []
    for kind, releases in steps:
        for _ in range(min(releases, len(live))):
            scheduler.release(live.pop(0))
        claim = scheduler.schedule(kinds[kind % len(kinds)])
        picks.append(None if claim is None else claim.provider)
        if after_each is not None:
            after_each(scheduler)
        if claim is not None:
            live.append(claim)
    return picks


def hosts_sit_in_their_groups(scheduler: Scheduler) -> None:
    """Every host is in the group of its state, and that group is the one listed by key."""
    grouping = scheduler._grouping
    for j in range(len(scheduler.names)):
        assert grouping.group_of[j].key == scheduler._key(j)
        assert grouping.groups[scheduler._key(j)] is grouping.group_of[j]


host_specs = st.lists(
    st.tuples(
        st.integers(2, 12),  # vCPUs
        st.sampled_from([2048, 4096, 8192]),  # RAM
        st.integers(0, 2),  # GPUs
        st.booleans(),  # trait CUSTOM_FAST
        st.booleans(),  # RAM overcommitted 1.5x: free RAM can go below 0 (RAMWeigher's minval)
    ),
    min_size=1,
    max_size=7,
)
flavor_specs = st.lists(
    st.tuples(
        st.integers(1, 4),  # vCPUs
        st.sampled_from([512, 1024, 2048]),  # RAM
        st.integers(0, 2),  # GPUs
        st.sampled_from(["", "required", "forbidden"]),  # trait CUSTOM_FAST
    ),
    min_size=1,
    max_size=4,
)
steps_spec = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2)), min_size=1, max_size=80)


@settings(max_examples=150, deadline=None)
@given(host_specs, flavor_specs, steps_spec, MULTIPLIERS, MULTIPLIERS, MULTIPLIERS, MULTIPLIERS)
def test_decisions_match_the_reference(
    hosts: list[tuple[int, int, int, bool, bool]],
    flavors: list[tuple[int, int, int, str]],
    steps: list[tuple[int, int]],
    ram_multiplier: float,
    cpu_multiplier: float,
    pci_multiplier: float,
    disk_multiplier: float,
) -> None:
    providers = providers_of(hosts)
    weighers = (
        WeigherSetting("RAMWeigher", ram_multiplier),
        WeigherSetting("CPUWeigher", cpu_multiplier),
        WeigherSetting("PCIWeigher", pci_multiplier),
        WeigherSetting("DiskWeigher", disk_multiplier),
    )
    scheduler = Scheduler(from_plan(plan(providers), weighers=weighers), seed=3)
    kinds = prepare_kinds(scheduler, flavors, with_traits=True)
    live: list[Claim] = []
    for kind, releases in steps:
        for _ in range(min(releases, len(live))):
            scheduler.release(live.pop(len(live) // 2))
        request = kinds[kind % len(kinds)]
        expected = reference_pick(scheduler, request)
        claim = scheduler.schedule(request)
        assert (None if claim is None else claim.provider) == expected
        if claim is not None:
            live.append(claim)
        # the weights the fast path keeps are each weigher's raw values recomputed
        for k in range(len(scheduler.weighers)):
            assert scheduler.weights[k].tolist() == scheduler.raw_weights(k)


@settings(max_examples=60, deadline=None)
@given(host_specs, flavor_specs, steps_spec)
def test_group_path_and_host_path_agree(
    hosts: list[tuple[int, int, int, bool, bool]],
    flavors: list[tuple[int, int, int, str]],
    steps: list[tuple[int, int]],
) -> None:
    """The grouped path and the per-host numpy path (`_pick`) choose the same hosts."""
    providers = providers_of(hosts)
    runs = []
    for grouped in (True, False):
        scheduler = Scheduler(from_plan(plan(providers)), seed=5)
        scheduler._grouped = grouped
        kinds = prepare_kinds(scheduler, flavors, with_traits=False)
        check = hosts_sit_in_their_groups if grouped else None
        runs.append(replay(scheduler, kinds, steps, after_each=check))
    assert runs[0] == runs[1]


def test_weights_below_minval_are_clamped_on_both_paths() -> None:
    """Free RAM below RAMWeigher's minval (RAM overcommitted) weighs as the minval itself."""
    overcommitted = {"MEMORY_MB": Inventory(2048, allocation_ratio=1.5)}
    providers = [
        provider("h0", ram=2048, extra=overcommitted),
        provider("h1", ram=2048, extra=overcommitted, traits=["CUSTOM_X"]),
        provider("h2", ram=2048, traits=["CUSTOM_Z"]),
    ]
    stack = (WeigherSetting("RAMWeigher", -1.0),)
    picks = []
    for grouped in (True, False):
        scheduler = Scheduler(from_plan(plan(providers), weighers=stack))
        scheduler._grouped = grouped
        on_h0 = scheduler.prepare(
            request_from_flavor(
                flavor("y", 1, 512, 1, trait__CUSTOM_X="forbidden", trait__CUSTOM_Z="forbidden")
            )
        )
        on_h1 = scheduler.prepare(
            request_from_flavor(flavor("x", 1, 512, 1, trait__CUSTOM_X="required"))
        )
        for request, count in ((on_h0, 4), (on_h1, 5)):
            for _ in range(count):
                assert scheduler.schedule(request) is not None
        # free RAM now 0 on h0, -512 on h1 and 2048 on h2: h0 and h1 both weigh as 0 (the
        # least free, so the best when stacking), a tie that fleet order breaks
        anywhere = scheduler.prepare(request_from_flavor(flavor("m", 1, 512, 1)))
        assert reference_pick(scheduler, anywhere) == 0
        claim = scheduler.schedule(anywhere)
        assert claim is not None
        picks.append(claim.provider)
    assert picks == [0, 0]


@settings(max_examples=40, deadline=None)
@given(host_specs, flavor_specs, steps_spec)
def test_lazy_hosts_match_eager_hosts(
    hosts: list[tuple[int, int, int, bool, bool]],
    flavors: list[tuple[int, int, int, str]],
    steps: list[tuple[int, int]],
) -> None:
    """Claims that move hosts by cached group transitions leave the same state as host lists."""
    providers = providers_of(hosts)
    runs = []
    for lazy in (True, False):
        scheduler = Scheduler(from_plan(plan(providers)), seed=5)
        scheduler._lazy = lazy
        kinds = prepare_kinds(scheduler, flavors, with_traits=False)
        picks = replay(scheduler, kinds, steps)
        keys = [scheduler._grouping.group_of[j].key for j in range(len(providers))]
        assert keys == [scheduler._key(j) for j in range(len(providers))]
        views = [
            scheduler.free.tolist(),
            scheduler.pci_free.tolist(),
            scheduler.pci_free_total.tolist(),
            scheduler.weights.tolist(),
            scheduler.ram_used.tolist(),
            scheduler.vcpus_used.tolist(),
        ]
        runs.append((picks, keys, views))
    assert runs[0] == runs[1]
