"""What a boot request asks the scheduler for, read from a flavor's fields and extra specs.

Rules (as nova applies them when it builds a request spec from a flavor):
- the flavor asks for `VCPU` = vcpus, `MEMORY_MB` = ram and `DISK_GB` = disk; with
  `hw:cpu_policy=dedicated` the vCPUs are asked as `PCPU` instead of `VCPU`;
- `resources:RC=N` (from Pike) replaces the amount of RC; `resources:RC=0` removes RC from the
  request altogether;
- numbered groups (`resources1:RC`, `trait1:T`) are kept apart in `groups` (Placement takes
  each numbered group from one provider) and also added into the flat `resources` and traits:
  what the host's provider tree gives in all (the request of a host that is one provider);
- `trait:T=required` and `trait:T=forbidden` ask for or exclude providers with trait T;
- `pci_passthrough:alias=name:count[,name:count]` asks for PCI devices through an alias;
- unscoped keys and keys scoped `aggregate_instance_extra_specs:` are what
  AggregateInstanceExtraSpecsFilter matches against aggregate metadata; keys with any other scope
  (`hw:`, `resources:`, `trait:`, ...) are not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from gpuslice.errors import InputError
from gpuslice.plan.types import Flavor

VCPU = "VCPU"
PCPU = "PCPU"
MEMORY_MB = "MEMORY_MB"
DISK_GB = "DISK_GB"

_GROUP = re.compile(r"^(resources|trait)\d*$")


@dataclass(frozen=True)
class RequestGroup:
    """One request group as Placement sees it: `suffix` "" is the unnumbered group (its
    classes may come from different providers of one tree), "1", "2", ... the numbered ones
    (all of a numbered group from one provider). Amounts sorted by class, zeros removed."""

    suffix: str
    resources: tuple[tuple[str, int], ...]
    required_traits: frozenset[str] = frozenset()
    forbidden_traits: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RequestSpec:
    """One boot request as the scheduler sees it. Hashable: the scheduler caches by it.

    `vcpus`/`ram`/`disk` are the flavor's own fields (what a host's resource tracker counts);
    `resources` are what Placement is asked for, sorted by class, zero amounts removed.
    """

    flavor: str
    vcpus: int
    ram: int
    disk: int
    resources: tuple[tuple[str, int], ...]
    required_traits: frozenset[str] = frozenset()
    forbidden_traits: frozenset[str] = frozenset()
    pci: tuple[tuple[str, int], ...] = ()
    aggregate_specs: tuple[tuple[str, str], ...] = ()
    groups: tuple[RequestGroup, ...] = ()

    @property
    def numbered(self) -> tuple[RequestGroup, ...]:
        """The numbered request groups (each from one provider), by suffix."""
        return tuple(g for g in self.groups if g.suffix)

    @property
    def is_gpu(self) -> bool:
        """Whether the request asks for PCI devices (a GPU VM)."""
        return bool(self.pci)

    @property
    def gpus(self) -> int:
        """How many PCI devices the request asks for in all."""
        return sum(count for _, count in self.pci)

    def amount(self, resource_class: str) -> int:
        """The amount of `resource_class` asked of Placement (0 when not asked)."""
        for name, value in self.resources:
            if name == resource_class:
                return value
        return 0


def _int_spec(key: str, value: str, flavor: str) -> int:
    try:
        amount = int(value)
    except ValueError:
        msg = f"extra spec {key}={value!r} is not a whole number"
        raise InputError(msg, source=f"flavor {flavor}") from None
    if amount < 0:
        msg = f"extra spec {key}={value!r} is negative"
        raise InputError(msg, source=f"flavor {flavor}")
    return amount


def parse_pci_alias_spec(value: str, flavor: str = "?") -> tuple[tuple[str, int], ...]:
    """Read `name:count[,name:count]` (a missing count means 1), in the order written."""
    out: list[tuple[str, int]] = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, count = part.partition(":")
        number = _int_spec("pci_passthrough:alias", count or "1", flavor)
        if number == 0:
            continue
        out.append((name.strip(), number))
    return tuple(out)


def request_from_flavor(flavor: Flavor, *, overrides: bool = True) -> RequestSpec:
    """Build the request nova's scheduler makes for `flavor` (rules in the module docstring).

    `overrides=False` models releases before Pike: `resources:*` keys (numbered ones too) are
    then ignored.
    """
    specs: Mapping[str, str] = flavor.extra_specs
    dedicated = specs.get("hw:cpu_policy", "").lower() == "dedicated"
    amounts: dict[str, dict[str, int]] = {
        "": {PCPU if dedicated else VCPU: flavor.vcpus, MEMORY_MB: flavor.ram, DISK_GB: flavor.disk}
    }
    required: dict[str, set[str]] = {}
    forbidden: dict[str, set[str]] = {}
    pci: tuple[tuple[str, int], ...] = ()
    aggregate: list[tuple[str, str]] = []
    for key in sorted(specs):
        value = specs[key]
        scope, sep, rest = key.partition(":")
        if not sep:
            aggregate.append((key, value))
            continue
        if scope == "aggregate_instance_extra_specs":
            aggregate.append((rest, value))
        elif _GROUP.match(scope) and scope.startswith("resources"):
            if overrides:
                suffix = scope.removeprefix("resources")
                amounts.setdefault(suffix, {})[rest] = _int_spec(key, value, flavor.name)
        elif _GROUP.match(scope) and scope.startswith("trait"):
            suffix = scope.removeprefix("trait")
            if value == "required":
                required.setdefault(suffix, set()).add(rest)
            elif value == "forbidden":
                forbidden.setdefault(suffix, set()).add(rest)
            else:
                msg = f"extra spec {key}={value!r}: a trait is 'required' or 'forbidden'"
                raise InputError(msg, source=f"flavor {flavor.name}")
        elif key == "pci_passthrough:alias":
            pci = parse_pci_alias_spec(value, flavor.name)
    groups = tuple(
        RequestGroup(
            suffix,
            tuple(sorted((rc, n) for rc, n in amounts.get(suffix, {}).items() if n > 0)),
            frozenset(required.get(suffix, ())),
            frozenset(forbidden.get(suffix, ())),
        )
        for suffix in sorted(amounts.keys() | required.keys() | forbidden.keys(), key=_order)
    )
    total: dict[str, int] = {}
    for group in groups:
        for rc, n in group.resources:
            total[rc] = total.get(rc, 0) + n
    return RequestSpec(
        flavor=flavor.name,
        vcpus=flavor.vcpus,
        ram=flavor.ram,
        disk=flavor.disk,
        resources=tuple(sorted(total.items())),
        required_traits=frozenset(t for g in groups for t in g.required_traits),
        forbidden_traits=frozenset(t for g in groups for t in g.forbidden_traits),
        pci=pci,
        aggregate_specs=tuple(aggregate),
        groups=groups,
    )


def _order(suffix: str) -> tuple[int, str]:
    """Unnumbered first, then numbered groups by number (`2` before `10`)."""
    return (len(suffix), suffix)


def scale_request(spec: RequestSpec, factor: int) -> RequestSpec:
    """The request for a VM `factor` times as large: every amount and PCI count multiplied.

    This is how a GPU VM with k GPUs is asked for: k slices and k devices.
    """
    if factor < 1:
        msg = f"scale factor must be at least 1, got {factor}"
        raise InputError(msg)
    if factor == 1:
        return spec
    return replace(
        spec,
        vcpus=spec.vcpus * factor,
        ram=spec.ram * factor,
        disk=spec.disk * factor,
        resources=tuple((rc, n * factor) for rc, n in spec.resources),
        groups=tuple(
            replace(g, resources=tuple((rc, n * factor) for rc, n in g.resources))
            for g in spec.groups
        ),
        pci=tuple((alias, n * factor) for alias, n in spec.pci),
    )
