"""Read the PCI functions of a running host from sysfs (the thin edge that touches files).

Under `root` (`/` on the host itself, or a copy of its `sys/` tree) it reads, for every entry of
`sys/bus/pci/devices/`:

- `vendor`, `device` (`0x10de`) and `class` (`0x030200`: the first four digits are the class id);
- the `driver` symlink (its last part is the driver in use) and the `iommu_group` symlink (its
  last part is the group number); groups missing there are taken from
  `sys/kernel/iommu_groups/<N>/devices/<address>`;
- `numa_node`, where -1 means unknown;
- `physfn`, present only on SR-IOV virtual functions (nova: type-VF);
- `sriov_totalvfs`, present only on functions with the SR-IOV capability (above 0, nova:
  type-PF; see `gpuslice.inventory.sriov`).

Names come from gpuslice's own small table; sysfs has none.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from gpuslice import inputs
from gpuslice.bounds import MAX_NUMA_NODE
from gpuslice.errors import InputError
from gpuslice.inputs import link_name
from gpuslice.inventory.address import PciAddress
from gpuslice.inventory.function import PciFunction
from gpuslice.inventory.pci_names import class_name, product_name, vendor_name
from gpuslice.inventory.sriov import type_from_sysfs

_ID: Final = re.compile(r"^0x(?P<id>[0-9a-fA-F]{4})$")
_CLASS: Final = re.compile(r"^0x(?P<id>[0-9a-fA-F]{4})[0-9a-fA-F]{2}$")
_NUMA: Final = re.compile(r"[0-9]{1,4}")
_GROUP: Final = re.compile(r"[0-9]{1,9}")


def read_sysfs(root: Path) -> tuple[PciFunction, ...]:
    """Read every PCI function below `root`/sys/bus/pci/devices, in address order.

    Raises InputError (naming the file) when that directory is missing or a file holds
    something sysfs never writes there.
    """
    devices = root / "sys" / "bus" / "pci" / "devices"
    if not devices.is_dir():
        msg = "no PCI devices directory: is this a Linux host's sysfs (see --sysfs)?"
        raise InputError(msg, source=str(devices))
    groups = _iommu_groups(root / "sys" / "kernel" / "iommu_groups")
    functions = [_read_function(entry, groups) for entry in sorted(devices.iterdir())]
    return tuple(sorted(functions, key=lambda f: f.address))


def _iommu_groups(groups_dir: Path) -> dict[PciAddress, int]:
    found: dict[PciAddress, int] = {}
    if not groups_dir.is_dir():
        return found
    for group in groups_dir.iterdir():
        members = group / "devices"
        if not _GROUP.fullmatch(group.name) or not members.is_dir():
            continue
        for member in members.iterdir():
            try:
                found[PciAddress.parse(member.name)] = int(group.name)
            except ValueError:
                continue  # a non-PCI member (platform device)
    return found


def _read_function(entry: Path, groups: dict[PciAddress, int]) -> PciFunction:
    try:
        address = PciAddress.parse(entry.name)
    except ValueError as error:
        raise InputError(str(error), source=str(entry)) from None
    vendor_id = _read_id(entry / "vendor", _ID)
    product_id = _read_id(entry / "device", _ID)
    class_id = _read_id(entry / "class", _CLASS)
    group = link_name(entry / "iommu_group")
    physfn = entry / "physfn"
    virtual = physfn.is_symlink() or physfn.exists()
    totalvfs = _read_count(entry / "sriov_totalvfs")
    return PciFunction(
        address=address,
        vendor_id=vendor_id,
        product_id=product_id,
        class_id=class_id,
        class_name=class_name(class_id),
        vendor=vendor_name(vendor_id),
        device=product_name(vendor_id, product_id),
        driver=link_name(entry / "driver"),
        iommu_group=int(group) if group and _GROUP.fullmatch(group) else groups.get(address),
        numa_node=_read_numa(entry / "numa_node"),
        function="virtual" if virtual else "physical",
        sriov_totalvfs=totalvfs,
        device_type=type_from_sysfs(virtual=virtual, sriov_totalvfs=totalvfs),
    )


def _read_text(path: Path) -> str | None:
    """The attribute's text, stripped, through the bounded reader; None when it is absent."""
    text = inputs.read_optional(path, inputs.SYSFS)
    return None if text is None else text.strip()


def _read_id(path: Path, pattern: re.Pattern[str]) -> str | None:
    text = _read_text(path)
    if text is None:
        return None
    match = pattern.match(text)
    if match is None:
        msg = f"expected a hex id such as {'0x030200' if path.name == 'class' else '0x10de'}, "
        msg += f"found {inputs.quote(text)}"
        raise InputError(msg, source=str(path))
    return match["id"].lower()


def _read_numa(path: Path) -> int | None:
    text = _read_text(path)
    if text is None:
        return None
    if text == "-1":
        return None
    if not _NUMA.fullmatch(text) or int(text) > MAX_NUMA_NODE:
        msg = f"expected a NUMA node number 0 to {MAX_NUMA_NODE} (-1 for none), found "
        msg += inputs.quote(text)
        raise InputError(msg, source=str(path))
    return int(text)


def _read_count(path: Path) -> int | None:
    text = _read_text(path)
    if text is None:
        return None
    if not text.isdigit():
        msg = f"expected a count of virtual functions such as 16, found {text!r}"
        raise InputError(msg, source=str(path))
    return int(text)
