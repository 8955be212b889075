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
from gpuslice.fleet import Fleet, GpuModel, Host, SliceSpec, VgpuFlavor, VgpuSpec
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


def provider_name(host: Host, address: str) -> str:
    """The name nova gives the provider of the function at `address` that offers the mdev
    type: `<hypervisor_hostname>_<libvirt device name>`.

    nova 34 `virt/libvirt/driver.py` `_ensure_pgpu_providers`: `'%s_%s' % (nodename,
    pgpu_dev_id)` with libvirt's name `pci_0000_84_00_0`, for every mdev-capable device
    libvirt lists: the card, or each of its virtual functions where they offer the type. The
    hypervisor hostname is what libvirt reports (often the FQDN): `Host.hypervisor`.
    """
    return f"{host.hypervisor}_pci_" + re.sub(r"[:.]", "_", address)


def child_provider_name(host: Host, gpu: GpuDevice) -> str:
    """The name nova gives the provider of the card `gpu` itself (see `provider_name`)."""
    return provider_name(host, gpu.address)


def mdev_parents(host: Host, gpu: GpuDevice, spec: VgpuSpec) -> tuple[str, ...]:
    """The functions of card `gpu` that nova creates its vGPUs on, by address.

    Rules: the card itself when its model's type sits on the card (`vgpu_on: card`); else the
    first `vgpus_per_gpu` of the virtual functions the fleet lists for it, one vGPU each.
    A VF offers the type (available_instances 1) until the card is full, so listing more VFs
    in device_addresses would let nova offer more vGPUs than the card holds.
    """
    if spec.on == "card":
        return (gpu.address,)
    return host.vfs_of(gpu)[: spec.vgpus_per_gpu]


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
    if release.fact("mdev_type_section_prefix") is None:
        for model in fleet.vgpu_models:
            assert model.vgpu is not None
            if model.vgpu.on == "vfs":
                msg = (
                    f"GPU model {model.alias}: vgpu_on: vfs needs [vgpu_<type>] "
                    f"device_addresses (Ussuri, 21+) to name the virtual functions; {release} "
                    "would cut the type on every function it finds. Plan for Ussuri or later"
                )
                raise InputError(msg, source=fleet.source, field="gpu_models")
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
    by_type: dict[str, list[str]] = {}
    per_parent: dict[str, int] = {}
    for gpu in cards:
        spec = fleet.model_of(gpu).vgpu
        assert spec is not None
        parents = mdev_parents(host, gpu, spec)
        by_type.setdefault(spec.mdev_type, []).extend(parents)
        per_parent[spec.mdev_type] = 1 if spec.on == "vfs" else spec.vgpus_per_gpu
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
    for mdev_type, addresses in by_type.items():
        group = f"{prefix}{mdev_type}"
        files.set(
            NOVA_CONF,
            group,
            "device_addresses",
            ",".join(addresses),
            f"these functions (cards, or their virtual functions) offer {mdev_type}; each "
            "gets one type and a provider of its own",
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
            files.set(
                NOVA_CONF,
                group,
                "max_instances",
                str(len(addresses) * per_parent[mdev_type]),
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


def parent_inventory(model: GpuModel) -> dict[str, Inventory]:
    """What the provider of one function offering the type holds: a whole card's VGPU and
    slice (`card_inventory`), or for `vgpu_on: vfs` one virtual function's single vGPU and
    one per-vGPU slice."""
    assert model.vgpu is not None
    if model.vgpu.on == "card":
        return card_inventory(model)
    return {
        VGPU: Inventory(1),
        VGPU_VCPU: Inventory(model.slice.vcpus),
        VGPU_MEMORY: Inventory(model.slice.memory_mb),
    }


def card_providers(
    fleet: Fleet, host: Host, *, with_slice: bool = True, with_trait: bool = True
) -> tuple[Provider, ...]:
    """One child provider per function offering the type (each vGPU card, or each of its
    virtual functions in use), by nova's name: VGPU (nova's) and, where provider.yaml adds
    them, the slice it holds (`with_slice`) and its model's trait."""
    out = []
    for gpu, address in vgpu_parents(fleet, host):
        model = fleet.model_of(gpu)
        inventory = parent_inventory(model)
        out.append(
            Provider(
                provider_name(host, address),
                host.name,
                inventory if with_slice else {VGPU: inventory[VGPU]},
                (vgpu_trait(model),) if with_trait else (),
                (gpu,),
            )
        )
    return tuple(out)


def vgpu_parents(fleet: Fleet, host: Host) -> tuple[tuple[GpuDevice, str], ...]:
    """(card, address) of every function of the host's vGPU cards that nova creates vGPUs
    on (`mdev_parents`), in card order."""
    out: list[tuple[GpuDevice, str]] = []
    for gpu in fleet.vgpu_gpus(host):
        spec = fleet.model_of(gpu).vgpu
        assert spec is not None
        out.extend((gpu, address) for address in mdev_parents(host, gpu, spec))
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


def vgpu_groups(model: GpuModel, item: VgpuFlavor) -> tuple[tuple[str, int], ...]:
    """The numbered request groups a flavor's vGPUs are asked in, with the vGPUs of each.

    Rules: one group with all `vgpus` where a card holds them (`vgpu_on: card`); where each
    virtual function holds one vGPU (`vgpu_on: vfs`), one group per vGPU (`resources1`,
    `resources2`, ...): Placement never splits one group's VGPU over providers.
    """
    assert model.vgpu is not None
    if model.vgpu.on == "card":
        return ((GROUP, item.vgpus),)
    return tuple((str(n), 1) for n in range(1, item.vgpus + 1))


def _group_policy(groups: tuple[tuple[str, int], ...]) -> dict[str, str]:
    """`group_policy=isolate` where a flavor has several numbered groups (Placement requires a
    policy then); each group lands on a provider of its own."""
    return {"group_policy": "isolate"} if len(groups) > 1 else {}


def tied_specs(model: GpuModel, item: VgpuFlavor) -> dict[str, str]:
    """A tied vGPU flavor's extra specs: nothing standard; numbered groups asking the vGPUs,
    their vCPUs and RAM and the model's trait, so each group's vGPUs and their slice come from
    one provider (a card, or a virtual function); their disk from the root's pooled slice (see
    `card_inventory` for why the root must give something)."""
    size = item.size(model.slice)
    specs = {
        "resources:VCPU": "0",
        "resources:MEMORY_MB": "0",
        "resources:DISK_GB": "0",
        f"resources:{GPU_DISK}": str(size.disk_gb),
    }
    groups = vgpu_groups(model, item)
    for g, vgpus in groups:
        share = VgpuFlavor(item.name, vgpus).size(model.slice)
        specs[f"resources{g}:{VGPU}"] = str(vgpus)
        specs[f"resources{g}:{VGPU_VCPU}"] = str(share.vcpus)
        specs[f"resources{g}:{VGPU_MEMORY}"] = str(share.memory_mb)
        specs[f"trait{g}:{vgpu_trait(model)}"] = "required"
    return {**specs, **_group_policy(groups)}


def pooled_specs(model: GpuModel, item: VgpuFlavor) -> dict[str, str]:
    """A pooled vGPU flavor's extra specs under placement: the vGPUs and the model's trait in
    numbered groups, the slice in the unnumbered one (the root's pool, any card's)."""
    size = item.size(model.slice)
    specs = {
        "resources:VCPU": "0",
        "resources:MEMORY_MB": "0",
        "resources:DISK_GB": "0",
        f"resources:{GPU_VCPU}": str(size.vcpus),
        f"resources:{GPU_MEMORY}": str(size.memory_mb),
        f"resources:{GPU_DISK}": str(size.disk_gb),
    }
    groups = vgpu_groups(model, item)
    for g, vgpus in groups:
        specs[f"resources{g}:{VGPU}"] = str(vgpus)
        specs[f"trait{g}:{vgpu_trait(model)}"] = "required"
    return {**specs, **_group_policy(groups)}


def vgpu_only_specs(model: GpuModel, item: VgpuFlavor) -> dict[str, str]:
    """A vGPU flavor's extra specs where no slice is held per card: the vGPUs alone (the
    strategy adds its own), unnumbered where one provider holds them all."""
    groups = vgpu_groups(model, item)
    if len(groups) == 1:
        return {f"resources:{VGPU}": str(item.vgpus)}
    return {
        **{f"resources{g}:{VGPU}": str(vgpus) for g, vgpus in groups},
        **_group_policy(groups),
    }


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
                own = vgpu_only_specs(model, item)
            flavors.append(sized_flavor(fleet, item.name, size, {**extra, **own}))
    return tuple(flavors)


def vgpu_traits(fleet: Fleet) -> tuple[str, ...]:
    """The traits of the vGPU models in use, one per model."""
    return tuple(vgpu_trait(m) for m in fleet.vgpu_models)


def vgpu_notes(fleet: Fleet, strategy: str) -> tuple[Note, ...]:
    """What the operator must know about the plan's vGPU cards and vGPU VFs (none without)."""
    notes: list[Note] = [_variant_note(m) for m in fleet.used_models if m.vfio_variant]
    if not fleet.vgpu_models:
        return tuple(notes)
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
        if model.vgpu.on == "vfs":
            notes.extend(_vf_notes(fleet, model))
            continue
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


def _vf_notes(fleet: Fleet, model: GpuModel) -> list[Note]:
    """What the operator must know about a model whose types sit on its virtual functions."""
    assert model.vgpu is not None
    n = model.vgpu.vgpus_per_gpu
    notes = [
        Note(
            "vgpu-sriov",
            f"GPU model {model.alias}: {model.vgpu.mdev_type} sits on each card's virtual "
            f"functions, one vGPU per VF; nova makes a provider per VF "
            "(<hypervisor_hostname>_pci_<VF address>), so device_addresses lists the first "
            f"{n} listed VFs of each card (vgpus_per_gpu) and each VF's provider holds one "
            "vGPU and one per-vGPU slice. A k-vGPU flavor asks k numbered groups "
            "(group_policy=isolate), one VF each; its vGPUs may come from different cards",
        ),
        Note(
            "vgpu-count",
            f"GPU model {model.alias}: nova counts a VF's vGPUs from its "
            f"{model.vgpu.mdev_type} available_instances; it must be 1 on every listed VF of "
            "an empty card (`gpuslice discover --sysfs /` shows it under mdev)",
        ),
    ]
    extra = [
        f"{host.name} {gpu.address}: {', '.join(host.vfs_of(gpu)[n:])}"
        for host in fleet.hosts
        for gpu in fleet.vgpu_gpus(host)
        if fleet.model_of(gpu) is model and len(host.vfs_of(gpu)) > n
    ]
    if extra:
        notes.append(
            Note(
                "vgpu-sriov",
                f"GPU model {model.alias}: these listed VFs are left out of device_addresses "
                f"(each card holds {n} vGPUs): " + "; ".join(extra),
            )
        )
    return notes


def _variant_note(model: GpuModel) -> Note:
    """What the operator must know about VFs passed through by a vendor vfio variant driver."""
    return Note(
        "vgpu-vfio-variant",
        f"GPU model {model.alias}: each listed VF is one vGPU, its type set through the "
        "vendor's sysfs before nova starts, on the vendor's vfio variant driver; device_spec "
        "names each VF with managed: no, so libvirt does not rebind it to vfio-pci, and the "
        "VFs are not bound to vfio-pci by modprobe. Each VF holds one slice, pooled on the host "
        "(passthrough cannot be tied to its device)",
    )
