"""vGPU models: the mdev options per release, each card's slice tied to its own provider, flavors.

nova's libvirt driver gives every physical GPU that offers the enabled mdev type a child
resource provider named `<hypervisor_hostname>_pci_<dddd>_<bb>_<ss>_<f>` holding VGPU.
From Victoria provider.yaml can name that provider (`identification: {name: ...}`) and add the
card's slice to it as custom inventory; a flavor whose one numbered group asks VGPU and the
slice classes then takes both from the same card (`tied`). Without provider.yaml (before
Victoria) or under a strategy that holds no slice per card, flavors ask VGPU alone and the
strategy's host-level hold is all there is (`pooled`).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from gpuslice.errors import InputError
from gpuslice.fleet import Fleet, GpuModel, Host, SliceSpec, VgpuFlavor
from gpuslice.inventory.device import GpuDevice
from gpuslice.plan.common import GPU_DISK, GPU_MEMORY, GPU_VCPU, NodeFiles, sized_flavor
from gpuslice.plan.types import NOVA_CONF, Flavor, Inventory, Note, Provider

VGPU = "VGPU"
#: A tied card's slice: classes of their own, so that no other flavor can reach them. With the
#: passthrough slice's classes a passthrough flavor's unnumbered slice request could come from
#: a vGPU card on a host with both (Placement takes an unnumbered class from any provider of the
#: tree that has it; seen on real nova 34: tests/twin/test_nova_vgpu_mixed.py).
VGPU_VCPU = "CUSTOM_VGPU_VCPU"
VGPU_MEMORY = "CUSTOM_VGPU_MEMORY_MB"
#: The numbered request group that ties vGPUs and slice to one card.
GROUP = "1"


def vgpu_trait(model: GpuModel) -> str:
    """The trait gpuslice puts on each card of `model` (`CUSTOM_VGPU_<ALIAS>`): a flavor asks
    for it in its numbered group, so it lands on a card of its own model even where a host mixes
    vGPU models (every mdev type reports the same VGPU class)."""
    return "CUSTOM_VGPU_" + re.sub(r"[^A-Z0-9]", "_", model.alias.upper())


def child_provider_name(host: Host, gpu: GpuDevice) -> str:
    """The name nova gives the card's provider: `<hypervisor_hostname>_<libvirt device name>`.

    nova 34 `virt/libvirt/driver.py` `_ensure_pgpu_providers`: `'%s_%s' % (nodename,
    pgpu_dev_id)` with libvirt's name `pci_0000_84_00_0`. The hypervisor hostname is what
    libvirt reports (often the FQDN): `Host.hypervisor`.
    """
    return f"{host.hypervisor}_pci_" + re.sub(r"[:.]", "_", gpu.address)


def is_tied(fleet: Fleet, strategy: str) -> bool:
    """Whether each card's slice sits on its own provider: strategy placement on a release
    with provider.yaml (Victoria, 22), unless the fleet asks `vgpu_slices: pooled`."""
    return (
        strategy == "placement"
        and fleet.release.has("provider_yaml")
        and fleet.vgpu_slices == "per_card"
    )


def check_vgpu(fleet: Fleet, strategy: str) -> None:
    """Refuse a vGPU fleet nova cannot run as planned.

    Rules: vGPUs need `[devices] enabled_vgpu_types` (Queens, 17); before Ussuri (21) nova
    uses one mdev type per host; split's second service would report the same cards under the
    same hypervisor hostname; dedicated CPUs (`cpu_dedicated_set`) cannot be combined with the
    vGPU slice's `reserved_host_cpus`.
    """
    if not fleet.vgpu_models:
        return
    release = fleet.release
    if release.fact("mdev_types_option") is None:
        msg = (
            f"vGPU models need [devices] enabled_vgpu_types, which nova has from Queens (17); "
            f"{release} has none. Pass the GPUs through whole (remove mode: vgpu)"
        )
        raise InputError(msg, source=fleet.source, field="gpu_models")
    if release.fact("mdev_type_section_prefix") is None:
        for host in fleet.hosts:
            types = {_type(fleet, g) for g in fleet.vgpu_gpus(host)}
            if len(types) > 1:
                msg = (
                    f"host {host.name}: vGPU types {', '.join(sorted(types))}; nova on {release} "
                    "uses one mdev type per host (per-card types need [vgpu_<type>] "
                    "device_addresses, Ussuri 21+). Use one type on this host"
                )
                raise InputError(msg, source=fleet.source, field=f"hosts[{host.name}]")
    if strategy == "split":
        msg = (
            "strategy split cannot serve vGPU models: the second nova-compute would report the "
            "same cards under the same hypervisor hostname. Use placement (Victoria+) or dedicated"
        )
        raise InputError(msg, source=fleet.source, field="strategy")
    if fleet.cpu_mode == "dedicated":
        msg = (
            "cpu_mode dedicated cannot hold vGPU slices: they are withheld with "
            "reserved_host_cpus, which nova refuses beside cpu_dedicated_set. Use cpu_mode: "
            "accounted"
        )
        raise InputError(msg, source=fleet.source, field="cpu_mode")


def _type(fleet: Fleet, gpu: GpuDevice) -> str:
    spec = fleet.model_of(gpu).vgpu
    assert spec is not None
    return spec.mdev_type


def mdev_options(fleet: Fleet, host: Host, files: NodeFiles) -> None:
    """The mdev options of the host's vGPU cards, under the release's names.

    `[devices] enabled_vgpu_types` (17) / `enabled_mdev_types` (24): the host's types; from
    Ussuri (21) each type's `[vgpu_<type>]` / `[mdev_<type>]` (24) `device_addresses` names its
    cards (one type per card); from Xena (24) `mdev_class = VGPU` (what the flavors ask for);
    from 2024.1 (29) `max_instances` = cards x vgpus_per_gpu (nova caps the type's total on
    the host, and drops a card whose vGPUs would pass it).
    """
    cards = fleet.vgpu_gpus(host)
    if not cards:
        return
    release = fleet.release
    by_type: dict[str, list[GpuDevice]] = {}
    for gpu in cards:
        by_type.setdefault(_type(fleet, gpu), []).append(gpu)
    section, name = release.fact("mdev_types_option")
    files.set(
        NOVA_CONF,
        section,
        name,
        ",".join(by_type),
        f"the vGPU types this host's cards are cut into; {name} is the name in {release}",
    )
    prefix = release.fact("mdev_type_section_prefix")
    if prefix is None:
        return
    for mdev_type, gpus in by_type.items():
        group = f"{prefix}{mdev_type}"
        files.set(
            NOVA_CONF,
            group,
            "device_addresses",
            ",".join(g.address for g in gpus),
            f"these cards offer {mdev_type}; each card gets one type and a provider of its own",
        )
        if release.has("mdev_class"):
            files.set(
                NOVA_CONF,
                group,
                "mdev_class",
                VGPU,
                "the resource class the vGPU flavors ask for",
            )
        if release.has("mdev_max_instances"):
            per_card = fleet.model_of(gpus[0]).vgpu
            assert per_card is not None
            files.set(
                NOVA_CONF,
                group,
                "max_instances",
                str(len(gpus) * per_card.vgpus_per_gpu),
                "cards x vgpus_per_gpu: the most vGPUs of this type the slices were sized for",
            )


def card_inventory(model: GpuModel) -> dict[str, Inventory]:
    """What one card's provider holds: VGPU (nova's) and the card's vCPUs and RAM (gpuslice's).

    The slice's disk stays on the root (the host's disk, pooled): a vGPU flavor must take
    something from the root, because nova's scheduler matches allocation candidates to a host
    by the providers they allocate from and skips a host whose root gets nothing (nova 34
    `scheduler/manager.py` `_schedule`, "if not host.allocation_candidates").
    """
    assert model.vgpu is not None
    held = model.gpu_slice
    return {
        VGPU: Inventory(model.vgpu.vgpus_per_gpu),
        VGPU_VCPU: Inventory(held.vcpus),
        VGPU_MEMORY: Inventory(held.memory_mb),
    }


def card_providers(
    fleet: Fleet, host: Host, *, with_slice: bool = True, with_trait: bool = True
) -> tuple[Provider, ...]:
    """One child provider per vGPU card of the host, by nova's name: VGPU (nova's) and, where
    provider.yaml adds them, the card's slice (`with_slice`) and its model's trait."""
    out = []
    for gpu in fleet.vgpu_gpus(host):
        model = fleet.model_of(gpu)
        inventory = card_inventory(model)
        out.append(
            Provider(
                child_provider_name(host, gpu),
                host.name,
                inventory if with_slice else {VGPU: inventory[VGPU]},
                (vgpu_trait(model),) if with_trait else (),
                (gpu,),
            )
        )
    return tuple(out)


def provider_entries(fleet: Fleet, host: Host, tied: bool = True) -> list[dict[str, Any]]:
    """provider.yaml entries adding each vGPU card's slice (when `tied`) and its model's trait
    to the card's own provider, found by name; nova creates the provider, provider.yaml only
    adds to it."""
    entries: list[dict[str, Any]] = []
    for provider in card_providers(fleet, host):
        entry: dict[str, Any] = {"identification": {"name": provider.name}}
        if tied:
            entry["inventories"] = {
                "additional": [
                    {rc: {"total": inv.total}}
                    for rc, inv in provider.inventories.items()
                    if rc != VGPU
                ]
            }
        entry["traits"] = {"additional": list(provider.traits)}
        entries.append(entry)
    return entries


def tied_specs(model: GpuModel, item: VgpuFlavor) -> dict[str, str]:
    """A tied vGPU flavor's extra specs: nothing standard; one numbered group asking the vGPUs,
    their vCPUs and RAM and the model's trait, so all come from one card's provider; their disk
    from the root's pooled slice (see `card_inventory` for why the root must give something)."""
    size = item.size(model.slice)
    g = GROUP
    return {
        "resources:VCPU": "0",
        "resources:MEMORY_MB": "0",
        "resources:DISK_GB": "0",
        f"resources:{GPU_DISK}": str(size.disk_gb),
        f"resources{g}:{VGPU}": str(item.vgpus),
        f"resources{g}:{VGPU_VCPU}": str(size.vcpus),
        f"resources{g}:{VGPU_MEMORY}": str(size.memory_mb),
        f"trait{g}:{vgpu_trait(model)}": "required",
    }


def pooled_specs(model: GpuModel, item: VgpuFlavor) -> dict[str, str]:
    """A pooled vGPU flavor's extra specs under placement: the vGPUs and the model's trait in
    the numbered group, the slice in the unnumbered one (the root's pool, any card's)."""
    size = item.size(model.slice)
    return {
        "resources:VCPU": "0",
        "resources:MEMORY_MB": "0",
        "resources:DISK_GB": "0",
        f"resources:{GPU_VCPU}": str(size.vcpus),
        f"resources:{GPU_MEMORY}": str(size.memory_mb),
        f"resources:{GPU_DISK}": str(size.disk_gb),
        f"resources{GROUP}:{VGPU}": str(item.vgpus),
        f"trait{GROUP}:{vgpu_trait(model)}": "required",
    }


def vgpu_only_specs(item: VgpuFlavor) -> dict[str, str]:
    """A vGPU flavor's extra specs where no slice is held per card: the vGPUs alone (the
    strategy adds its own)."""
    return {f"resources:{VGPU}": str(item.vgpus)}


def vgpu_flavors(
    fleet: Fleet, form: Literal["tied", "pooled", "vgpu_only"], extra: dict[str, str]
) -> tuple[Flavor, ...]:
    """Every flavor of every vGPU model in use: `vgpus` x the per-vGPU slice in size, with the
    specs of `form` plus the strategy's `extra`."""
    flavors: list[Flavor] = []
    for model in fleet.vgpu_models:
        assert model.vgpu is not None
        for item in model.vgpu.flavors:
            size: SliceSpec = item.size(model.slice)
            if form == "tied":
                own = tied_specs(model, item)
            elif form == "pooled":
                own = pooled_specs(model, item)
            else:
                own = vgpu_only_specs(item)
            flavors.append(sized_flavor(fleet, item.name, size, {**extra, **own}))
    return tuple(flavors)


def vgpu_traits(fleet: Fleet) -> tuple[str, ...]:
    """The traits of the vGPU models in use, one per model."""
    return tuple(vgpu_trait(m) for m in fleet.vgpu_models)


def vgpu_notes(fleet: Fleet, strategy: str) -> tuple[Note, ...]:
    """What the operator must know about the plan's vGPU cards (none without vGPU models)."""
    if not fleet.vgpu_models:
        return ()
    notes: list[Note] = []
    if is_tied(fleet, strategy):
        notes.append(
            Note(
                "vgpu",
                "each vGPU card's slice sits on the card's own provider "
                "(<hypervisor_hostname>_pci_<dddd>_<bb>_<ss>_<f>); a vGPU flavor's numbered "
                f"group resources{GROUP}: takes its vGPUs and their slice from the same card. "
                "Each flavor takes vgpus x the per-vGPU slice, so no flavor strands part of a "
                "card's slice",
            )
        )
        notes.append(
            Note(
                "vgpu-hostname",
                "the card providers are named after the hypervisor hostname libvirt reports "
                "(often the FQDN, `openstack hypervisor list`); set hypervisor_hostname per host "
                "where it differs from name. With a wrong name nova only logs a warning and "
                "ignores the entry (nova 34 resource_tracker `_get_providers_to_update`): the "
                "root still withholds the slice and no vGPU flavor boots; `gpuslice verify` "
                "checks the names",
            )
        )
    elif strategy == "placement" and fleet.release.has("provider_yaml"):
        notes.append(
            Note(
                "vgpu",
                "vgpu_slices: pooled: every vGPU card's slice is pooled on the root provider; "
                f"a vGPU flavor takes its vGPUs from one card (resources{GROUP}:VGPU) and its "
                "slice from the pool. It adds up while every flavor takes whole per-vGPU "
                "slices, but nothing ties a slice to its card; the default per_card does",
            )
        )
    else:
        why = (
            "no provider.yaml before Victoria (22)"
            if not fleet.release.has("provider_yaml")
            else f"strategy {strategy} holds no slice per card"
        )
        notes.append(
            Note(
                "vgpu",
                f"vGPU flavors ask resources:VGPU only ({why}); any slice is the strategy's "
                "host-level one, not tied to a card. Strategy placement on Victoria+ ties "
                "each card's slice to its provider",
            )
        )
    for model in fleet.vgpu_models:
        assert model.vgpu is not None
        notes.append(
            Note(
                "vgpu-count",
                f"GPU model {model.alias}: nova counts a card's vGPUs from its "
                f"{model.vgpu.mdev_type} available_instances; it must be "
                f"{model.vgpu.vgpus_per_gpu} (vgpus_per_gpu) on an empty card, or the card's "
                "VGPU and slice disagree (`gpuslice discover --sysfs /` shows it)",
            )
        )
    return tuple(notes)
