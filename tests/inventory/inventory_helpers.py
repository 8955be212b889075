"""Helpers for discovery tests: read lspci captures, lay out fake sysfs trees.

(A module of its own, with a name no other test directory uses, so tests can import it.)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "lspci"


def read_capture(name: str) -> str:
    """The text of the capture tests/data/lspci/`name`."""
    return (DATA / name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class FakeFunction:
    """One PCI function to lay out as a sysfs device directory.

    `numa_node` is written as sysfs writes it (-1: none); `iommu_group` becomes the device's
    `iommu_group` link unless `group_link` is False (then only sys/kernel/iommu_groups has it);
    `physfn` is the address of the physical function of a virtual function; `sriov_totalvfs`,
    when set, is written to the file of that name (functions with the SR-IOV capability).
    """

    address: str
    vendor: str
    device: str
    pci_class: str
    driver: str | None = None
    iommu_group: int | None = None
    numa_node: int = -1
    physfn: str | None = None
    group_link: bool = True
    sriov_totalvfs: int | None = None


def build_sysfs(root: Path, functions: Iterable[FakeFunction]) -> Path:
    """Lay out `functions` below `root` the way Linux does and return `root`.

    Device directories live in sys/devices/pciDDDD:BB/; sys/bus/pci/devices/ holds relative
    links to them, as do sys/kernel/iommu_groups/N/devices/; `driver` and `iommu_group` are
    relative links into sys/bus/pci/drivers and sys/kernel/iommu_groups.
    """
    sys_dir = root / "sys"
    bus_devices = sys_dir / "bus" / "pci" / "devices"
    bus_devices.mkdir(parents=True, exist_ok=True)
    for item in functions:
        domain_bus = item.address.rsplit(":", 1)[0]
        real = sys_dir / "devices" / f"pci{domain_bus}" / item.address
        real.mkdir(parents=True)
        (real / "vendor").write_text(f"0x{item.vendor}\n")
        (real / "device").write_text(f"0x{item.device}\n")
        (real / "class").write_text(f"0x{item.pci_class}\n")
        (real / "numa_node").write_text(f"{item.numa_node}\n")
        if item.sriov_totalvfs is not None:
            (real / "sriov_totalvfs").write_text(f"{item.sriov_totalvfs}\n")
        in_sys = Path("devices", f"pci{domain_bus}", item.address)
        (bus_devices / item.address).symlink_to(Path("..", "..", "..", in_sys))
        if item.driver is not None:
            (sys_dir / "bus" / "pci" / "drivers" / item.driver).mkdir(parents=True, exist_ok=True)
            (real / "driver").symlink_to(
                Path("..", "..", "..", "bus", "pci", "drivers", item.driver)
            )
        if item.iommu_group is not None:
            group = sys_dir / "kernel" / "iommu_groups" / str(item.iommu_group)
            (group / "devices").mkdir(parents=True, exist_ok=True)
            (group / "devices" / item.address).symlink_to(Path("..", "..", "..", "..", in_sys))
            if item.group_link:
                target = Path("..", "..", "..", "kernel", "iommu_groups", str(item.iommu_group))
                (real / "iommu_group").symlink_to(target)
        if item.physfn is not None:
            (real / "physfn").symlink_to(Path("..", item.physfn))
    return root


def links_resolve(root: Path) -> bool:
    """Whether every link below `root` points at something that exists (a check of the builder)."""
    return all(
        (Path(dirpath) / name).exists()
        for dirpath, dirnames, filenames in os.walk(root)
        for name in dirnames + filenames
    )
