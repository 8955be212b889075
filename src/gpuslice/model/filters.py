"""Nova's host filters, one small class per rule, enabled by name through `FILTERS`.

A filter answers `host_passes(host, spec)`; it never raises for a host that fails. Static
filters depend only on what does not change while VMs come and go (aggregates, the flavor), so
the scheduler evaluates them once per kind of request; dynamic filters (PCI devices in use) are
also evaluated for all hosts at once by `vector`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from gpuslice.model.cloud import PASSIVE_FILTERS, PoolKey, ProviderModel
from gpuslice.model.request import RequestSpec


@dataclass(frozen=True)
class HostView:
    """What a filter may look at: the provider, its free PCI devices, the cloud's aliases."""

    provider: ProviderModel
    pci_free: Mapping[PoolKey, int]
    aliases: Mapping[str, PoolKey]

    def aggregate_values(self, key: str) -> frozenset[str]:
        """Every value of metadata `key` over the host's aggregates, comma lists split (nova)."""
        values: set[str] = set()
        for aggregate in self.provider.aggregates:
            raw = aggregate.metadata.get(key)
            if raw is not None:
                values.update(v.strip() for v in raw.split(","))
        return frozenset(values)


class BaseFilter:
    """A host filter: `host_passes` says whether one host may take the request."""

    name: ClassVar[str] = "BaseFilter"
    dynamic: ClassVar[bool] = False

    def host_passes(self, host: HostView, spec: RequestSpec) -> bool:
        """Whether `host` passes; the base filter lets every host pass."""
        return True

    def reason(self, host: HostView, spec: RequestSpec) -> str:
        """Why `host` does not pass, in words (called only for hosts that fail)."""
        return "does not pass"


class PassiveFilter(BaseFilter):
    """A filter the model knows but does not model: every host passes."""


class ComputeFilter(BaseFilter):
    """Filter out hosts whose compute service is disabled or down."""

    name = "ComputeFilter"

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


class AggregateInstanceExtraSpecsFilter(BaseFilter):
    """Pass a host whose aggregate metadata matches every unscoped extra spec of the flavor.

    Only attracts: a flavor without such keys passes every host.
    """

    name = "AggregateInstanceExtraSpecsFilter"

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


class AggregateTypeAffinityFilter(BaseFilter):
    """Pass a host in no `instance_type` aggregate, or one whose list names the flavor."""

    name = "AggregateTypeAffinityFilter"

    def host_passes(self, host: HostView, spec: RequestSpec) -> bool:
        """Hosts without `instance_type` metadata pass; others only for the flavors listed."""
        values = host.aggregate_values("instance_type")
        return not values or spec.flavor in values

    def reason(self, host: HostView, spec: RequestSpec) -> str:
        """The flavors the host's aggregates admit."""
        admitted = ", ".join(sorted(host.aggregate_values("instance_type")))
        return f"aggregate admits only {admitted}"


class PciPassthroughFilter(BaseFilter):
    """Pass a host with enough free devices for every alias the request asks for."""

    name = "PciPassthroughFilter"
    dynamic = True

    def host_passes(self, host: HostView, spec: RequestSpec) -> bool:
        """Requests without PCI pass; others need `count` free devices of each alias's pool."""
        for alias, count in spec.pci:
            pool = host.aliases.get(alias)
            if pool is None or host.pci_free.get(pool, 0) < count:
                return False
        return True

    def reason(self, host: HostView, spec: RequestSpec) -> str:
        """The alias that lacks free devices."""
        for alias, count in spec.pci:
            pool = host.aliases.get(alias)
            free = 0 if pool is None else host.pci_free.get(pool, 0)
            if free < count:
                return f"alias {alias}: {free} free, {count} asked"
        return "does not pass"

    def vector(
        self,
        pci_free: npt.NDArray[np.int64],
        pci_rows: tuple[tuple[int, int], ...],
    ) -> npt.NDArray[np.bool_] | None:
        """All hosts at once: `pci_rows` are (pool row, count); None when nothing is asked."""
        mask: npt.NDArray[np.bool_] | None = None
        for row, count in pci_rows:
            ok = pci_free[row] >= count
            mask = ok if mask is None else mask & ok
        return mask


FILTERS: dict[str, type[BaseFilter]] = {
    cls.name: cls
    for cls in (
        ComputeFilter,
        AggregateInstanceExtraSpecsFilter,
        AggregateTypeAffinityFilter,
        PciPassthroughFilter,
    )
}


def make_filter(name: str) -> BaseFilter:
    """The filter enabled as `name`; passive ones let every host pass. KeyError when unknown."""
    if name in FILTERS:
        return FILTERS[name]()
    if name in PASSIVE_FILTERS:
        passive = PassiveFilter()
        passive.name = name  # type: ignore[misc]
        return passive
    raise KeyError(name)
