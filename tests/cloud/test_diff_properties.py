"""Properties of the diff: applied, it leaves nothing to do, and what gpuslice does not own stays.

The changes are applied to the snapshot by a small model of what each API call does (below), so
the rule is checked for any cloud and any plan hypothesis draws, not only for hand-made cases.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from gpuslice.cloud.diff import (
    FLAVOR_DESCRIPTION,
    AddAggregateHost,
    AddFlavorAccess,
    AddProviderTraits,
    Change,
    CreateAggregate,
    CreateFlavor,
    CreateResourceClass,
    CreateTrait,
    DeleteFlavor,
    RemoveAggregateHost,
    RemoveFlavorAccess,
    SetAggregateMetadata,
    SetFlavorSpecs,
    diff,
)
from gpuslice.cloud.state import (
    OWNER_KEY,
    CloudSnapshot,
    LiveAggregate,
    LiveFlavor,
    LiveHypervisor,
    LiveProvider,
)
from gpuslice.plan.types import Aggregate, CloudObjects, Flavor

HOSTS = ["h1", "h2", "h3"]  # h3 runs no nova-compute: a conflict whenever a plan names it
KNOWN = ["h1", "h2"]
TRAITS = ["CUSTOM_GPU_HOST", "CUSTOM_A", "COMPUTE_X"]
small = st.integers(min_value=1, max_value=3)
meta = st.dictionaries(
    st.sampled_from(["gpu", "team", "availability_zone"]), st.sampled_from(["1", "2"]), max_size=3
)
specs = st.dictionaries(
    st.sampled_from(["a", "b", "pci_passthrough:alias"]), st.sampled_from(["1", "2"]), max_size=3
)
hosts = st.lists(st.sampled_from(HOSTS), unique=True, max_size=3).map(tuple)
projects = st.lists(st.sampled_from(["p1", "p2"]), unique=True, max_size=2).map(tuple)

desired_aggregates = st.lists(
    st.builds(
        Aggregate,
        st.sampled_from(["gpu", "gpu2", "ml"]),
        meta.map(lambda m: {k: v for k, v in m.items() if k != "availability_zone"}),
        hosts,
    ),
    unique_by=lambda a: a.name,
    max_size=3,
)
desired_flavors = st.lists(
    st.builds(
        Flavor,
        st.sampled_from(["g1", "g2", "m1"]),
        small,
        small,
        small,
        st.booleans(),
        specs,
        projects,
    ),
    unique_by=lambda f: f.name,
    max_size=3,
)
desired = st.builds(
    CloudObjects,
    resource_classes=st.lists(st.sampled_from(["CUSTOM_GPU_VCPU", "CUSTOM_B"]), unique=True).map(
        tuple
    ),
    traits=st.lists(st.sampled_from(["CUSTOM_GPU_HOST", "CUSTOM_A"]), unique=True).map(tuple),
    aggregates=desired_aggregates.map(tuple),
    flavors=desired_flavors.map(tuple),
    provider_traits=st.dictionaries(
        st.sampled_from(KNOWN),
        st.lists(st.sampled_from(TRAITS), unique=True, min_size=1).map(tuple),
        max_size=2,
    ),
)


@st.composite
def live_aggregate(draw: st.DrawFn, name: str) -> LiveAggregate:
    metadata = draw(meta)
    if draw(st.booleans()):
        metadata = {**metadata, OWNER_KEY: "true"}
    return LiveAggregate(
        f"id-{name}", name, metadata, draw(st.lists(st.sampled_from(KNOWN), unique=True).map(tuple))
    )


@st.composite
def live_flavor(draw: st.DrawFn, name: str) -> LiveFlavor:
    public = draw(st.booleans())
    return LiveFlavor(
        f"id-{name}",
        name,
        draw(small),
        draw(small),
        draw(small),
        public,
        draw(specs),
        draw(st.sampled_from([FLAVOR_DESCRIPTION, "someone else's", None])),
        None if public else draw(projects),
    )


@st.composite
def snapshots(draw: st.DrawFn) -> CloudSnapshot:
    aggregate_names = draw(st.lists(st.sampled_from(["gpu", "gpu2", "ml"]), unique=True))
    flavor_names = draw(st.lists(st.sampled_from(["g1", "g2", "m1"]), unique=True))
    return CloudSnapshot(
        resource_classes=frozenset(draw(st.lists(st.sampled_from(["CUSTOM_GPU_VCPU", "VCPU"])))),
        traits=frozenset(draw(st.lists(st.sampled_from(["CUSTOM_GPU_HOST", "CUSTOM_A"])))),
        providers=tuple(
            LiveProvider(
                f"u-{h}",
                h,
                1,
                f"u-{h}",
                traits=tuple(draw(st.lists(st.sampled_from(TRAITS), unique=True))),
            )
            for h in KNOWN
        ),
        hypervisors=tuple(LiveHypervisor(h, h) for h in KNOWN),
        aggregates=tuple(draw(live_aggregate(n)) for n in aggregate_names),
        flavors=tuple(draw(live_flavor(n)) for n in flavor_names),
    )


def simulate(snapshot: CloudSnapshot, changes: tuple[Change, ...]) -> CloudSnapshot:
    """What the cloud holds after nova and Placement performed `changes` (a model of each call)."""
    rcs, traits = set(snapshot.resource_classes), set(snapshot.traits)
    providers = {p.name: p for p in snapshot.providers}
    aggregates = {a.name: a for a in snapshot.aggregates}
    flavors = {f.name: f for f in snapshot.flavors}
    for change in changes:
        if isinstance(change, CreateResourceClass):
            rcs.add(change.name)
        elif isinstance(change, CreateTrait):
            traits.add(change.name)
        elif isinstance(change, AddProviderTraits):
            p = providers[change.provider]
            providers[p.name] = replace(p, traits=tuple(sorted({*p.traits, *change.traits})))
        elif isinstance(change, CreateAggregate):
            assert change.name not in aggregates
            aggregates[change.name] = LiveAggregate(f"new-{change.name}", change.name, {}, ())
        elif isinstance(change, SetAggregateMetadata):
            a = aggregates[change.aggregate]
            metadata = {**a.metadata, **change.set}
            for key in change.unset:
                metadata.pop(key)
            aggregates[a.name] = replace(a, metadata=metadata)
        elif isinstance(change, AddAggregateHost):
            a = aggregates[change.aggregate]
            assert change.host not in a.hosts
            aggregates[a.name] = replace(a, hosts=(*a.hosts, change.host))
        elif isinstance(change, RemoveAggregateHost):
            a = aggregates[change.aggregate]
            aggregates[a.name] = replace(a, hosts=tuple(h for h in a.hosts if h != change.host))
        elif isinstance(change, CreateFlavor):
            f = change.flavor
            assert f.name not in flavors
            flavors[f.name] = LiveFlavor(
                "new",
                f.name,
                f.vcpus,
                f.ram,
                f.disk,
                f.is_public,
                {},
                FLAVOR_DESCRIPTION,
                None if f.is_public else (),
            )
        elif isinstance(change, DeleteFlavor):
            del flavors[change.name]
        elif isinstance(change, SetFlavorSpecs):
            f = flavors[change.flavor]
            extra = {**f.extra_specs, **change.set}
            for key in change.unset:
                extra.pop(key)
            flavors[f.name] = replace(f, extra_specs=extra)
        elif isinstance(change, AddFlavorAccess):
            f = flavors[change.flavor]
            flavors[f.name] = replace(f, projects=(*(f.projects or ()), change.project))
        elif isinstance(change, RemoveFlavorAccess):
            f = flavors[change.flavor]
            kept = tuple(p for p in f.projects or () if p != change.project)
            flavors[f.name] = replace(f, projects=kept)
        else:  # pragma: no cover
            raise AssertionError(change)
    return replace(
        snapshot,
        resource_classes=frozenset(rcs),
        traits=frozenset(traits),
        providers=tuple(providers.values()),
        aggregates=tuple(aggregates.values()),
        flavors=tuple(flavors.values()),
    )


@settings(max_examples=150, deadline=None)
@given(want=desired, before=snapshots())
def test_after_the_changes_a_second_run_has_nothing_to_do(
    want: CloudObjects, before: CloudSnapshot
) -> None:
    first = diff(want, before)
    after = simulate(before, first.changes)
    second = diff(want, after)
    assert second.changes == ()
    assert {c.subject for c in second.conflicts} == {c.subject for c in first.conflicts}


@settings(max_examples=150, deadline=None)
@given(want=desired, before=snapshots())
def test_what_gpuslice_does_not_own_is_never_changed(
    want: CloudObjects, before: CloudSnapshot
) -> None:
    after = simulate(before, diff(want, before).changes)
    for flavor in before.flavors:
        if not flavor.owned:
            assert after.flavor(flavor.name) == flavor
    for aggregate in before.aggregates:
        adoptable = not aggregate.hosts and set(aggregate.metadata) <= {"availability_zone"}
        if not aggregate.owned and not adoptable:
            assert after.aggregate(aggregate.name) == aggregate
    for provider in before.providers:
        kept = after.provider(provider.name)
        assert kept is not None
        assert set(provider.traits) <= set(kept.traits)


@settings(max_examples=150, deadline=None)
@given(want=desired, before=snapshots())
def test_after_the_changes_the_cloud_holds_the_plan(
    want: CloudObjects, before: CloudSnapshot
) -> None:
    result = diff(want, before)
    after = simulate(before, result.changes)
    blocked = {c.subject for c in result.conflicts}
    assert set(want.resource_classes) <= after.resource_classes
    assert set(want.traits) <= after.traits
    for name, traits in want.provider_traits.items():
        provider = after.provider(name)
        assert provider is not None
        assert set(traits) <= set(provider.traits)
    for aggregate in want.aggregates:
        if f"aggregate {aggregate.name}" in blocked:
            continue
        live = after.aggregate(aggregate.name)
        assert live is not None
        assert live.owned
        assert set(live.hosts) == set(aggregate.hosts) & set(KNOWN)
        without_az = {k: v for k, v in live.metadata.items() if k != "availability_zone"}
        assert without_az == {**aggregate.metadata, OWNER_KEY: "true"}
    for flavor in want.flavors:
        if f"flavor {flavor.name}" in blocked:
            continue
        made = after.flavor(flavor.name)
        assert made is not None
        assert made.owned
        assert (made.vcpus, made.ram, made.disk, made.is_public) == (
            flavor.vcpus,
            flavor.ram,
            flavor.disk,
            flavor.is_public,
        )
        assert made.extra_specs == flavor.extra_specs
        if not flavor.is_public:
            assert set(made.projects or ()) == set(flavor.projects)
