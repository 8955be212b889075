"""Planning: carve each GPU host into a general part and GPU slices under one strategy."""

from __future__ import annotations

from gpuslice.errors import InputError
from gpuslice.fleet import Fleet, StrategyName
from gpuslice.plan.common import check_pci_in_placement, check_vfio_variant
from gpuslice.plan.placement import plan_placement
from gpuslice.plan.quota import check_unified_limits
from gpuslice.plan.shared_host import plan_shared_host
from gpuslice.plan.split import plan_split, split_refusal
from gpuslice.plan.types import ConcreteStrategy, Plan
from gpuslice.plan.vgpu import check_vgpu

__all__ = ["Plan", "choose_strategy", "make_plan", "split_refusal"]


def choose_strategy(fleet: Fleet) -> ConcreteStrategy:
    """The best strategy that keeps the promise on the fleet's release (what `auto` means).

    Rules: placement from Victoria (no second service, no neutron patch); split on Newton (the
    original recipe); dedicated between (it holds, at the cost of idle CPU and RAM).
    """
    release = fleet.release
    if release.has("provider_yaml"):
        return "placement"
    if not release.has("placement_mandatory"):
        return "split"
    return "dedicated"


def make_plan(fleet: Fleet, strategy: StrategyName | str | None = None) -> Plan:
    """Plan `fleet` under `strategy` (default: the fleet's own; `auto` picks one).

    A strategy that cannot work on the release is an InputError saying why and what works.
    """
    name = strategy or fleet.strategy
    check_pci_in_placement(fleet)
    check_vfio_variant(fleet)
    check_unified_limits(fleet)
    if name == "auto":
        name = choose_strategy(fleet)
    check_vgpu(fleet, name)
    if name == "split":
        return plan_split(fleet)
    if name == "placement":
        return plan_placement(fleet)
    if name in ("none", "weigher", "dedicated"):
        concrete: ConcreteStrategy = name  # type: ignore[assignment]
        return plan_shared_host(fleet, concrete)
    msg = f"unknown strategy {name!r}; choose none, weigher, dedicated, split, placement or auto"
    raise InputError(msg, source=fleet.source, field="strategy")
