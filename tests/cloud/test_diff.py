"""The diff between the plan's cloud objects and a live snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuslice.cloud.diff import (
    AddAggregateHost,
    AddFlavorAccess,
    AddProviderTraits,
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
from gpuslice.cloud.objects import load_desired
from gpuslice.cloud.state import (
    CloudSnapshot,
    LiveAggregate,
    LiveFlavor,
    LiveHypervisor,
    LiveProvider,
)
from gpuslice.plan.types import CloudObjects
from tests.cloud.live_specs import GPU_SPECS

DATA = Path(__file__).parent / "data"
K40C = "CUSTOM_GPU_K40C"


@pytest.fixture
def desired() -> CloudObjects:
    return load_desired(DATA / "cloud-objects.json").cloud


def _hypervisors(*names: str) -> tuple[LiveHypervisor, ...]:
    return tuple(LiveHypervisor(n, n) for n in names)


def _providers(*names: str) -> tuple[LiveProvider, ...]:
    return tuple(LiveProvider(f"uuid-{n}", n, 1, f"uuid-{n}") for n in names)


def _holding(desired: CloudObjects) -> CloudSnapshot:
    """A cloud where everything of `desired` already exists, made by gpuslice."""
    return CloudSnapshot(
        resource_classes=frozenset(desired.resource_classes),
        traits=frozenset(desired.traits),
        providers=tuple(
            LiveProvider(
                f"uuid-{n}", n, 1, f"uuid-{n}", traits=("CUSTOM_GPU_HOST", "CUSTOM_GPU_K40C")
            )
            for n in ("hyper18", "hyper16")
        ),
        hypervisors=_hypervisors("hyper18", "hyper16", "hyper20"),
        aggregates=(
            LiveAggregate(
                "1", "gpu", {"gpu": "true", "gpuslice:managed": "true"}, ("hyper18", "hyper16")
            ),
        ),
        flavors=(
            LiveFlavor(
                "f1", "g1.gpu", 2, 4096, 40, False, GPU_SPECS, "[gpuslice] x", ("gpu-project",)
            ),
        ),
    )


def test_empty_cloud_gets_everything_in_dependency_order(desired: CloudObjects) -> None:
    snapshot = CloudSnapshot(
        hypervisors=_hypervisors("hyper18", "hyper16"), providers=_providers("hyper18", "hyper16")
    )
    result = diff(desired, snapshot)
    assert [type(c) for c in result.changes] == [
        CreateResourceClass,
        CreateResourceClass,
        CreateResourceClass,
        CreateTrait,
        CreateTrait,
        AddProviderTraits,
        AddProviderTraits,
        CreateAggregate,
        SetAggregateMetadata,
        AddAggregateHost,
        AddAggregateHost,
        CreateFlavor,
        SetFlavorSpecs,
        AddFlavorAccess,
    ]
    metadata = result.changes[8]
    assert isinstance(metadata, SetAggregateMetadata)
    assert metadata.set == {"gpu": "true", "gpuslice:managed": "true"}
    assert result.conflicts == ()


def test_a_cloud_that_holds_the_plan_needs_no_change(desired: CloudObjects) -> None:
    result = diff(desired, _holding(desired))
    assert result.empty
    assert result.conflicts == ()


def test_only_what_differs_changes(desired: CloudObjects) -> None:
    holding = _holding(desired)
    specs = {k: v for k, v in GPU_SPECS.items() if k != "pci_passthrough:alias"}
    specs["hw:cpu_policy"] = "shared"
    flavor = LiveFlavor("f1", "g1.gpu", 2, 4096, 40, False, specs, "[gpuslice] x", ("other",))
    aggregate = LiveAggregate(
        "1",
        "gpu",
        {"gpuslice:managed": "true", "stale": "1", "availability_zone": "az1"},
        ("hyper18", "hyper20"),
    )
    snapshot = CloudSnapshot(
        resource_classes=holding.resource_classes,
        traits=holding.traits,
        providers=holding.providers,
        hypervisors=holding.hypervisors,
        aggregates=(aggregate,),
        flavors=(flavor,),
    )
    assert diff(desired, snapshot).changes == (
        SetAggregateMetadata("gpu", {"gpu": "true"}, ("stale",)),
        AddAggregateHost("gpu", "hyper16"),
        RemoveAggregateHost("gpu", "hyper20"),
        SetFlavorSpecs("g1.gpu", {"pci_passthrough:alias": "gpu:1"}, ("hw:cpu_policy",)),
        AddFlavorAccess("g1.gpu", "gpu-project"),
        RemoveFlavorAccess("g1.gpu", "other"),
    )


def test_an_owned_flavor_whose_size_changed_is_recreated(desired: CloudObjects) -> None:
    holding = _holding(desired)
    old = LiveFlavor(
        "f1", "g1.gpu", 4, 4096, 40, False, GPU_SPECS, "[gpuslice] x", ("gpu-project",)
    )
    snapshot = CloudSnapshot(
        resource_classes=holding.resource_classes,
        traits=holding.traits,
        providers=holding.providers,
        hypervisors=holding.hypervisors,
        aggregates=holding.aggregates,
        flavors=(old,),
    )
    changes = diff(desired, snapshot).changes
    assert changes[0] == DeleteFlavor("g1.gpu", "vcpus 4 -> 2")
    assert [type(c) for c in changes[1:]] == [CreateFlavor, SetFlavorSpecs, AddFlavorAccess]


def test_objects_gpuslice_did_not_create_are_conflicts_not_changes(
    desired: CloudObjects,
) -> None:
    holding = _holding(desired)
    theirs_flavor = LiveFlavor("f9", "g1.gpu", 1, 512, 1, True, {}, "the ML team's")
    theirs_aggregate = LiveAggregate("9", "gpu", {"team": "ml"}, ("hyper20",))
    snapshot = CloudSnapshot(
        resource_classes=holding.resource_classes,
        traits=holding.traits,
        providers=holding.providers,
        hypervisors=holding.hypervisors,
        aggregates=(theirs_aggregate,),
        flavors=(theirs_flavor,),
    )
    result = diff(desired, snapshot)
    assert result.empty
    subjects = [c.subject for c in result.conflicts]
    assert subjects == ["aggregate gpu", "flavor g1.gpu"]
    assert "gpuslice:managed=true" in result.conflicts[0].reason


def test_an_empty_unmarked_aggregate_is_adopted(desired: CloudObjects) -> None:
    """What an apply interrupted between creating the aggregate and marking it leaves."""
    holding = _holding(desired)
    snapshot = CloudSnapshot(
        resource_classes=holding.resource_classes,
        traits=holding.traits,
        providers=holding.providers,
        hypervisors=holding.hypervisors,
        aggregates=(LiveAggregate("1", "gpu", {}, ()),),
        flavors=holding.flavors,
    )
    result = diff(desired, snapshot)
    assert result.conflicts == ()
    assert result.changes[0] == SetAggregateMetadata(
        "gpu", {"gpu": "true", "gpuslice:managed": "true"}
    )


def test_unknown_hosts_and_providers_are_conflicts(desired: CloudObjects) -> None:
    snapshot = CloudSnapshot(hypervisors=_hypervisors("hyper18"), providers=_providers("hyper18"))
    result = diff(desired, snapshot)
    subjects = {c.subject for c in result.conflicts}
    assert subjects == {"resource provider hyper16", "host hyper16 in aggregate gpu"}
    assert AddAggregateHost("gpu", "hyper16") not in result.changes


def test_change_texts_read_as_a_diff() -> None:
    assert CreateTrait("CUSTOM_GPU_HOST").text == "+ trait CUSTOM_GPU_HOST"
    assert RemoveAggregateHost("gpu", "h1").text == "- host h1 from aggregate gpu"
    assert SetFlavorSpecs("f", {"a": "1"}, ("b",)).text == "~ flavor f extra specs: a=1, -b"


def test_standard_traits_are_set_on_providers_but_never_created() -> None:
    want = CloudObjects(provider_traits={"hyper18": ("COMPUTE_STATUS_DISABLED", K40C)})
    snapshot = CloudSnapshot(providers=_providers("hyper18"))
    assert diff(want, snapshot).changes == (
        CreateTrait(K40C),
        AddProviderTraits("hyper18", ("COMPUTE_STATUS_DISABLED", K40C)),
    )
