"""Every strategy on every release from Newton to 2026.2 uses the release's option names."""

from __future__ import annotations

import pytest

from gpuslice.errors import InputError
from gpuslice.plan import choose_strategy, make_plan
from gpuslice.plan.types import NOVA_CONF
from gpuslice.releases import RELEASE_NAMES, Release
from tests.core.fleets import lab_fleet

STRATEGIES = ("none", "weigher", "dedicated", "split", "placement")


@pytest.mark.parametrize("number", sorted(RELEASE_NAMES))
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_options_follow_the_release_table(number: int, strategy: str) -> None:
    release = Release(number)
    try:
        plan = make_plan(lab_fleet(number), strategy)
    except InputError:
        works = {
            "none": True,
            "weigher": release.has("pci_weigher"),
            "dedicated": True,
            "split": not release.has("placement_mandatory"),
            "placement": release.has("provider_yaml"),
        }
        assert not works[strategy], f"{strategy} refused on {release}"
        return
    spec = release.fact("passthrough_spec")
    alias = release.fact("pci_alias")
    filters = release.fact("scheduler_filters")
    computes = [o for o in plan.node("hyper18").options if o.path.startswith("etc/nova/")]
    controllers = [o for o in plan.node("ctl1").options if o.path == NOVA_CONF]
    assert any((o.section, o.name) == spec for o in computes)
    assert any((o.section, o.name) == alias for o in computes)
    assert any((o.section, o.name) == alias for o in controllers)
    (filter_option,) = [o for o in controllers if (o.section, o.name) == filters]
    assert "PciPassthroughFilter" in str(filter_option.value).split(",")
    old_names = {
        ("DEFAULT", "pci_passthrough_whitelist"),
        ("pci", "passthrough_whitelist"),
        ("pci", "device_spec"),
        ("DEFAULT", "pci_alias"),
        ("pci", "alias"),
    }
    for o in computes + controllers:
        if (o.section, o.name) in old_names:
            assert (o.section, o.name) in (spec, alias), f"{o.name} on {release}"
    if not release.has("reserved_host_cpus"):
        assert all(o.name != "reserved_host_cpus" for o in computes)


@pytest.mark.parametrize("number", sorted(RELEASE_NAMES))
def test_auto_always_keeps_the_promise(number: int) -> None:
    fleet = lab_fleet(number)
    plan = make_plan(fleet)
    assert plan.strategy == choose_strategy(fleet)
    assert plan.promise == "holds"


def test_weigher_before_pike_is_refused() -> None:
    with pytest.raises(InputError, match="PCIWeigher"):
        make_plan(lab_fleet(15), "weigher")


def test_dedicated_uses_isolated_aggregates_from_train() -> None:
    train = make_plan(lab_fleet(20), "dedicated")
    assert train.scheduler.isolated_aggregates
    assert train.cloud.aggregates[0].metadata["trait:CUSTOM_GPU_HOST"] == "required"
    assert train.cloud.flavors[0].extra_specs["trait:CUSTOM_GPU_HOST"] == "required"
    assert train.cloud.provider_traits == {
        "hyper18": ("CUSTOM_GPU_HOST",),
        "hyper16": ("CUSTOM_GPU_HOST",),
    }
    stein = make_plan(lab_fleet(19), "dedicated")
    assert not stein.scheduler.isolated_aggregates
    assert "AggregateTypeAffinityFilter" in stein.scheduler.filters
    assert stein.cloud.aggregates[0].metadata["instance_type"] == "g1.gpu"
