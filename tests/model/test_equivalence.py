"""The contract between the rules and the fast engine: they decide alike.

`tests.model.reference.Reference` applies the rules of `gpuslice.model.rules` host by host and
recomputes everything for every decision; the engine (`Scheduler`) compiles the same rules
into masks, key columns and weight deltas, groups hosts and catches up incrementally. On
randomized fleets and workloads (claims, releases, nova's periodic update) both must choose the
same host every time, and the engine's kept weights must be each weigher's raw values.
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
from gpuslice.plan.types import Aggregate, Inventory, Provider
from tests.model.builders import flavor, plan, provider
from tests.model.reference import Placed, Reference

MULTIPLIERS = st.sampled_from([1.0, 2.0, 0.5, -1.0, 0.0])


def reference_pick(scheduler: Scheduler, request: Prepared) -> int | None:
    """The host the rules choose for `request` in the engine's current state, or None.

    Rebuilds a `Reference` from the engine's model and replays nothing: it reads the engine's
    free amounts and host states, so it checks one decision, not a history.
    """
    reference = Reference(scheduler.model)
    reference.weighers = list(zip(scheduler.weighers, scheduler.multipliers, strict=True))
    for j in range(len(scheduler.names)):
        reference.free[j] = {
            rc: scheduler.free_of(scheduler.names[j], rc) for rc in reference.free[j]
        }
        reference.pci[j] = {
            key: int(scheduler.pci_free[scheduler.pool_keys.index(key), j])
            for key in reference.pci[j]
        }
        state = scheduler.host_state(j)
        reference.states[j].ram_used = state.ram_used
        reference.states[j].vcpus_used = state.vcpus_used
        reference.states[j].disk_used = state.disk_used
        reference.states[j].pci_free_total = state.pci_free_total
        reference.states[j].io_ops = state.io_ops
    return reference.pick(request.spec)


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


steps_with_settles = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 2), st.booleans()), min_size=1, max_size=80
)


@settings(max_examples=150, deadline=None)
@given(
    host_specs,
    flavor_specs,
    steps_with_settles,
    st.tuples(MULTIPLIERS, MULTIPLIERS, MULTIPLIERS, MULTIPLIERS, MULTIPLIERS),
    st.booleans(),
    st.booleans(),
)
def test_the_engine_decides_as_the_rules_do(
    hosts: list[tuple[int, int, int, bool, bool]],
    flavors: list[tuple[int, int, int, str]],
    steps: list[tuple[int, int, bool]],
    multipliers: tuple[float, float, float, float, float],
    isolated: bool,
    settled: bool,
) -> None:
    """Same picks as the reference, step by step: claims, releases (of the middle VM), and
    nova's periodic update where the step says so; I/O in flight counted alike."""
    providers = providers_of(hosts)
    names = ("RAMWeigher", "CPUWeigher", "PCIWeigher", "DiskWeigher", "IoOpsWeigher")
    weighers = tuple(WeigherSetting(n, m) for n, m in zip(names, multipliers, strict=True))
    fast_hosts = tuple(p.name for p in providers if "CUSTOM_FAST" in p.traits)
    aggregates = [Aggregate("fast", {"trait:CUSTOM_FAST": "required"}, fast_hosts)]
    model = from_plan(plan(providers, aggregates=aggregates, isolated=isolated), weighers=weighers)
    scheduler = Scheduler(model, seed=3, settled=settled)
    reference = Reference(model, settled=settled)
    kinds = prepare_kinds(scheduler, flavors, with_traits=True)
    live: list[tuple[Claim, Placed]] = []
    for kind, releases, settle in steps:
        for _ in range(min(releases, len(live))):
            held, placed = live.pop(len(live) // 2)
            scheduler.release(held)
            reference.release(placed)
        if settle:
            scheduler.settle()
            reference.settle()
        request = kinds[kind % len(kinds)]
        expected = reference.schedule(request.spec)
        claim = scheduler.schedule(request)
        assert (None if claim is None else claim.provider) == (
            None if expected is None else expected.host
        )
        if claim is not None and expected is not None:
            live.append((claim, expected))
        assert scheduler.io_ops.tolist() == [s.io_ops for s in reference.states]
        # the weights the engine keeps are each weigher's raw values recomputed
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
