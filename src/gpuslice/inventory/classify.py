"""Judge PCI functions: passthrough GPU, companion of a GPU, left out (with why), or neither.

The rules, in order:

1. A function is a GPU *candidate* when its class is display (0300 VGA, 0301 XGA, 0302 3D,
   0380 other display) or processing accelerator (1200), its vendor is a GPU vendor (NVIDIA 10de,
   AMD/ATI 1002, Intel 8086, Habana 1da3), and it is not an Intel integrated GPU. An Intel display
   function on the root bus of domain 0000 (`0000:00:xx.x`, the iGPU's place, `00:02.0`) is
   integrated; Intel's discrete GPUs (Arc, Flex, Max) sit behind a bridge on another bus.
2. Display functions of BMC consoles and emulated adapters (ASPEED, Matrox, Hyper-V, Cirrus,
   QEMU/Bochs, VMware, virtio/QXL, VirtualBox, Huawei iBMC, XGI) are never candidates, and neither
   are those of any vendor not named in rule 1.
3. A *companion* is any other function, bridges (class 06xx) excepted, in a candidate's slot
   (same domain:bus:device, e.g. its HDMI audio at `.1`) or IOMMU group: vfio-pci must own it too.
   It names the GPU it goes with (the one in its slot, else the lowest address in its group).
4. *Excluded* are the functions left out that could be taken for GPUs: every display or
   accelerator function that is no candidate, and every other function of NVIDIA, AMD/ATI and
   Habana (NVSwitches, a card's PCIe switch). Chipset and other devices are not listed.

5. The integrated graphics of an AMD APU (Ryzen and EPYC 4004 on AM5 boards, Granite Ridge
   `1002:13c0`, Raphael `1002:164e`, Phoenix, Rembrandt, ...) is no candidate either: it is part
   of the CPU, not a card to pass through. It is known by its product id (`AMD_APU_GRAPHICS`)
   or, without ids, by its codename in the device name.

Without ids (plain `lspci`) the vendor is recognised by its name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from gpuslice.inventory.device import GpuDevice
from gpuslice.inventory.function import PciFunction
from gpuslice.inventory.pci_names import (
    CONSOLE_VENDORS,
    GPU_CLASSES,
    GPU_ONLY_VENDORS,
    GPU_VENDORS,
    vendor_id_for_name,
)

_INTEL = "8086"
_AMD = "1002"

#: AMD APU integrated graphics (product ids under 1002, names as pci.ids gives them).
AMD_APU_GRAPHICS: Final = {
    "13c0": "Granite Ridge [Radeon Graphics]",
    "164e": "Raphael",
    "1681": "Rembrandt [Radeon 680M]",
    "15bf": "Phoenix1",
    "15c8": "Phoenix2",
    "1900": "Phoenix3",
    "1901": "Phoenix4",
    "1638": "Cezanne [Radeon Vega Series / Radeon Vega Mobile Series]",
    "1636": "Renoir",
    "164c": "Lucienne",
    "15d8": "Picasso/Raven 2 [Radeon Vega Series / Radeon Vega Mobile Series]",
    "15dd": "Raven Ridge [Radeon Vega Series / Radeon Vega Mobile Series]",
    "15e7": "Barcelo",
    "1506": "Mendocino",
    "150e": "Strix [Radeon 880M / 890M]",
    "1586": "Strix Halo [Radeon Graphics / Radeon 8050S / 8060S Graphics]",
    "1114": "Krackan [Radeon 840M / 860M Graphics]",
    "163f": "VanGogh [AMD Custom GPU 0405]",
}
_APU_CODENAME: Final = re.compile(
    r"\b(?:Granite Ridge|Raphael|Rembrandt|Phoenix\d?|Cezanne|Renoir|Lucienne|Picasso|"
    r"Raven(?: Ridge| 2)?|Barcelo|Mendocino|Strix(?: Halo)?|Krackan|Hawk Point|Van ?Gogh)\b"
)


@dataclass(frozen=True)
class Companion:
    """A function that must go to vfio-pci together with the GPU at `companion_of`."""

    device: GpuDevice
    companion_of: str


@dataclass(frozen=True)
class Exclusion:
    """A function that could be taken for a GPU but is not a passthrough candidate, and why."""

    address: str
    class_id: str | None
    vendor: str | None
    device: str | None
    reason: str


@dataclass(frozen=True)
class Discovery:
    """The GPUs of one host, their companions, what was left out, and warnings for the user."""

    gpus: tuple[GpuDevice, ...]
    companions: tuple[Companion, ...] = ()
    excluded: tuple[Exclusion, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The `gpuslice discover --json` document (DESIGN.md's contract)."""
        return {
            "gpus": [asdict(gpu) for gpu in self.gpus],
            "companions": [
                {**asdict(item.device), "companion_of": item.companion_of}
                for item in self.companions
            ],
            "excluded": [asdict(item) for item in self.excluded],
            "warnings": list(self.warnings),
        }


def effective_vendor_id(function: PciFunction) -> str | None:
    """The vendor id, or the id the table gives the vendor's name when the source had no ids."""
    return function.vendor_id or vendor_id_for_name(function.vendor)


def is_integrated_intel(function: PciFunction) -> bool:
    """An Intel function on the root bus of domain 0000, where Intel puts its iGPU."""
    address = function.address
    return effective_vendor_id(function) == _INTEL and address.domain == 0 and address.bus == 0


def is_amd_apu_graphics(function: PciFunction) -> bool:
    """An AMD APU's integrated graphics: its product id, else its codename (rule 5)."""
    if effective_vendor_id(function) != _AMD:
        return False
    if function.product_id is not None:
        return function.product_id in AMD_APU_GRAPHICS
    return _APU_CODENAME.search(function.device or "") is not None


def exclusion_reason(function: PciFunction) -> str | None:
    """Why `function` is not a GPU candidate, or None when it is one (rules 1 and 2)."""
    class_id = function.effective_class
    vendor_id = effective_vendor_id(function)
    who = function.vendor or (f"vendor {vendor_id}" if vendor_id else "an unknown vendor")
    if class_id is None:
        shown = f"class {function.class_name!r}" if function.class_name else "no class"
        return f"{shown} unknown to gpuslice: not taken for a GPU"
    if class_id.startswith("06"):
        kind = "PCI bridge" if class_id == "0604" else "bridge"
        nvswitch = " (an NVSwitch)" if "nvswitch" in (function.device or "").casefold() else ""
        return f"{kind}{nvswitch}, class {class_id}: not a GPU"
    if class_id not in GPU_CLASSES:
        return f"class {class_id} ({function.class_name or 'not display'}): not a GPU"
    if vendor_id in CONSOLE_VENDORS:
        return f"BMC console or emulated display adapter ({who}): not a GPU to pass through"
    if vendor_id not in GPU_VENDORS:
        return f"display or accelerator of {who}, not a known GPU vendor"
    if is_integrated_intel(function):
        return "Intel integrated GPU or NPU (on the root bus 0000:00): not a discrete GPU"
    if is_amd_apu_graphics(function):
        return "AMD APU integrated graphics (part of the CPU): not a discrete GPU"
    return None


def classify(functions: Iterable[PciFunction], warnings: Sequence[str] = ()) -> Discovery:
    """Sort `functions` into GPUs, companions and exclusions (see the module docstring).

    `warnings` (from reading the source) come first in the result's warnings; the classifier
    adds its own: GPUs or companions bound to a driver other than vfio-pci, GPUs sharing an IOMMU
    group, companions of another vendor than their GPU, and no GPU at all.
    """
    ordered = sorted(functions, key=lambda f: f.address)
    reasons = {f.address: exclusion_reason(f) for f in ordered}
    gpus = [f for f in ordered if reasons[f.address] is None]
    notes = list(warnings)
    companions: list[Companion] = []
    excluded: list[Exclusion] = []
    for function in ordered:
        if reasons[function.address] is None:
            continue
        gpu = _companion_of(function, gpus)
        if gpu is not None:
            companions.append(Companion(function.to_device(), str(gpu.address)))
            notes.extend(_companion_notes(function, gpu))
        elif _worth_listing(function):
            excluded.append(
                Exclusion(
                    address=str(function.address),
                    class_id=function.class_id,
                    vendor=function.vendor,
                    device=function.device,
                    reason=_listed_reason(function, reasons[function.address] or ""),
                )
            )
    notes.extend(_gpu_notes(gpus))
    return Discovery(
        gpus=tuple(gpu.to_device() for gpu in gpus),
        companions=tuple(companions),
        excluded=tuple(excluded),
        warnings=tuple(notes),
    )


def _companion_of(function: PciFunction, gpus: Sequence[PciFunction]) -> PciFunction | None:
    """The GPU `function` must go with (rule 3), or None."""
    class_id = function.effective_class
    if class_id is not None and class_id.startswith("06"):
        return None
    for gpu in gpus:
        if gpu.address.slot == function.address.slot:
            return gpu
    if function.iommu_group is None:
        return None
    for gpu in gpus:
        if gpu.iommu_group == function.iommu_group:
            return gpu
    return None


def _worth_listing(function: PciFunction) -> bool:
    """Rule 4: whether a left-out function could be taken for a GPU."""
    class_id = function.effective_class
    return (class_id in GPU_CLASSES) or effective_vendor_id(function) in GPU_ONLY_VENDORS


def _listed_reason(function: PciFunction, reason: str) -> str:
    class_id = function.effective_class
    if (
        class_id is not None
        and class_id not in GPU_CLASSES
        and not class_id.startswith("06")
        and effective_vendor_id(function) in GPU_ONLY_VENDORS
    ):
        return f"{reason}; no GPU in its slot or IOMMU group to go with"
    return reason


def _label(function: PciFunction) -> str:
    names = " ".join(name for name in (function.vendor, function.device) if name)
    return f"{function.address} ({names})" if names else str(function.address)


def _driver_note(function: PciFunction, role: str) -> list[str]:
    driver = function.driver
    if driver is None or driver == "vfio-pci":
        return []
    return [f"{role} {_label(function)} is bound to {driver}, not vfio-pci"]


def _companion_notes(function: PciFunction, gpu: PciFunction) -> list[str]:
    notes = _driver_note(function, f"companion of {gpu.address}")
    mine, theirs = effective_vendor_id(function), effective_vendor_id(gpu)
    if mine is not None and theirs is not None and mine != theirs:
        notes.append(
            f"{_label(function)} is in IOMMU group {function.iommu_group} with GPU "
            f"{gpu.address}: passing the GPU through takes this device from the host too"
        )
    if function.effective_class is None:
        notes.append(
            f"{function.address} is in IOMMU group {function.iommu_group} with GPU "
            f"{gpu.address} but its class is unknown: listed as a companion; a bridge would "
            "not need vfio-pci"
        )
    return notes


def _gpu_notes(gpus: Sequence[PciFunction]) -> list[str]:
    notes: list[str] = []
    for gpu in gpus:
        notes.extend(_driver_note(gpu, "GPU"))
    groups: dict[int, list[str]] = {}
    for gpu in gpus:
        if gpu.iommu_group is not None:
            groups.setdefault(gpu.iommu_group, []).append(str(gpu.address))
    for group, members in sorted(groups.items()):
        if len(members) > 1:
            notes.append(
                f"IOMMU group {group} holds {len(members)} GPUs ({', '.join(members)}): "
                "they can only be passed through together, to one VM"
            )
    if not gpus:
        notes.append("no passthrough GPU candidate found")
    return notes
