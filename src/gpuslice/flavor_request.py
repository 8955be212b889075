"""What a boot request asks the scheduler for, read from a flavor's fields and extra specs.

The one reader of flavor extra specs: the model and the audit both use it. Rules (nova 34
`scheduler/utils.py` `ResourceRequest.from_request_spec`, for a flavor without image
properties):
- `resources[S]:RC=N` asks N of RC in request group S (no suffix: the unnumbered group; a
  suffix is 1-64 of `[a-zA-Z0-9_-]`, and each suffixed group must be met by one provider; groups
  are kept in that order: unnumbered first, then by suffix, `2` before `10`); a later key for
  the same class and group replaces the amount;
- `trait[S]:T=required|forbidden` asks for or excludes trait T in group S;
- `hw:cpu_policy=dedicated` adds `PCPU` = the flavor's vCPUs to the unnumbered group (plus one
  with `hw:emulator_threads_policy=isolate`); `hw:cpu_thread_policy=isolate|require` forbids
  or requires `HW_CPU_HYPERTHREADING`;
- then the flavor's own sizes fill in what no group asks: `VCPU` = vcpus unless some group asks
  VCPU or PCPU (zero included), `MEMORY_MB` = ram unless some group asks MEMORY_MB, `DISK_GB` =
  disk unless some group asks it (and only when above 0), all in the unnumbered group;
- zero amounts are then dropped (`resources:VCPU=0` removes VCPU), and groups left empty;
- `group_policy=none|isolate` is kept; `pci_passthrough:alias=name:count[,...]` asks PCI
  devices through an alias;
- unscoped keys and keys scoped `aggregate_instance_extra_specs:` are what
  AggregateInstanceExtraSpecsFilter matches against aggregate metadata; keys with any other
  scope (`hw:`, `resources:`, `trait:`, ...) are not.
Before Pike (`overrides=False`) `resources*:` keys are ignored. nova skips a malformed amount
or trait value with a warning; `strict` readers (flavors gpuslice plans) refuse it with an
InputError instead, lenient ones (a live cloud's flavors, in audit) skip it as nova does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from gpuslice.errors import InputError

VCPU = "VCPU"
PCPU = "PCPU"
MEMORY_MB = "MEMORY_MB"
DISK_GB = "DISK_GB"
HYPERTHREADING = "HW_CPU_HYPERTHREADING"

_KEY = re.compile(r"^(resources|trait)([a-zA-Z0-9_-]{1,64})?:(.*)$")


class FlavorLike(Protocol):
    """What the reader needs of a flavor (a planned `Flavor` or a live cloud's flavor)."""

    @property
    def name(self) -> str: ...
    @property
    def vcpus(self) -> int: ...
    @property
    def ram(self) -> int: ...
    @property
    def disk(self) -> int: ...
    @property
    def extra_specs(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class RequestGroup:
    """One request group as Placement sees it: `suffix` "" is the unnumbered group (its classes
    may come from different providers of one tree), any other the suffixed one (all of it from
    one provider). Amounts sorted by class, zeros removed."""

    suffix: str
    resources: tuple[tuple[str, int], ...]
    required_traits: frozenset[str] = frozenset()
    forbidden_traits: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RequestSpec:
    """One boot request as the scheduler sees it. Hashable: the scheduler caches by it.

    `vcpus`/`ram`/`disk` are the flavor's own fields (what a host's resource tracker counts);
    `groups` are the request groups asked of Placement (unnumbered first, then by suffix);
    `resources` are their amounts summed per class, sorted by class, and the traits their
    union (what a single provider, the model's hosts, must hold).
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
    group_policy: str | None = None

    @property
    def is_gpu(self) -> bool:
        """Whether the request asks for PCI devices (a GPU VM)."""
        return bool(self.pci)

    @property
    def gpus(self) -> int:
        """How many PCI devices the request asks for in all."""
        return sum(count for _, count in self.pci)

    def amount(self, resource_class: str) -> int:
        """The amount of `resource_class` asked of Placement, over all groups (0 if none)."""
        for name, value in self.resources:
            if name == resource_class:
                return value
        return 0

    @property
    def numbered(self) -> tuple[RequestGroup, ...]:
        """The suffixed request groups (each from one provider), in order."""
        return tuple(g for g in self.groups if g.suffix)

    def group(self, suffix: str) -> RequestGroup | None:
        """The request group with `suffix` ("": the unnumbered one), if asked."""
        return next((g for g in self.groups if g.suffix == suffix), None)


def _int_spec(key: str, value: str, flavor: str, *, strict: bool = True) -> int | None:
    try:
        amount = int(value)
    except ValueError:
        if not strict:
            return None
        msg = f"extra spec {key}={value!r} is not a whole number"
        raise InputError(msg, source=f"flavor {flavor}") from None
    if amount < 0:
        if not strict:
            return None
        msg = f"extra spec {key}={value!r} is negative"
        raise InputError(msg, source=f"flavor {flavor}")
    return amount


def parse_pci_alias_spec(
    value: str, flavor: str = "?", *, strict: bool = True
) -> tuple[tuple[str, int], ...]:
    """Read `name:count[,name:count]` (a missing count means 1), in the order written."""
    out: list[tuple[str, int]] = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, count = part.partition(":")
        number = _int_spec("pci_passthrough:alias", count.strip() or "1", flavor, strict=strict)
        if not number:
            continue
        out.append((name.strip(), number))
    return tuple(out)


class _Group:
    """A request group while it is being read."""

    def __init__(self) -> None:
        self.resources: dict[str, int] = {}
        self.required: set[str] = set()
        self.forbidden: set[str] = set()

    def add_trait(self, name: str, value: str) -> bool:
        if value == "required":
            self.required.add(name)
        elif value == "forbidden":
            self.forbidden.add(name)
        else:
            return False
        return True

    def done(self, suffix: str) -> RequestGroup | None:
        resources = tuple(sorted((rc, n) for rc, n in self.resources.items() if n > 0))
        if not resources and not self.required and not self.forbidden:
            return None
        return RequestGroup(suffix, resources, frozenset(self.required), frozenset(self.forbidden))


def request_from_flavor(
    flavor: FlavorLike, *, overrides: bool = True, strict: bool = True
) -> RequestSpec:
    """Build the request nova's scheduler makes for `flavor` (rules in the module docstring)."""
    specs: Mapping[str, str] = flavor.extra_specs
    groups: dict[str, _Group] = {}

    def group(suffix: str) -> _Group:
        return groups.setdefault(suffix, _Group())

    pci: tuple[tuple[str, int], ...] = ()
    aggregate: list[tuple[str, str]] = []
    policy: str | None = None
    for key in specs:
        value = str(specs[key])
        match = _KEY.match(key)
        if match is not None:
            prefix, suffix, name = match.groups()
            if prefix == "resources":
                amount = _int_spec(key, value, flavor.name, strict=strict)
                if overrides and amount is not None:
                    group(suffix or "").resources[name] = amount
            elif not group(suffix or "").add_trait(name, value) and strict:
                msg = f"extra spec {key}={value!r}: a trait is 'required' or 'forbidden'"
                raise InputError(msg, source=f"flavor {flavor.name}")
            continue
        scope, sep, rest = key.partition(":")
        if key == "group_policy":
            policy = value if value in ("none", "isolate") else policy
        elif not sep:
            aggregate.append((key, value))
        elif scope == "aggregate_instance_extra_specs":
            aggregate.append((rest, value))
        elif key == "pci_passthrough:alias":
            pci = parse_pci_alias_spec(value, flavor.name, strict=strict)
    if specs.get("hw:cpu_policy", "").lower() == "dedicated":
        isolate = specs.get("hw:emulator_threads_policy", "").lower() == "isolate"
        group("").resources[PCPU] = flavor.vcpus + (1 if isolate else 0)
    thread_policy = {"isolate": "forbidden", "require": "required"}.get(
        specs.get("hw:cpu_thread_policy", "").lower()
    )
    if thread_policy is not None:
        group("").add_trait(HYPERTHREADING, thread_policy)
    merged: dict[str, int] = {}
    for reading in groups.values():
        for rc, n in reading.resources.items():
            merged[rc] = merged.get(rc, 0) + n
    if VCPU not in merged and PCPU not in merged:
        group("").resources[VCPU] = flavor.vcpus
    if MEMORY_MB not in merged:
        group("").resources[MEMORY_MB] = flavor.ram
    if DISK_GB not in merged and flavor.disk:
        group("").resources[DISK_GB] = flavor.disk
    order = sorted(groups, key=lambda s: (s != "", len(s), s))
    done = [g for g in (groups[s].done(s) for s in order) if g is not None]
    totals: dict[str, int] = {}
    for finished in done:
        for rc, amount in finished.resources:
            totals[rc] = totals.get(rc, 0) + amount
    return RequestSpec(
        flavor=flavor.name,
        vcpus=flavor.vcpus,
        ram=flavor.ram,
        disk=flavor.disk,
        resources=tuple(sorted(totals.items())),
        required_traits=frozenset(t for g in done for t in g.required_traits),
        forbidden_traits=frozenset(t for g in done for t in g.forbidden_traits),
        pci=pci,
        aggregate_specs=tuple(sorted(aggregate)),
        groups=tuple(done),
        group_policy=policy,
    )


@dataclass(frozen=True)
class _SpecsOnly:
    """Extra specs as a flavor without sizes."""

    extra_specs: Mapping[str, str]
    name: str = "?"
    vcpus: int = 0
    ram: int = 0
    disk: int = 0


def request_from_specs(extra_specs: Mapping[str, str], *, strict: bool = False) -> RequestSpec:
    """What extra specs alone ask (a flavor of size 0: only what the specs name), leniently by
    default (a live server's record of its flavor)."""
    return request_from_flavor(_SpecsOnly(extra_specs), strict=strict)


def repeat_groups(spec: RequestSpec, factor: int) -> RequestSpec:
    """The request for a VM `factor` times as large whose numbered groups are each asked
    `factor` times: a k-vGPU VM where each provider holds one vGPU (SR-IOV based vGPU).

    Rules: the unnumbered group's amounts and the flavor's sizes are multiplied; every
    numbered group is copied `factor` times, the copies numbered 1, 2, ... in order; with
    more than one numbered group the policy is `isolate` (each copy from a provider of its
    own, as gpuslice renders such flavors).
    """
    if factor < 1:
        msg = f"scale factor must be at least 1, got {factor}"
        raise InputError(msg)
    if factor == 1:
        return spec
    unnumbered = [
        replace(g, resources=tuple((rc, n * factor) for rc, n in g.resources))
        for g in spec.groups
        if not g.suffix
    ]
    copies = [g for _ in range(factor) for g in spec.groups if g.suffix]
    numbered = [replace(g, suffix=str(i)) for i, g in enumerate(copies, start=1)]
    groups = (*unnumbered, *numbered)
    totals: dict[str, int] = {}
    for group in groups:
        for rc, n in group.resources:
            totals[rc] = totals.get(rc, 0) + n
    return replace(
        spec,
        vcpus=spec.vcpus * factor,
        ram=spec.ram * factor,
        disk=spec.disk * factor,
        resources=tuple(sorted(totals.items())),
        groups=groups,
        pci=tuple((alias, n * factor) for alias, n in spec.pci),
        group_policy="isolate" if len(numbered) > 1 else spec.group_policy,
    )


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
