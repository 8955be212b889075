"""Planning: carve each GPU host into a general part and GPU slices under one strategy."""

from __future__ import annotations

from gpuslice.errors import InputError
from gpuslice.fleet import Fleet, StrategyName
from gpuslice.plan.common import check_pci_in_placement, check_vfio_variant
from gpuslice.plan.quota import check_unified_limits
from gpuslice.plan.split import split_refusal
from gpuslice.plan.strategies import AUTO_PREFERENCE, STRATEGIES, Strategy
from gpuslice.plan.types import ConcreteStrategy, Plan
from gpuslice.plan.vgpu import check_vgpu

__all__ = ["STRATEGIES", "Plan", "Strategy", "choose_strategy", "make_plan", "split_refusal"]


def choose_strategy(fleet: Fleet) -> ConcreteStrategy:
    """The best strategy that keeps the promise on the fleet's release (what `auto` means).

    Rule: the first of `AUTO_PREFERENCE` (placement, split, dedicated) the release does not
    refuse: placement from Victoria, split on Newton, dedicated between.
    """
    for name in AUTO_PREFERENCE:
        if STRATEGIES[name].refusal(fleet) is None:
            return name
    msg = f"no strategy works on {fleet.release}"  # dedicated refuses no release
    raise InputError(msg, source=fleet.source, field="strategy")


def make_plan(fleet: Fleet, strategy: StrategyName | str | None = None) -> Plan:
    """Plan `fleet` under `strategy` (default: the fleet's own; `auto` picks one).

    An unknown name, or a strategy that cannot work on the release, is an InputError saying
    why and what works.
    """
    name = strategy or fleet.strategy
    check_pci_in_placement(fleet)
    check_vfio_variant(fleet)
    check_unified_limits(fleet)
    if name == "auto":
        name = choose_strategy(fleet)
    chosen = STRATEGIES.get(name)
    if chosen is None:
        msg = f"unknown strategy {name!r}; choose {', '.join(STRATEGIES)} or auto"
        raise InputError(msg, source=fleet.source, field="strategy")
    check_vgpu(fleet, chosen.name)
    refusal = chosen.refusal(fleet)
    if refusal is not None:
        raise InputError(refusal, source=fleet.source, field="strategy")
    return chosen.plan(fleet)
