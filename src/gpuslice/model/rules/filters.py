"""Nova's host filters, one small class per rule (the interface is `gpuslice.model.rules.base`).

Filters are enabled by name (`gpuslice.model.rules.registry`). Those nova has but the model does
not model are `PASSIVE`: every host passes them (zones, images, server groups, NUMA), or the
resource stage already checks what they check (Ram/Disk/CoreFilter).
"""

from __future__ import annotations

from gpuslice.model.request import RequestSpec
from gpuslice.model.rules.base import HostView, Layout, Need, Rule, needs_of

PASSIVE = (
    "RetryFilter",
    "AvailabilityZoneFilter",
    "ComputeCapabilitiesFilter",
    "ImagePropertiesFilter",
    "ServerGroupAntiAffinityFilter",
    "ServerGroupAffinityFilter",
    "NUMATopologyFilter",
    "RamFilter",
    "DiskFilter",
    "CoreFilter",
    "SameHostFilter",
    "DifferentHostFilter",
)
"""Filters the model knows and lets every host pass (see the module docstring)."""


class PassiveFilter(Rule):
    """A filter the model knows but does not model: every host passes."""

    def __init__(self, name: str) -> None:
        self.name = name  # type: ignore[misc]


class ComputeFilter(Rule):
    """Filter out hosts whose compute service is disabled or down."""

    name = "ComputeFilter"

    def shape(self, spec: RequestSpec) -> object:
        """The answer does not depend on the request."""
        return ()

    def host_passes(self, host: HostView, spec: RequestSpec) -> bool:
        """Pass an enabled service (the model has no down services)."""
        return host.provider.enabled

    def reason(self, host: HostView, spec: RequestSpec) -> str:
        """The service is disabled."""
        return "service disabled"


def extra_spec_matches(value: str, requirement: str) -> bool:
    """nova's extra_specs_ops: does aggregate metadata `value` satisfy `requirement`?

    Operators: `s==`, `s!=`, `<in>` (substring), `<or>` (any of), `=`/`>=`/`<=` (numeric:
    `=` means at least); anything else is string equality.
    """
    words = requirement.split()
    if len(words) >= 2 and words[0] == "<or>":
        return value in words[1::2]
    if len(words) == 2:
        op, operand = words
        if op == "s==":
            return value == operand
        if op == "s!=":
            return value != operand
        if op == "<in>":
            return operand in value
        if op in ("=", ">=", "<="):
            try:
                number, bound = float(value), float(operand)
            except ValueError:
                return False
            return number <= bound if op == "<=" else number >= bound
    return value == requirement


class AggregateInstanceExtraSpecsFilter(Rule):
    """Pass a host whose aggregate metadata matches every unscoped extra spec of the flavor.

    Only attracts: a flavor without such keys passes every host.
    """

    name = "AggregateInstanceExtraSpecsFilter"

    def shape(self, spec: RequestSpec) -> object:
        """Only the flavor's aggregate keys matter."""
        return spec.aggregate_specs

    def host_passes(self, host: HostView, spec: RequestSpec) -> bool:
        """Every (key, requirement) must match one of the host's aggregate values for key."""
        for key, requirement in spec.aggregate_specs:
            values = host.aggregate_values(key)
            if not values:
                return False
            if not any(extra_spec_matches(v, requirement) for v in values):
                return False
        return True

    def reason(self, host: HostView, spec: RequestSpec) -> str:
        """The first flavor key that no aggregate of the host matches."""
        for key, requirement in spec.aggregate_specs:
            values = host.aggregate_values(key)
            if not any(extra_spec_matches(v, requirement) for v in values):
                return f"no aggregate with {key}={requirement}"
        return "does not pass"


class AggregateTypeAffinityFilter(Rule):
    """Pass a host in no `instance_type` aggregate, or one whose list names the flavor."""

    name = "AggregateTypeAffinityFilter"

    def shape(self, spec: RequestSpec) -> object:
        """Only the flavor's name matters."""
        return spec.flavor

    def host_passes(self, host: HostView, spec: RequestSpec) -> bool:
        """Hosts without `instance_type` metadata pass; others only for the flavors listed."""
        values = host.aggregate_values("instance_type")
        return not values or spec.flavor in values

    def reason(self, host: HostView, spec: RequestSpec) -> str:
        """The flavors the host's aggregates admit."""
        admitted = ", ".join(sorted(host.aggregate_values("instance_type")))
        return f"aggregate admits only {admitted}"


class PciPassthroughFilter(Rule):
    """Pass a host with enough free devices for every alias the request asks for (dynamic)."""

    name = "PciPassthroughFilter"
    dynamic = True

    def needs(self, spec: RequestSpec, layout: Layout) -> tuple[Need, ...] | None:
        """`count` free devices of each alias's pool; None when a pool exists on no host."""
        return needs_of(spec.pci, layout.pool_column)

    def dynamic_reason(self, host: HostView, spec: RequestSpec) -> str | None:
        """The alias that lacks free devices."""
        for alias, count in spec.pci:
            pool = host.aliases.get(alias)
            free = 0 if pool is None else host.pci_free.get(pool, 0)
            if free < count:
                return f"alias {alias}: {free} free, {count} asked"
        return None


class PciClaim(PciPassthroughFilter):
    """Without PciPassthroughFilter the claim on the chosen host fails: the same rule, last."""

    name = "PciClaim"

    def dynamic_reason(self, host: HostView, spec: RequestSpec) -> str | None:
        """No free device where the claim would take one."""
        if super().dynamic_reason(host, spec) is None:
            return None
        return "no free matching PCI device"


FILTERS: dict[str, type[Rule]] = {
    cls.name: cls
    for cls in (
        ComputeFilter,
        AggregateInstanceExtraSpecsFilter,
        AggregateTypeAffinityFilter,
        PciPassthroughFilter,
    )
}
"""The filters the model applies with their nova meaning, by name."""
