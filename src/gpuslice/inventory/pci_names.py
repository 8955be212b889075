"""A small table of PCI vendor, product and class names, and which vendors make GPUs.

Written for gpuslice (not taken from pci.ids): only the vendors and devices a GPU hypervisor is
likely to show. Names are used where a source gives ids only (sysfs, `lspci -n`, `-vmmn`); where
lspci prints names, its names are kept.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

#: Vendor id -> name, spelled the way lspci spells these vendors.
VENDOR_NAMES: Final = MappingProxyType(
    {
        "10de": "NVIDIA Corporation",
        "1002": "Advanced Micro Devices, Inc. [AMD/ATI]",
        "1022": "Advanced Micro Devices, Inc. [AMD]",
        "8086": "Intel Corporation",
        "1da3": "Habana Labs Ltd.",
        "1a03": "ASPEED Technology, Inc.",
        "102b": "Matrox Electronics Systems Ltd.",
        "1414": "Microsoft Corporation",
        "1013": "Cirrus Logic",
        "1234": "QEMU/Bochs",
        "15ad": "VMware",
        "1af4": "Red Hat, Inc.",
        "1b36": "Red Hat, Inc.",
        "80ee": "InnoTek Systemberatung GmbH",
        "19e5": "Huawei Technologies Co., Ltd.",
        "18ca": "XGI Technology Inc.",
        "10ee": "Xilinx Corporation",
        "15b3": "Mellanox Technologies",
        "14e4": "Broadcom Inc. and subsidiaries",
        "1000": "Broadcom / LSI",
        "1d0f": "Amazon.com, Inc.",
        "144d": "Samsung Electronics Co Ltd",
    }
)

#: Vendors whose display, 3D and accelerator functions are passthrough GPU candidates.
#: Intel (8086) also makes integrated GPUs; those are told apart by their place on the root bus.
GPU_VENDORS: Final = frozenset({"10de", "1002", "8086", "1da3"})

#: Vendors whose display functions are BMC consoles or emulated adapters, never GPUs to pass on:
#: ASPEED, Matrox, Hyper-V, Cirrus, QEMU/Bochs, VMware, virtio/QXL, VirtualBox, Huawei iBMC, XGI.
CONSOLE_VENDORS: Final = frozenset(
    {"1a03", "102b", "1414", "1013", "1234", "15ad", "1af4", "1b36", "80ee", "19e5", "18ca"}
)

#: Vendors that make nothing but GPUs and their parts: every function of theirs that is not a GPU
#: or a companion is listed among the exclusions with a reason (an NVSwitch, a card's bridge).
#: Intel is left out: it makes the host's chipset too.
GPU_ONLY_VENDORS: Final = frozenset({"10de", "1002", "1da3"})

#: `vendor:product` -> device name, for sources that give ids only.
PRODUCT_NAMES: Final = MappingProxyType(
    {
        "10de:1024": "GK110BGL [Tesla K40c]",
        "10de:13f2": "GM204GL [Tesla M60]",
        "10de:1db4": "GV100GL [Tesla V100 PCIe 16GB]",
        "10de:20b0": "GA100 [A100 SXM4 40GB]",
        "10de:20b2": "GA100 [A100 SXM4 80GB]",
        "10de:20b5": "GA100 [A100 PCIe 80GB]",
        "10de:2236": "GA102GL [A10]",
        "10de:2330": "GH100 [H100 SXM5 80GB]",
        "10de:2331": "GH100 [H100 PCIe]",
        "10de:1e04": "TU102 [GeForce RTX 2080 Ti]",
        "10de:10f7": "TU102 High Definition Audio Controller",
        "10de:1ad6": "TU102 USB 3.1 Host Controller",
        "10de:1ad7": "TU102 USB Type-C UCSI Controller",
        "10de:1af1": "GA100 [A100 NVSwitch]",
        "1002:740f": "Aldebaran/MI200 [Instinct MI210]",
        "1002:740c": "Aldebaran/MI200 [Instinct MI250X/MI250]",
        "1002:73a3": "Navi 21 GL-XL [Radeon PRO W6800]",
        "1002:ab28": "Navi 21/23 HDMI/DP Audio Controller",
        "1002:686c": "Vega 10 [Radeon Instinct MI25 MxGPU]",
        "8086:0bd5": "Ponte Vecchio XT [Data Center GPU Max 1550]",
        "8086:0bda": "Ponte Vecchio XT [Data Center GPU Max 1100]",
        "8086:56c0": "ATS-M [Data Center GPU Flex 170]",
        "8086:56a0": "DG2 [Arc A770]",
        "8086:3e92": "CoffeeLake-S GT2 [UHD Graphics 630]",
        "1da3:1020": "Gaudi2 AI Training Accelerator",
        "1a03:2000": "ASPEED Graphics Family",
        "102b:0534": "G200eR2",
        "1414:5353": "Hyper-V virtual VGA",
    }
)

#: Products that are SR-IOV virtual functions by their id alone (AMD MxGPU).
VIRTUAL_FUNCTION_PRODUCTS: Final = frozenset({"1002:686c"})

#: Class id (base class + subclass, four hex digits) -> name, spelled as lspci spells it.
CLASS_NAMES: Final = MappingProxyType(
    {
        "0000": "Non-VGA unclassified device",
        "0100": "SCSI storage controller",
        "0101": "IDE interface",
        "0104": "RAID bus controller",
        "0106": "SATA controller",
        "0107": "Serial Attached SCSI controller",
        "0108": "Non-Volatile memory controller",
        "0200": "Ethernet controller",
        "0207": "Infiniband controller",
        "0280": "Network controller",
        "0300": "VGA compatible controller",
        "0301": "XGA compatible controller",
        "0302": "3D controller",
        "0380": "Display controller",
        "0401": "Multimedia audio controller",
        "0403": "Audio device",
        "0480": "Multimedia controller",
        "0500": "RAM memory",
        "0580": "Memory controller",
        "0600": "Host bridge",
        "0601": "ISA bridge",
        "0604": "PCI bridge",
        "0680": "Bridge",
        "0700": "Serial controller",
        "0780": "Communication controller",
        "0800": "PIC",
        "0806": "IOMMU",
        "0880": "System peripheral",
        "0b40": "Co-processor",
        "0c03": "USB controller",
        "0c05": "SMBus",
        "0c80": "Serial bus controller",
        "1080": "Encryption controller",
        "1101": "Performance counters",
        "1180": "Signal processing controller",
        "1200": "Processing accelerators",
        "ff00": "Unassigned class",
    }
)

_CLASS_IDS_BY_NAME: Final = MappingProxyType(
    {name.casefold(): class_id for class_id, name in CLASS_NAMES.items()}
)

#: Classes whose functions are passthrough candidates when a GPU vendor makes them.
GPU_CLASSES: Final = frozenset({"0300", "0301", "0302", "0380", "1200"})


def vendor_name(vendor_id: str | None) -> str | None:
    """The table's name for `vendor_id`, or None when unknown."""
    return None if vendor_id is None else VENDOR_NAMES.get(vendor_id)


def product_name(vendor_id: str | None, product_id: str | None) -> str | None:
    """The table's name for `vendor_id:product_id`, or None when unknown."""
    if vendor_id is None or product_id is None:
        return None
    return PRODUCT_NAMES.get(f"{vendor_id}:{product_id}")


def class_name(class_id: str | None) -> str | None:
    """lspci's name for a four-digit class id, or None when unknown."""
    return None if class_id is None else CLASS_NAMES.get(class_id)


def class_id_for_name(name: str | None) -> str | None:
    """The class id that lspci's class `name` stands for, or None when the table lacks it.

    Used only to classify output that lacks ids; the id is never reported as read.
    """
    return None if name is None else _CLASS_IDS_BY_NAME.get(name.strip().casefold())


def vendor_id_for_name(name: str | None) -> str | None:
    """The vendor id whose lspci name is `name`, or None when the table lacks the name.

    Where one name stands for several ids (Red Hat: 1af4 and 1b36) the lowest id is returned;
    such ids are in the same category. Used only to classify output that lacks ids.
    """
    if name is None:
        return None
    wanted = name.strip().casefold()
    found = sorted(vid for vid, vname in VENDOR_NAMES.items() if vname.casefold() == wanted)
    return found[0] if found else None


def split_vendor_and_device(text: str, vendor_id: str | None = None) -> tuple[str | None, str]:
    """Split lspci's `<vendor> <device>` description into its two names.

    lspci joins the two names with a space. The vendor is found, in this order: the name the
    table has for `vendor_id`; any vendor name of the table; a company suffix (`Corporation`,
    `Inc.`, `Ltd.`, ...) optionally followed by a bracketed short name. When none fits, the vendor
    is None and the whole text is the device name.
    """
    text = text.strip()
    known = [name for name in (vendor_name(vendor_id),) if name]
    known += sorted(VENDOR_NAMES.values(), key=len, reverse=True)
    for name in known:
        if text == name or text.startswith(name + " "):
            return name, text[len(name) :].strip()
    best: tuple[int, str, str] | None = None
    for suffix in _COMPANY_SUFFIXES:
        at = text.find(suffix)
        if at <= 0:
            continue
        end = at + len(suffix)
        rest = text[end:]
        if rest.startswith(" ["):
            close = rest.find("]")
            if close > 0:
                end += close + 1
                rest = text[end:]
        if (rest == "" or rest.startswith(" ")) and (best is None or end < best[0]):
            best = (end, text[:end], rest.strip())
    if best is not None:
        return best[1], best[2]
    return None, text


_COMPANY_SUFFIXES: Final = (
    "Corporation",
    "Corp.",
    "Inc.",
    "Ltd.",
    "Limited",
    "GmbH",
    "LLC",
    "Co.,Ltd.",
)
