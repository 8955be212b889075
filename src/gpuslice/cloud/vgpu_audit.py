"""Audit of vGPU cards: per physical GPU, vGPUs used and free, slice held and used, and whether
each vGPU flavor can boot there now. Pure functions over a `CloudSnapshot`.

A card is a provider with VGPU inventory under a compute node's root (nova names it
`<hypervisor_hostname>_pci_<dddd>_<bb>_<ss>_<f>`). A vGPU flavor asks `resources1:VGPU=N` (its
numbered group: VGPU, the card's slice classes, `trait1:` traits) and, unnumbered, what the root
gives (the slice's disk). It can boot on a card when the card has N vGPUs and the group's slice
free and the group's traits, and the root has the rest free.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from gpuslice.cloud.state import CloudSnapshot, LiveFlavor, LiveProvider
from gpuslice.flavor_request import request_from_flavor, request_from_specs

VGPU: Final = "VGPU"


@dataclass(frozen=True)
class VgpuAsk:
    """What a vGPU flavor asks: its numbered group (resources, traits) and the unnumbered rest."""

    group: Mapping[str, int]
    group_traits: tuple[str, ...]
    root: Mapping[str, int]

    @property
    def vgpus(self) -> int:
        """The vGPUs the flavor takes from one card."""
        return self.group.get(VGPU, 0)


@dataclass(frozen=True)
class CardReport:
    """One vGPU card: its provider, vGPUs in all and used, slice held and used, bootable flavors."""

    host: str
    provider: str
    vgpus_total: int
    vgpus_used: int
    slice_held: Mapping[str, int] = field(default_factory=dict)
    slice_used: Mapping[str, int] = field(default_factory=dict)
    bootable: Mapping[str, bool] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        """The card as `gpuslice audit --json` lists it under `vgpu_cards`."""
        return {
            "host": self.host,
            "provider": self.provider,
            "vgpus_total": self.vgpus_total,
            "vgpus_used": self.vgpus_used,
            "vgpus_free": self.vgpus_total - self.vgpus_used,
            "slice_held": dict(self.slice_held),
            "slice_used": dict(self.slice_used),
            "bootable": dict(self.bootable),
        }


def vgpu_ask(flavor: LiveFlavor) -> VgpuAsk | None:
    """The flavor's vGPU ask, or None when no numbered group asks VGPU.

    Read as nova reads it (`gpuslice.flavor_request`, leniently): the first numbered
    group that asks VGPU is the card's; the unnumbered group is asked of the root (with the
    flavor's own VCPU, MEMORY_MB and DISK_GB where no group asks them; zeros drop a class).
    """
    spec = request_from_flavor(flavor, strict=False)
    card = next((g for g in spec.numbered if dict(g.resources).get(VGPU, 0) > 0), None)
    if card is None:
        return None
    unnumbered = spec.group("")
    root = {} if unnumbered is None else dict(unnumbered.resources)
    return VgpuAsk(dict(card.resources), tuple(sorted(card.required_traits)), root)


def vgpus_asked(extra_specs: Mapping[str, str]) -> int:
    """How many vGPUs extra specs ask for, numbered or not (0 if none)."""
    return request_from_specs(extra_specs).amount(VGPU)


def _free(provider: LiveProvider, rc: str) -> int:
    inventory = provider.inventories.get(rc)
    if inventory is None:
        return 0
    free = inventory.capacity - provider.usages.get(rc, 0)
    return min(free, inventory.max_unit) if inventory.max_unit is not None else free


def fits(ask: VgpuAsk, card: LiveProvider, root: LiveProvider | None) -> bool:
    """Whether a VM of `ask` can be placed on `card` now (and the rest on its root)."""
    if any(_free(card, rc) < n for rc, n in ask.group.items()):
        return False
    if not set(ask.group_traits) <= set(card.traits):
        return False
    return root is not None and all(_free(root, rc) >= n for rc, n in ask.root.items())


def card_reports(snapshot: CloudSnapshot, flavors: Iterable[LiveFlavor]) -> tuple[CardReport, ...]:
    """Every vGPU card of the cloud with its use and which vGPU flavors fit there now."""
    asks = {f.name: a for f in flavors if (a := vgpu_ask(f)) is not None}
    by_uuid = {p.uuid: p for p in snapshot.providers}
    reports = []
    for card in snapshot.providers:
        if VGPU not in card.inventories or card.parent_uuid is None:
            continue
        root = by_uuid.get(card.root_uuid)
        slice_classes = sorted(rc for rc in card.inventories if rc.startswith("CUSTOM_"))
        reports.append(
            CardReport(
                host=root.name if root is not None else card.root_uuid,
                provider=card.name,
                vgpus_total=card.inventories[VGPU].capacity,
                vgpus_used=card.usages.get(VGPU, 0),
                slice_held={rc: card.inventories[rc].capacity for rc in slice_classes},
                slice_used={rc: card.usages.get(rc, 0) for rc in slice_classes},
                bootable={name: fits(a, card, root) for name, a in sorted(asks.items())},
            )
        )
    return tuple(reports)


def vgpu_free_not_bootable(
    cards: Iterable[CardReport], flavors: Iterable[LiveFlavor]
) -> list[tuple[str, str, str]]:
    """(host, subject, message) for each card with N vGPUs free where an N-vGPU flavor cannot
    boot: the promise broken on that card (its slice used by others, missing, or the root full)."""
    asks = {f.name: a for f in flavors if (a := vgpu_ask(f)) is not None}
    found = []
    for card in cards:
        free = card.vgpus_total - card.vgpus_used
        for name, ask in sorted(asks.items()):
            if ask.vgpus > free or card.bootable.get(name, True):
                continue
            short = [
                f"{rc} {card.slice_held.get(rc, 0) - card.slice_used.get(rc, 0)} free < {n}"
                for rc, n in ask.group.items()
                if rc != VGPU and card.slice_held.get(rc, 0) - card.slice_used.get(rc, 0) < n
            ]
            why = "; ".join(short) or "the card lacks a required trait or the root is full"
            found.append(
                (
                    card.host,
                    f"{card.provider}/{name}",
                    f"{card.provider} has {free} vGPU(s) free but flavor {name} "
                    f"({ask.vgpus} vGPU(s)) cannot boot there: {why}",
                )
            )
    return found
