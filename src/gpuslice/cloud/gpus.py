"""Which flavors and aliases are GPUs, and GPUs counted per model: what audit judges.

A cloud has other PCI flavors (SR-IOV NICs ask for `pci_passthrough:alias` too); audit judges
only GPU flavors, and counts GPUs per model (alias) so that an L40S host is never held against an
A100 flavor. Pure: reads a snapshot and what the plan says, returns data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gpuslice.cloud.state import ALIAS_SPEC, SLICE_CLASSES, CloudSnapshot, LiveFlavor
from gpuslice.flavor_request import parse_pci_alias_spec
from gpuslice.plan.types import PciAlias

GPU_HOST_TRAIT = "CUSTOM_GPU_HOST"
UNKNOWN_MODEL = "?"


def requested_aliases(extra_specs: Mapping[str, str]) -> dict[str, int]:
    """PCI alias name -> how many devices `pci_passthrough:alias` asks (`a:2,b` is a 2, b 1).

    Read by the model's reader (`parse_pci_alias_spec`), leniently: a malformed count is
    skipped.
    """
    asked: dict[str, int] = {}
    for name, count in parse_pci_alias_spec(extra_specs.get(ALIAS_SPEC, ""), strict=False):
        asked[name] = asked.get(name, 0) + count
    return asked


def pci_class(vendor_id: str, product_id: str) -> str:
    """The resource class nova gives a PCI device in Placement by default."""
    return f"CUSTOM_PCI_{vendor_id.upper()}_{product_id.upper()}"


@dataclass(frozen=True)
class GpuMenu:
    """The GPU flavors audit judges, the GPU aliases, and how devices map to an alias.

    `classes` maps a PCI resource class to its alias, `devices` a (vendor, product) pair to its
    alias; both are known only where a plan names the aliases.
    """

    flavors: tuple[LiveFlavor, ...]
    aliases: frozenset[str]
    classes: Mapping[str, str]
    devices: Mapping[tuple[str, str], str]

    def alias_of(self, flavor: LiveFlavor) -> tuple[str, int] | None:
        """(alias, GPU count) of a GPU flavor: its first GPU alias; None for other flavors."""
        for name, count in requested_aliases(flavor.extra_specs).items():
            if name in self.aliases:
                return name, count
        return None

    def gpus_asked(self, extra_specs: Mapping[str, str]) -> dict[str, int]:
        """The GPU aliases (and counts) these extra specs ask for; other PCI aliases dropped."""
        return {a: n for a, n in requested_aliases(extra_specs).items() if a in self.aliases}

    def model_of_class(self, rc: str) -> str:
        """The alias whose devices a PCI resource class counts (the class itself when unknown)."""
        if rc in self.classes:
            return self.classes[rc]
        return next(iter(self.aliases)) if len(self.aliases) == 1 else rc

    def model_of_device(self, vendor_id: str | None, product_id: str | None) -> str:
        """The alias of a planned device (vendor:product when no alias matches)."""
        key = (vendor_id or "", product_id or "")
        return self.devices.get(key, f"{key[0]}:{key[1]}")


def _marked(flavor: LiveFlavor) -> bool:
    """A flavor carries gpuslice's marks: created by it, or requiring a GPU host."""
    return flavor.owned or flavor.extra_specs.get(f"trait:{GPU_HOST_TRAIT}") == "required"


def _asks_slice(flavor: LiveFlavor) -> bool:
    return any(
        k.startswith("resources") and (k.split(":", 1)[-1] in SLICE_CLASSES)
        for k in flavor.extra_specs
    )


def gpu_menu(
    snapshot: CloudSnapshot, planned: Iterable[str] = (), aliases: Iterable[PciAlias] = ()
) -> GpuMenu:
    """What is a GPU in this cloud.

    Rules:
    - with a plan (`planned` flavor names): its flavors are the GPU flavors, and the aliases
      they ask (plus the plan's aliases) are the GPU aliases;
    - without: flavors with an alias that carry a gpuslice mark (created by gpuslice, or
      requiring CUSTOM_GPU_HOST); when none has a mark, those asking the slice's classes; when
      none does, every alias flavor (a cloud gpuslice did not set up);
    - a flavor asking only other aliases (an SR-IOV NIC) is never a GPU flavor.
    """
    names = set(planned)
    plan_aliases = tuple(aliases)
    with_alias = [f for f in snapshot.flavors if requested_aliases(f.extra_specs)]
    if names:
        chosen = [f for f in with_alias if f.name in names]
    else:
        chosen = (
            [f for f in with_alias if _marked(f)]
            or [f for f in with_alias if _asks_slice(f)]
            or with_alias
        )
    alias_names = {a.name for a in plan_aliases}
    if names or not alias_names:
        alias_names |= {name for f in chosen for name in requested_aliases(f.extra_specs)}

    def order(flavor: LiveFlavor) -> tuple[str, int, str]:
        (alias, count), *_ = requested_aliases(flavor.extra_specs).items()
        return alias, count, flavor.name

    return GpuMenu(
        flavors=tuple(sorted(chosen, key=order)),
        aliases=frozenset(alias_names),
        classes={pci_class(a.vendor_id, a.product_id): a.name for a in plan_aliases},
        devices={(a.vendor_id, a.product_id): a.name for a in plan_aliases},
    )


@dataclass(frozen=True)
class ModelCount:
    """GPUs of one model on one host: how many, and how many are free."""

    total: int
    free: int


def free_of(models: Mapping[str, ModelCount], alias: str) -> int | None:
    """GPUs of `alias` free on a host with these counts; None when the host's models are unknown.

    A host whose models are all known and lack `alias` has none of it free.
    """
    if alias in models:
        return models[alias].free
    if any(m == UNKNOWN_MODEL or m.startswith("CUSTOM_") for m in models) or not models:
        return None
    return 0


@dataclass(frozen=True)
class FlavorState:
    """One GPU flavor of the menu across the cloud: can it boot now, and if not, why.

    `free` is the GPUs of its model free in the whole cloud, `most_free` the most free on one
    host; fragmented: enough GPUs free in the cloud, but on no single host.
    """

    name: str
    alias: str
    gpus: int
    free: int | None
    most_free: int | None
    bootable_hosts: tuple[str, ...]

    @property
    def can_boot(self) -> bool:
        """Whether some host offers it now (a Placement candidate with its GPUs free)."""
        return bool(self.bootable_hosts)

    @property
    def fragmented(self) -> bool:
        """Enough GPUs of its model free in the cloud, but no host has `gpus` of them."""
        return (
            self.free is not None
            and self.most_free is not None
            and self.free >= self.gpus > self.most_free
        )

    @property
    def message(self) -> str:
        """One line for the operator."""
        if self.can_boot:
            return f"{self.name} can boot on {len(self.bootable_hosts)} host(s)"
        if self.fragmented:
            return (
                f"{self.free} {self.alias} free, but no host has {self.gpus} free: "
                f"{self.name} cannot boot"
            )
        if self.free is not None and self.free < self.gpus:
            return (
                f"{self.free} {self.alias} free in the cloud: {self.name} ({self.gpus}) cannot boot"
            )
        return f"{self.name} cannot boot now"


def flavor_states(
    menu: GpuMenu,
    hosts: Iterable[tuple[str, Mapping[str, ModelCount], Mapping[str, bool]]],
) -> tuple[FlavorState, ...]:
    """Per GPU flavor: GPUs of its model free in the cloud and per host, and where it boots.

    `hosts` are (name, GPUs per model, bootable per flavor name) of every GPU host.
    """
    rows = list(hosts)
    states = []
    for flavor in menu.flavors:
        asked = menu.alias_of(flavor)
        if asked is None:
            continue
        alias, count = asked
        free_each = [f for _, models, _ in rows if (f := free_of(models, alias)) is not None]
        states.append(
            FlavorState(
                name=flavor.name,
                alias=alias,
                gpus=count,
                free=sum(free_each) if free_each else None,
                most_free=max(free_each) if free_each else None,
                bootable_hosts=tuple(name for name, _, ok in rows if ok.get(flavor.name)),
            )
        )
    return tuple(states)
