"""Decisions every strategy shares: aliases, passthrough specs, filters, flavors, aggregates.

Each function returns options or cloud objects with the rule that made them; option names and
sections always come from the release table (`gpuslice.releases`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from gpuslice.errors import InputError
from gpuslice.fleet import AllocationRatios, Fleet, GpuFlavor, GpuModel, Host, SliceSpec
from gpuslice.inventory.device import GpuDevice
from gpuslice.inventory.sriov import settle_commands
from gpuslice.plan.slicing import host_reserve, host_total
from gpuslice.plan.types import (
    NOVA_CONF,
    VFIO_MODPROBE,
    Aggregate,
    Document,
    Flavor,
    HostPlan,
    Inventory,
    Note,
    Option,
    PciAlias,
    Provider,
    Resources,
)

GPU_TRAIT = "CUSTOM_GPU_HOST"
# The slice's custom resource classes (placement offers the slice back in them).
GPU_VCPU = "CUSTOM_GPU_VCPU"
GPU_MEMORY = "CUSTOM_GPU_MEMORY_MB"
GPU_DISK = "CUSTOM_GPU_DISK_GB"


@dataclass
class NodeFiles:
    """Options and documents collected for one machine while a strategy plans."""

    options: list[Option] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)

    def set(
        self, path: str, section: str, name: str, value: str | tuple[str, ...], rule: str
    ) -> None:
        """Set one option; setting the same option twice is a planner bug."""
        for existing in self.options:
            if (existing.path, existing.section, existing.name) == (path, section, name):
                raise AssertionError(f"{path} [{section}] {name} planned twice")
        self.options.append(Option(path, section, name, value, rule))


def models_on(fleet: Fleet, host: Host) -> tuple[GpuModel, ...]:
    """The passthrough GPU models present on `host`, in fleet order (vGPU models are cut into
    mdevs by `gpuslice.plan.vgpu`, never passed through whole)."""
    present = {(g.vendor_id, g.product_id) for g in host.gpus}
    return tuple(
        m for m in fleet.models if (m.vendor_id, m.product_id) in present and m.vgpu is None
    )


def used_models(fleet: Fleet) -> tuple[GpuModel, ...]:
    """The passthrough GPU models present on at least one host (vGPU models have no alias)."""
    return tuple(m for m in fleet.used_models if m.vgpu is None)


def aliases(fleet: Fleet) -> tuple[PciAlias, ...]:
    """One alias per GPU model in use, asking for the device type nova gives that model.

    nova 34 drops pools of type-PF devices unless the alias asks for type-PF
    (`nova/pci/stats.py`, `_filter_pools_for_unrequested_pfs`), and matches an alias's
    `device_type` against the device's exactly: an SR-IOV-capable GPU needs `type-PF`. A model
    whose type is unknown keeps `type-PCI` (and the plan says so: `device_type_notes`).
    """
    return tuple(
        PciAlias(m.alias, m.vendor_id, m.product_id, m.device_type or "type-PCI")
        for m in used_models(fleet)
    )


def device_type_notes(fleet: Fleet) -> tuple[Note, ...]:
    """A warning per GPU model in use whose device type nobody could tell.

    It names one of its GPUs and the commands that settle the type on that host.
    """
    notes: list[Note] = []
    for model in used_models(fleet):
        if model.device_type is not None:
            continue
        host, gpu = next(
            (h.name, g)
            for h in fleet.hosts
            for g in h.gpus
            if (g.vendor_id, g.product_id) == (model.vendor_id, model.product_id)
        )
        notes.append(
            Note(
                "device_type",
                f"GPU model {model.alias} ({model.vendor_product}): neither the fleet file nor "
                "the capture says whether nova sees these GPUs as type-PCI or, SR-IOV capable "
                "(A100, A30, A16, H100, L40S, MI210, MI300X, Intel Flex/Max), as type-PF; the "
                "alias says type-PCI, and on an SR-IOV-capable GPU every GPU flavor would get "
                f"No valid host. Settle it on {host}: {settle_commands(gpu.address)}; then set "
                "device_type on the model under gpu_models (or on each GPU under gpus:), or "
                "capture with `lspci -nn -vvv` as root.",
            )
        )
    return tuple(notes)


def _json(data: Mapping[str, object]) -> str:
    return json.dumps(data, separators=(", ", ": "))


def alias_option(fleet: Fleet, files: NodeFiles, path: str = NOVA_CONF) -> None:
    """Render the PCI alias; nova-api reads it at boot and nova-compute at resize and move.

    One alias per line: nova reads a JSON list in the passthrough spec but not in the alias.
    A fleet without GPUs gets no alias.
    """
    if not aliases(fleet):
        return
    section, name = fleet.release.fact("pci_alias")
    values = tuple(
        _json(
            {
                "vendor_id": a.vendor_id,
                "product_id": a.product_id,
                "name": a.name,
                "device_type": a.device_type,
            }
        )
        for a in aliases(fleet)
    )
    files.set(
        path,
        section,
        name,
        values,
        "the alias is read by nova-api (boot) and nova-compute (resize, move)",
    )


def passthrough_option(fleet: Fleet, host: Host, files: NodeFiles, path: str = NOVA_CONF) -> None:
    """Whitelist the host's GPU models for passthrough, one spec per line.

    A spec matches by vendor and product id whatever the model's device type: nova 34's
    device_spec has no device type (an unknown key is only a tag), and an address spec of a
    PF would match its virtual functions too (`pci/devspec.py`, `WhitelistPciAddress.match`).
    VFs of a vendor vfio variant driver are the exception: one spec per VF (`_variant_specs`).
    """
    section, name = fleet.release.fact("passthrough_spec")
    specs = []
    for model in models_on(fleet, host):
        spec: dict[str, object] = {"vendor_id": model.vendor_id, "product_id": model.product_id}
        if fleet.pci_in_placement and fleet.release.has("device_spec_resource_class"):
            spec["traits"] = GPU_TRAIT
        if model.vfio_variant:
            specs.extend(_variant_specs(fleet, host, model, spec))
            continue
        specs.append(_json(spec))
    if not specs:
        return
    files.set(
        path,
        section,
        name,
        tuple(specs),
        f"these GPUs ({', '.join(m.vendor_product for m in models_on(fleet, host))}) may be "
        f"passed through; {name} is the name in {fleet.release}",
    )
    if fleet.pci_in_placement and fleet.release.has("pci_report_in_placement"):
        files.set(
            path,
            "pci",
            "report_in_placement",
            "True",
            "PCI devices are tracked in Placement (cannot be turned off once on)",
        )


def _variant_specs(fleet: Fleet, host: Host, model: GpuModel, base: dict[str, object]) -> list[str]:
    """One spec per listed VF of a `vfio_variant` model, by its address, with `managed: no`.

    Rules: by address, because the VFs share their card's vendor and product id and a
    vendor/product spec would also offer VFs that carry no vGPU type; `managed: no` (nova 31
    `pci/devspec.py`) so libvirt leaves each VF on the vendor's vfio variant driver instead of
    rebinding it to vfio-pci (`check_vfio_variant` refuses older releases).
    """
    ids = (model.vendor_id, model.product_id)
    return [
        _json({**base, "address": gpu.address, "managed": "no"})
        for gpu in host.gpus
        if (gpu.vendor_id, gpu.product_id) == ids
    ]


def check_vfio_variant(fleet: Fleet) -> None:
    """Refuse VFs of a vendor vfio variant driver (`vfio_variant: true`) before nova 31.

    nova registers device_spec's `managed` tag from 2025.1 (31); before, it keeps an unknown
    tag as a mere label and libvirt attaches with managed='yes', rebinding the VF to vfio-pci
    and taking it off the variant driver that makes it a vGPU.
    """
    variant = [m.alias for m in used_models(fleet) if m.vfio_variant]
    if variant and not fleet.release.has("device_spec_managed"):
        msg = (
            f"GPU model(s) {', '.join(variant)}: vfio_variant needs device_spec's managed: no, "
            f"which nova has from 2025.1 (31); on {fleet.release} libvirt would rebind each VF "
            "to vfio-pci and take it off the vendor's variant driver. Plan for 2025.1 or later"
        )
        raise InputError(msg, source=fleet.source, field="gpu_models")


def vfio_bound(fleet: Fleet, gpus: Iterable[GpuDevice]) -> tuple[GpuDevice, ...]:
    """The GPUs to bind to vfio-pci: all but the VFs of a vendor vfio variant driver (their
    ids are their card's too: binding them would take the card off its host driver)."""
    return tuple(g for g in gpus if not fleet.model_of(g).vfio_variant)


def check_pci_in_placement(fleet: Fleet) -> None:
    """Refuse `pci_in_placement` on a release without `[pci] report_in_placement` (before Zed).

    nova registers `[pci] report_in_placement` from Zed (26) only; an older nova-compute
    ignores the unknown option and the plan would promise what nova does not do.
    """
    if fleet.pci_in_placement and not fleet.release.has("pci_report_in_placement"):
        msg = (
            f"pci_in_placement needs [pci] report_in_placement, which nova has from Zed (26); "
            f"{fleet.release} does not. Remove pci_in_placement or plan for a later release"
        )
        raise InputError(msg, source=fleet.source, field="pci_in_placement")


def pci_in_placement_scheduling(fleet: Fleet) -> bool:
    """Whether the scheduler asks Placement for PCI devices: the fleet wants it and the release
    has `[filter_scheduler] pci_in_placement` (2023.1, 27+). Every strategy uses this answer."""
    return fleet.pci_in_placement and fleet.release.has("pci_in_placement_scheduling")


def scheduler_filters(fleet: Fleet, extra: Iterable[str]) -> tuple[str, ...]:
    """nova's default filters for the release plus what the plan needs, without repeats.

    `PciPassthroughFilter` is in no release's defaults: a plan with GPUs always adds it.
    """
    filters = list(fleet.release.fact("default_filters"))
    for name in ("PciPassthroughFilter", *extra):
        if name not in filters:
            filters.append(name)
    return tuple(filters)


def filters_option(fleet: Fleet, filters: tuple[str, ...], files: NodeFiles) -> None:
    """Render the scheduler's filter list under the release's option name.

    Newton reads `[DEFAULT] scheduler_default_filters`; from Ocata (15) it is
    `[filter_scheduler] enabled_filters` (the old name only a deprecated alias).
    """
    section, name = fleet.release.fact("scheduler_filters")
    files.set(
        NOVA_CONF,
        section,
        name,
        ",".join(filters),
        "nova's default filters plus PciPassthroughFilter (in no default list) and the "
        "filters this strategy relies on",
    )


def ratio_options(fleet: Fleet, files: NodeFiles, path: str = NOVA_CONF) -> None:
    """Pin the overcommit ratios, so that the plan's arithmetic is what nova reports."""
    ratios = fleet.ratios
    for name, value in (
        ("cpu_allocation_ratio", ratios.cpu),
        ("ram_allocation_ratio", ratios.ram),
        ("disk_allocation_ratio", ratios.disk),
    ):
        files.set(
            path,
            "DEFAULT",
            name,
            _number(value),
            "the general part's overcommit, written out so nova and the plan agree",
        )


def reserve_options(
    memory_mb: int, disk_mb: int, files: NodeFiles, rule: str, path: str = NOVA_CONF
) -> None:
    """Render reserved_host_memory_mb and reserved_host_disk_mb with the rule that sized them."""
    files.set(path, "DEFAULT", "reserved_host_memory_mb", str(memory_mb), rule)
    files.set(path, "DEFAULT", "reserved_host_disk_mb", str(disk_mb), rule)


def _number(value: float) -> str:
    return str(int(value)) + ".0" if float(value).is_integer() else str(value)


def vfio_document(host: Host, gpus: Iterable[GpuDevice] | None = None) -> Document:
    """modprobe options binding the GPUs and their companion functions to vfio-pci.

    `gpus` are the passed-through ones (default: all the host's); vGPU cards stay with their
    vendor's host driver.
    """
    chosen = tuple(host.gpus if gpus is None else gpus)
    ids = sorted({d.vendor_product for d in (*chosen, *host.companions) if d.vendor_product})
    return Document(
        VFIO_MODPROBE,
        {"options vfio-pci ids": ",".join(ids)},
        "a GPU and its companion functions (HDMI audio) must all be bound to vfio-pci",
    )


def standard_inventory(
    fleet: Fleet,
    vcpus: int,
    reserved: Resources,
    total: Resources,
    *,
    rendered: bool = True,
) -> dict[str, Inventory]:
    """VCPU, MEMORY_MB and DISK_GB as nova reports them for `total` with `reserved` held back.

    Ratios: the fleet's on a host gpuslice renders config for (`rendered`) or when the fleet
    states them; else nova's initial ratios for the release.
    """
    ratios = fleet.ratios
    if not rendered and not fleet.ratios_stated:
        ratios = AllocationRatios(*fleet.release.fact("initial_allocation_ratios"))
    return {
        "VCPU": Inventory(vcpus, reserved.vcpus, allocation_ratio=ratios.cpu),
        "MEMORY_MB": Inventory(total.memory_mb, reserved.memory_mb, allocation_ratio=ratios.ram),
        "DISK_GB": Inventory(total.disk_gb, reserved.disk_gb, allocation_ratio=ratios.disk),
    }


def plain_host_plan(fleet: Fleet, host: Host) -> HostPlan:
    """A host without GPUs under any strategy: one provider, nothing held back, no file.

    gpuslice renders no config for it, so its inventory follows `standard_inventory`'s rule for
    hosts it does not render (the release's initial ratios unless the fleet states its own);
    its reserve is the fleet's `host_reserve`, whose default is nova's (512 MB, no CPU or disk).
    """
    total = host_total(host)
    reserve = host_reserve(fleet)
    inventories = standard_inventory(fleet, total.vcpus, reserve, total, rendered=False)
    return HostPlan(
        host,
        total,
        reserve,
        total - reserve,
        Resources(),
        host.cpus,
        (),
        (Provider(host.name, host.name, inventories),),
    )


SpecsOf = Callable[[SliceSpec], Mapping[str, str]]


def gpu_flavor(
    fleet: Fleet, model: GpuModel, item: GpuFlavor, extra_specs: Mapping[str, str]
) -> Flavor:
    """One flavor of `model`'s menu: `alias:k` for its k GPUs, its size (k slices unless the
    fleet lowers them), and the strategy's extra specs."""
    specs = {"pci_passthrough:alias": f"{model.alias}:{item.gpus}", **extra_specs}
    return sized_flavor(fleet, item.name, item.size(model.slice), specs)


def sized_flavor(fleet: Fleet, name: str, size: SliceSpec, specs: Mapping[str, str]) -> Flavor:
    """A GPU flavor of `size` with `specs` (sorted by key), public or for the fleet's projects
    as its flavor policy says."""
    return Flavor(
        name=name,
        vcpus=size.vcpus,
        ram=size.memory_mb,
        disk=size.disk_gb,
        is_public=fleet.flavors.is_public,
        extra_specs=dict(sorted(specs.items())),
        projects=fleet.flavors.projects,
    )


def gpu_flavors(fleet: Fleet, specs: Mapping[str, str] | SpecsOf) -> tuple[Flavor, ...]:
    """Every flavor of every GPU model in use, model by model, fewest GPUs first.

    `specs` are the strategy's extra specs, or a function of the flavor's size giving them
    (placement asks for the size in custom classes).
    """
    return tuple(
        gpu_flavor(fleet, model, item, specs(item.size(model.slice)) if callable(specs) else specs)
        for model in used_models(fleet)
        for item in model.menu
    )


def flavor_names(fleet: Fleet) -> str:
    """The names of every GPU flavor in use, passthrough and vGPU, comma-separated (aggregate
    `instance_type`)."""
    names = [item.name for model in used_models(fleet) for item in model.menu]
    names += [f.name for m in fleet.vgpu_models if m.vgpu is not None for f in m.vgpu.flavors]
    return ",".join(names)


def gpu_aggregate(fleet: Fleet, hosts: Iterable[str], metadata: Mapping[str, str]) -> Aggregate:
    """The GPU aggregate: `<aggregate>=true` plus the strategy's metadata, with its hosts."""
    meta = {fleet.aggregate: "true", **metadata}
    return Aggregate(fleet.aggregate, dict(sorted(meta.items())), tuple(hosts))
