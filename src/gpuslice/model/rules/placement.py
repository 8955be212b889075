"""Placement's request filters as rules: allocation candidates and isolated aggregates.

`AllocationCandidates` is Placement's `GET /allocation_candidates` for one provider (before
Ocata nova's RamFilter/DiskFilter/CoreFilter made the same sums; that stage is then named
`ResourceFilters`):
- static: the provider has inventory of every requested class, `min_unit <= amount <=
  max_unit` and `amount % step_size == 0`; every required trait present, no forbidden trait;
  with `group_policy=isolate` two numbered groups need two providers, which a host of one
  provider (no cards) does not have; several numbered groups without a group_policy are
  refused on every provider (Placement 16 `handlers/allocation_candidate.py` answers 400, and
  nova 34 `scheduler/utils.py` defaults the policy only for groups from outside the flavor);
- dynamic: `used + amount <= capacity` for every class (the free amount reaches the amount).

`IsolatedAggregates` is nova's `enable_isolated_aggregate_filtering` prefilter: a provider in
an aggregate whose metadata has `trait:T=required` is excluded unless the request requires
every such T.
"""

from __future__ import annotations

from gpuslice.model.request import RequestSpec
from gpuslice.model.rules.base import HostView, Layout, Need, Rule, needs_of


class AllocationCandidates(Rule):
    """Pass a provider that could hold the request's resources and has its traits."""

    name = "Placement"
    dynamic = True

    def __init__(self, name: str = "Placement") -> None:
        self.name = name  # type: ignore[misc]

    def shape(self, spec: RequestSpec) -> object:
        """Amounts, traits and isolated groups matter; the flavor's name and aggregate keys do
        not."""
        several = len(spec.numbered) > 1
        policy = spec.group_policy if several else None
        return (spec.resources, spec.required_traits, spec.forbidden_traits, several, policy)

    def host_passes(self, host: HostView, spec: RequestSpec) -> bool:
        """Inventory, units and traits (see the module docstring)."""
        return self._static_reason(host, spec) is None

    def reason(self, host: HostView, spec: RequestSpec) -> str:
        """The first class or trait that rules the provider out."""
        return self._static_reason(host, spec) or "does not pass"

    def _static_reason(self, host: HostView, spec: RequestSpec) -> str | None:
        provider = host.provider
        for rc, _ in spec.resources:
            if rc not in provider.capacity:
                return f"no {rc} inventory"
        missing = spec.required_traits - provider.traits
        if missing:
            return f"lacks required trait {', '.join(sorted(missing))}"
        present = spec.forbidden_traits & provider.traits
        if present:
            return f"has forbidden trait {', '.join(sorted(present))}"
        numbered = len(spec.numbered)
        if numbered > 1 and spec.group_policy is None:
            return (
                f"{numbered} numbered groups without group_policy (Placement answers 400: "
                "the flavor needs group_policy=isolate or none)"
            )
        if spec.group_policy == "isolate" and numbered > 1 and not host.cards:
            return f"group_policy=isolate asks {numbered} numbered groups of {numbered} providers"
        for rc, amount in spec.resources:
            lo, hi = provider.min_unit[rc], provider.max_unit[rc]
            step = max(1, provider.step_size[rc])
            if not lo <= amount <= hi:
                return f"{rc} {amount} outside min/max unit {lo}..{hi}"
            if amount % step:
                return f"{rc} {amount} not a multiple of step {step}"
        return None

    def needs(self, spec: RequestSpec, layout: Layout) -> tuple[Need, ...] | None:
        """The free amount of every requested class; None when no provider has a class."""
        return needs_of(spec.resources, layout.class_column)

    def dynamic_reason(self, host: HostView, spec: RequestSpec) -> str | None:
        """The first class with less free than asked."""
        for rc, amount in spec.resources:
            free = host.free.get(rc, 0)
            if free < amount:
                return f"{rc}: {free} free, {amount} asked"
        return None


def isolation_traits(host: HostView) -> frozenset[str]:
    """The traits the host's aggregates require (`trait:T=required` metadata)."""
    required: set[str] = set()
    for aggregate in host.provider.aggregates:
        for key, value in aggregate.metadata.items():
            if key.startswith("trait:") and value == "required":
                required.add(key.partition(":")[2])
    return frozenset(required)


class IsolatedAggregates(Rule):
    """Exclude a provider in an isolating aggregate unless the request requires its traits."""

    name = "IsolatedAggregates"

    def shape(self, spec: RequestSpec) -> object:
        """Only the required traits matter."""
        return spec.required_traits

    def host_passes(self, host: HostView, spec: RequestSpec) -> bool:
        """Every trait the host's aggregates require is required by the request."""
        return not isolation_traits(host) - spec.required_traits

    def reason(self, host: HostView, spec: RequestSpec) -> str:
        """The traits the request lacks."""
        isolated = isolation_traits(host) - spec.required_traits
        return f"isolated aggregate requires {', '.join(sorted(isolated))}"
