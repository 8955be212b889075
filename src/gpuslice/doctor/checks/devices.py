"""What the checks share about a host's PCI functions: its GPUs, their companions, drivers.

Rules:
- a GPU is a function `gpuslice.inventory.classify` takes for a passthrough candidate; the
  checks judge every GPU, or where a fleet lists the host's GPUs, only those (`judged`);
- a *companion* of a GPU is another function of its card: in its slot (its HDMI audio, USB-C
  controller, serial bus), or in its IOMMU group from the GPU's vendor (a card whose functions
  sit behind its own PCIe switch); bridges (class 06xx) and GPUs are never companions;
- an *unrelated* member is a function in the GPU's IOMMU group outside its slot, of another
  vendor, that is neither a bridge nor a GPU (a NIC, a disk controller);
- a VFIO driver is `vfio-pci` or a vendor variant of it (a name ending in `vfio-pci`, such as
  `nvgrace-gpu-vfio-pci`); `-` and `_` are the same in driver names;
- a *variant VF* is a GPU the fleet lists for a `vfio_variant` model (without a fleet: a VF a
  variant driver holds): a VF its vendor's vfio variant driver must already hold (nova's
  `managed: no`), so it is no vfio-pci candidate; a
  variant driver is a driver whose name holds `vfio` and that is not vfio-pci itself
  (`nvidia_vgpu_vfio`, `nvgrace_gpu_vfio_pci`).
"""

from __future__ import annotations

import contextlib

from gpuslice.doctor.config import module_name
from gpuslice.doctor.snapshot import HostSnapshot
from gpuslice.doctor.verdict import CheckContext
from gpuslice.inventory.address import PciAddress
from gpuslice.inventory.classify import effective_vendor_id, exclusion_reason
from gpuslice.inventory.function import PciFunction

#: Host drivers of each GPU vendor that take a GPU before vfio-pci can.
GPU_HOST_DRIVERS: dict[str, tuple[str, ...]] = {
    "10de": ("nouveau", "nvidia", "nvidiafb"),
    "1002": ("amdgpu", "radeon"),
    "8086": ("i915", "xe"),
    "1da3": ("habanalabs",),
}
REBUILD = "rebuild the initramfs (dracut -f, or update-initramfs -u) and reboot"
#: Drivers whose module has another name (the driver name is what sysfs shows).
DRIVER_MODULES: dict[str, str] = {
    "xhci_hcd": "xhci_pci",
    "nvidia_gpu": "i2c_nvidia_gpu",
    "pcieport": "",
}


def is_vfio(driver: str | None) -> bool:
    """Whether `driver` is vfio-pci or a vendor's variant of it."""
    if driver is None:
        return False
    name = module_name(driver)
    return name == "vfio_pci" or name.endswith("_vfio_pci")


def is_variant_driver(driver: str | None) -> bool:
    """Whether `driver` is a vendor's vfio variant driver (not vfio-pci itself)."""
    if driver is None:
        return False
    name = module_name(driver)
    return "vfio" in name and name != "vfio_pci"


def driver_module(driver: str) -> str:
    """The module to order or block for `driver` ('' for a built-in such as pcieport)."""
    name = module_name(driver)
    return DRIVER_MODULES.get(name, name)


def is_bridge(function: PciFunction) -> bool:
    """A PCI bridge or other bridge (class 06xx), which never goes to a VM."""
    class_id = function.effective_class
    return class_id is not None and class_id.startswith("06")


def gpus(host: HostSnapshot) -> tuple[PciFunction, ...]:
    """The host's GPUs (passthrough candidates), in address order."""
    return tuple(f for f in host.functions if exclusion_reason(f) is None)


def judged(host: HostSnapshot, context: CheckContext) -> tuple[PciFunction, ...]:
    """The GPUs the checks judge: where a fleet lists the host's GPUs, those (and their SR-IOV
    virtual functions); else every GPU. A GPU the fleet leaves out stays the host's."""
    every = gpus(host)
    if not context.fleet_gpus:
        return every
    wanted = set()
    for address, _ in context.fleet_gpus:
        with contextlib.suppress(ValueError):
            wanted.add(PciAddress.parse(address))
    return tuple(g for g in every if g.address in wanted or host.physfn.get(g.address) in wanted)


def variant_vfs(host: HostSnapshot, context: CheckContext) -> tuple[PciFunction, ...]:
    """The judged GPUs the fleet lists for a `vfio_variant` model (see the rules); without a
    fleet, the virtual functions a variant driver holds now (nothing else can tell)."""
    if context.fleet_gpus is None:
        return tuple(
            g for g in gpus(host) if g.function == "virtual" and is_variant_driver(g.driver)
        )
    wanted = set()
    for address in context.variant_vfs:
        with contextlib.suppress(ValueError):
            wanted.add(PciAddress.parse(address))
    return tuple(g for g in judged(host, context) if g.address in wanted)


def vfio_candidates(host: HostSnapshot, context: CheckContext) -> tuple[PciFunction, ...]:
    """The judged GPUs that go to vfio-pci: all but the variant VFs."""
    variant = {g.address for g in variant_vfs(host, context)}
    return tuple(g for g in judged(host, context) if g.address not in variant)


def physical_gpus(host: HostSnapshot, context: CheckContext) -> tuple[PciFunction, ...]:
    """The judged GPUs that are not SR-IOV virtual functions (the cards themselves)."""
    return tuple(f for f in judged(host, context) if f.function == "physical")


def companions(host: HostSnapshot, gpu: PciFunction) -> tuple[PciFunction, ...]:
    """The other functions of `gpu`'s card (see the rules), bridges and GPUs left out."""
    mine = {g.address for g in gpus(host)}
    in_group = {f.address for f in group_of(host, gpu) if _same_vendor(f, gpu)}
    return tuple(
        f
        for f in host.functions
        if (f.address.slot == gpu.address.slot or f.address in in_group)
        and f.address != gpu.address
        and f.address not in mine
        and not is_bridge(f)
    )


def _same_vendor(function: PciFunction, gpu: PciFunction) -> bool:
    vendor = effective_vendor_id(function)
    return vendor is not None and vendor == effective_vendor_id(gpu)


def group_of(host: HostSnapshot, gpu: PciFunction) -> tuple[PciFunction, ...]:
    """The other members of `gpu`'s IOMMU group (empty when it has none)."""
    if gpu.iommu_group is None:
        return ()
    return tuple(f for f in host.group_members(gpu.iommu_group) if f.address != gpu.address)


def unrelated(host: HostSnapshot, gpu: PciFunction) -> tuple[PciFunction, ...]:
    """Members of `gpu`'s IOMMU group outside its card that are neither bridges nor GPUs."""
    mine = {g.address for g in gpus(host)}
    return tuple(
        f
        for f in group_of(host, gpu)
        if f.address.slot != gpu.address.slot
        and not _same_vendor(f, gpu)
        and not is_bridge(f)
        and f.address not in mine
    )


def other_gpus_in_group(host: HostSnapshot, gpu: PciFunction) -> tuple[PciFunction, ...]:
    """Other GPUs in `gpu`'s IOMMU group (they can only go to one VM together)."""
    mine = {g.address for g in gpus(host)}
    return tuple(f for f in group_of(host, gpu) if f.address in mine)


def vendor_of(function: PciFunction) -> str | None:
    """The function's vendor id (from its name when the source had no ids)."""
    return effective_vendor_id(function)


def label(function: PciFunction) -> str:
    """`0000:86:00.1 (NVIDIA Corporation Audio device, class 0403, driver snd_hda_intel)`."""
    names = " ".join(n for n in (function.vendor, function.device) if n)
    parts = [p for p in (names, f"class {function.effective_class or '?'}") if p]
    parts.append(f"driver {function.driver}" if function.driver else "no driver")
    return f"{function.address} ({', '.join(parts)})"


def ids(function: PciFunction) -> str | None:
    """`vendor:product` of `function`, or None when either id is unknown."""
    if function.vendor_id is None or function.product_id is None:
        return None
    return f"{function.vendor_id}:{function.product_id}"


def passed_through(host: HostSnapshot, context: CheckContext) -> tuple[PciFunction, ...]:
    """Every GPU bound for vfio-pci and its companions, without repeats, in address order."""
    found: dict[object, PciFunction] = {}
    for gpu in vfio_candidates(host, context):
        found[gpu.address] = gpu
        for mate in companions(host, gpu):
            found[mate.address] = mate
    return tuple(sorted(found.values(), key=lambda f: f.address))
