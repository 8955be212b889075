"""nova's and Placement's scheduling rules, one small class each, in one registry by name.

- `base`: what a rule is (static mask, dynamic key columns and `fits`) and what it may read;
- `placement`: Placement's request filters (allocation candidates, isolated aggregates);
- `cards`: the tie of a numbered request group to one card (child provider) of the host;
- `filters`: nova's host filters (the ones modelled, and the passive ones);
- `weighers`: nova's weighers (raw value per host and its delta under a claim);
- `normalize`: nova's weight normalisation, written once.

`stages(config, tree)` is the decision's order: Placement (or ResourceFilters before Ocata),
then in a cloud with cards (`tree`: the classes roots and cards hold) the card tie and the
classes of either kind, isolated aggregates when enabled, the enabled filters in their
configured order, and `PciClaim` last when PciPassthroughFilter is not enabled (the claim on
the host then fails instead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gpuslice.errors import InputError
from gpuslice.model.rules.base import CardView, HostView, Layout, Need, Rule
from gpuslice.model.rules.cards import OneCard, RootOrCard
from gpuslice.model.rules.filters import FILTERS, PASSIVE, PassiveFilter, PciClaim
from gpuslice.model.rules.normalize import bounds, clamp, normalize, scale, weighted_sum
from gpuslice.model.rules.placement import AllocationCandidates, IsolatedAggregates
from gpuslice.model.rules.weighers import WEIGHERS, BaseWeigher, HostState

if TYPE_CHECKING:
    from gpuslice.model.cloud import SchedulerConfig

FILTER_NAMES = (*FILTERS, *PASSIVE)
"""Every filter name the model knows: the modelled ones, then the passive ones."""


def make_filter(name: str) -> Rule:
    """The filter enabled as `name`. InputError naming the known ones when unknown."""
    if name in FILTERS:
        return FILTERS[name]()
    if name in PASSIVE:
        return PassiveFilter(name)
    msg = f"unknown scheduler filter {name!r}; the model knows {', '.join(FILTER_NAMES)}"
    raise InputError(msg)


def make_weigher(name: str) -> BaseWeigher:
    """The weigher enabled as `name`. InputError naming the known ones when unknown."""
    if name not in WEIGHERS:
        msg = f"unknown weigher {name!r}; the model knows {', '.join(WEIGHERS)}"
        raise InputError(msg)
    return WEIGHERS[name]()


def stages(
    config: SchedulerConfig, tree: tuple[frozenset[str], frozenset[str]] | None = None
) -> tuple[Rule, ...]:
    """The rules of one decision, in nova's order (see the module docstring)."""
    out: list[Rule] = [AllocationCandidates("Placement" if config.placement else "ResourceFilters")]
    if tree is not None:
        out += [OneCard(*tree), RootOrCard(*tree)]
    if config.isolated_aggregates:
        out.append(IsolatedAggregates())
    out.extend(make_filter(name) for name in config.filters)
    if "PciPassthroughFilter" not in config.filters:
        out.append(PciClaim())
    return tuple(out)


__all__ = [
    "FILTERS",
    "FILTER_NAMES",
    "PASSIVE",
    "WEIGHERS",
    "AllocationCandidates",
    "BaseWeigher",
    "CardView",
    "HostState",
    "HostView",
    "IsolatedAggregates",
    "Layout",
    "Need",
    "OneCard",
    "RootOrCard",
    "Rule",
    "bounds",
    "clamp",
    "make_filter",
    "make_weigher",
    "normalize",
    "scale",
    "stages",
    "weighted_sum",
]
