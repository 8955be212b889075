"""Each filter and each Placement rule on its own, then `explain`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from gpuslice.errors import InputError
from gpuslice.model import (
    HostView,
    Scheduler,
    extra_spec_matches,
    from_plan,
    request_from_flavor,
)
from gpuslice.model.request import RequestSpec
from gpuslice.model.rules import FILTERS, Layout, Need, Rule
from gpuslice.model.rules.filters import (
    AggregateInstanceExtraSpecsFilter,
    AggregateTypeAffinityFilter,
    ComputeFilter,
    PciPassthroughFilter,
)
from gpuslice.plan.types import Aggregate, Inventory
from tests.model.builders import K40, flavor, plan, provider


def view(
    agg_metadata: dict[str, str] | None = None, free: int = 0, enabled: bool = True
) -> HostView:
    aggregates = (Aggregate("a", agg_metadata, ("h",)),) if agg_metadata is not None else ()
    model = from_plan(plan([provider("h")], aggregates=aggregates))
    return HostView(replace(model.providers[0], enabled=enabled), {K40: free}, model.aliases)


def spec(**specs: str):  # type: ignore[no-untyped-def]
    return request_from_flavor(flavor("f", **specs))


def test_compute_filter_removes_a_disabled_service() -> None:
    assert ComputeFilter().host_passes(view(), spec())
    assert not ComputeFilter().host_passes(view(enabled=False), spec())


def test_aggregate_instance_extra_specs_only_attracts() -> None:
    f = AggregateInstanceExtraSpecsFilter()
    # a flavor without the key lands anywhere, in the aggregate too
    assert f.host_passes(view({"gpu": "true"}), spec())
    assert f.host_passes(view({"gpu": "true"}), spec(aggregate_instance_extra_specs__gpu="true"))
    assert f.host_passes(view({"gpu": "true"}), spec(gpu="true"))
    assert not f.host_passes(view({"gpu": "false"}), spec(gpu="true"))
    assert not f.host_passes(view(None), spec(gpu="true"))
    assert "gpu=true" in f.reason(view(None), spec(gpu="true"))


@pytest.mark.parametrize(
    ("value", "requirement", "expected"),
    [
        ("true", "true", True),
        ("true", "false", False),
        ("abc", "<in> b", True),
        ("abc", "<in> x", False),
        ("b", "<or> a <or> b", True),
        ("8", ">= 4", True),
        ("2", ">= 4", False),
        ("x", "s== x", True),
        ("x", "s!= x", False),
    ],
)
def test_extra_spec_operators(value: str, requirement: str, expected: bool) -> None:
    assert extra_spec_matches(value, requirement) is expected


def test_aggregate_type_affinity_admits_only_listed_flavors() -> None:
    f = AggregateTypeAffinityFilter()
    gpu_only = view({"instance_type": "g1.gpu, g2.gpu"})
    assert f.host_passes(gpu_only, request_from_flavor(flavor("g2.gpu")))
    assert not f.host_passes(gpu_only, request_from_flavor(flavor("m1.small")))
    assert f.host_passes(view({"other": "x"}), request_from_flavor(flavor("m1.small")))


def test_pci_passthrough_needs_free_devices_of_the_alias() -> None:
    f = PciPassthroughFilter()
    asks = spec(pci_passthrough__alias="gpu:2")
    assert f.dynamic_reason(view(free=2), asks) is None
    assert f.dynamic_reason(view(free=0), spec()) is None
    assert f.dynamic_reason(view(free=1), asks) == "alias gpu: 1 free, 2 asked"
    # compiled: the free devices of the alias's pool must reach 2
    s = Scheduler(from_plan(plan([provider("h", gpus=2)])))
    (column, amount), *rest = f.needs(asks, s) or ((0, 0),)
    assert (column, amount, rest) == (s.pool_column("gpu"), 2, [])
    assert f.fits([0] * column + [2], ((column, 2),))
    assert not f.fits([0] * column + [1], ((column, 2),))


def test_unknown_filter_is_a_loud_error() -> None:
    with pytest.raises(InputError, match="unknown scheduler filter 'NoSuchFilter'"):
        from_plan(plan([provider("h")], filters=("NoSuchFilter",)))


def names(scheduler: Scheduler, f) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        scheduler.names[j] for j in scheduler.candidates(scheduler.prepare(request_from_flavor(f)))
    ]


def fill(scheduler: Scheduler, f) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Boot `f` until nothing fits; count VMs per host."""
    request = scheduler.prepare(request_from_flavor(f))
    counts: dict[str, int] = {}
    while (claim := scheduler.schedule(request)) is not None:
        name = scheduler.names[claim.provider]
        counts[name] = counts.get(name, 0) + 1
    return counts


def test_placement_capacity_counts_reserved_and_ratio() -> None:
    over = provider("over", extra={"VCPU": Inventory(4, allocation_ratio=4.0)})
    reserved = provider("reserved", ram=8192, reserved_ram=4096)
    s = Scheduler(from_plan(plan([over, reserved])))
    # max_unit defaults to the total: one VM may not take more than 4 of 4 physical vCPUs
    assert names(s, flavor("big", vcpus=5, ram=1024)) == ["reserved"]
    assert names(s, flavor("mem", vcpus=1, ram=6000)) == ["over"]
    # (4 - 0) x 4.0 = 16 vCPUs on over; (8192 - 4096) MiB RAM on reserved
    assert fill(s, flavor("one", vcpus=1, ram=1024, disk=0)) == {"over": 16, "reserved": 4}


def test_placement_units_and_steps() -> None:
    stepped = provider(
        "stepped",
        extra={"MEMORY_MB": Inventory(16384, min_unit=1024, max_unit=8192, step_size=1024)},
    )
    s = Scheduler(from_plan(plan([stepped, provider("plain")])))
    assert names(s, flavor("odd", ram=1500)) == ["plain"]
    assert names(s, flavor("small", ram=512)) == ["plain"]
    assert names(s, flavor("huge", ram=9216)) == ["plain"]
    assert names(s, flavor("ok", ram=2048)) == ["stepped", "plain"]


def test_required_and_forbidden_traits() -> None:
    s = Scheduler(from_plan(plan([provider("gpu", traits=["CUSTOM_GPU_HOST"]), provider("plain")])))
    assert names(s, flavor("r", trait__CUSTOM_GPU_HOST="required")) == ["gpu"]
    assert names(s, flavor("f", trait__CUSTOM_GPU_HOST="forbidden")) == ["plain"]


def test_isolated_aggregates_keep_other_flavors_out() -> None:
    aggregate = Aggregate("gpu", {"trait:CUSTOM_GPU_HOST": "required"}, ("gpu",))
    providers = [provider("gpu", traits=["CUSTOM_GPU_HOST"]), provider("plain")]
    isolated = Scheduler(from_plan(plan(providers, aggregates=[aggregate], isolated=True)))
    open_ = Scheduler(from_plan(plan(providers, aggregates=[aggregate], isolated=False)))
    assert names(isolated, flavor("m1")) == ["plain"]
    assert names(open_, flavor("m1")) == ["gpu", "plain"]
    assert names(isolated, flavor("g", trait__CUSTOM_GPU_HOST="required")) == ["gpu"]


def test_explain_names_the_stage_that_removed_each_host() -> None:
    aggregate = Aggregate("gpu", {"instance_type": "g1.gpu"}, ("hyper18",))
    providers = [provider("hyper18", gpus=1), provider("hyper20", vcpu=2)]
    filters = ("ComputeFilter", "AggregateTypeAffinityFilter", "PciPassthroughFilter")
    s = Scheduler(from_plan(plan(providers, aggregates=[aggregate], filters=filters)))
    assert s.schedule(s.prepare(request_from_flavor(flavor("m1.tiny", vcpus=1)))) is not None
    ordinary = s.prepare(request_from_flavor(flavor("m1", vcpus=2)))
    assert [str(r) for r in s.explain(ordinary)] == [
        "hyper18: removed by AggregateTypeAffinityFilter (aggregate admits only g1.gpu)",
        "hyper20: removed by Placement (VCPU: 1 free, 2 asked)",
    ]
    gpu = s.prepare(request_from_flavor(flavor("g1.gpu", pci_passthrough__alias="gpu:1")))
    claim = s.schedule(gpu)
    assert claim is not None
    assert s.names[claim.provider] == "hyper18"
    assert [r.stage for r in s.explain(gpu)] == ["PciPassthroughFilter", "PciPassthroughFilter"]
    assert s.schedule(gpu) is None
    s.release(claim)
    assert s.schedule(gpu) is not None


def test_unknown_alias_is_refused_like_nova_api() -> None:
    s = Scheduler(from_plan(plan([provider("h")])))
    with pytest.raises(InputError, match="alias 'vgpu'"):
        s.prepare(request_from_flavor(flavor("v", pci_passthrough__alias="vgpu:1")))


class _AtMostHalfFree(Rule):
    """A made-up dynamic rule with its own `fits`: pass hosts with at most 8,192 MB free."""

    name = "AtMostHalfFree"
    dynamic = True

    def needs(self, spec: RequestSpec, layout: Layout) -> tuple[Need, ...] | None:
        column = layout.class_column("MEMORY_MB")
        return None if column is None else ((column, 8192),)

    def fits(self, columns: Sequence[float], needs: tuple[Need, ...]) -> bool:
        return all(columns[at] <= limit for at, limit in needs)

    def dynamic_reason(self, host: HostView, spec: RequestSpec) -> str | None:
        free = host.free.get("MEMORY_MB", 0)
        return None if free <= 8192 else f"{free} MB free"


def test_a_new_dynamic_rule_is_one_class_and_decides_what_explain_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(FILTERS, "AtMostHalfFree", _AtMostHalfFree)
    providers = [provider("roomy", ram=16384), provider("tight", ram=8192)]
    for grouped in (True, False):
        s = Scheduler(from_plan(plan(providers, filters=("ComputeFilter", "AtMostHalfFree"))))
        s._grouped = grouped
        request = s.prepare(request_from_flavor(flavor("m", ram=4096)))
        assert [str(r) for r in s.explain(request)] == [
            "roomy: removed by AtMostHalfFree (16384 MB free)"
        ]
        first = s.schedule(request)
        assert first is not None
        assert s.names[first.provider] == "tight"
        # tight is left with 4,096 MB; roomy still has 16,384: only tight passes again
        second = s.schedule(request)
        assert second is not None
        assert s.names[second.provider] == "tight"
        assert s.schedule(request) is None
        assert {r.host for r in s.explain(request)} == {"roomy", "tight"}


def test_isolated_numbered_groups_need_providers_of_their_own() -> None:
    """Placement: with group_policy=isolate each numbered group comes from its own provider; a
    host that is one provider cannot give two (with `none` it gives both)."""
    s = Scheduler(from_plan(plan([provider("h", extra={"CUSTOM_A": Inventory(4)})])))
    specs = {"resources1__CUSTOM_A": "1", "resources2__CUSTOM_A": "1"}
    isolate = s.prepare(request_from_flavor(flavor("i", group_policy="isolate", **specs)))
    shared = s.prepare(request_from_flavor(flavor("n", group_policy="none", **specs)))
    assert [str(r) for r in s.explain(isolate)] == [
        "h: removed by Placement (group_policy=isolate asks 2 numbered groups of 2 providers)"
    ]
    assert s.schedule(isolate) is None
    assert s.schedule(shared) is not None
