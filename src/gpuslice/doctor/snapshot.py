"""A host's snapshot as data, and the reader that builds it from a root directory.

The snapshot is what the checks see of one host: the kernel command line, loaded modules,
PCI functions (read by `gpuslice.inventory.sysfs`), IOMMU groups, mdev types, module and
initramfs configuration, and a few markers (`dev/kvm`, `mdevctl`). Every path is relative to
the root: `/` on the host itself or a copy made by `gpuslice doctor --collect` or by hand.

Reading rules: a missing file or directory is a None or empty field, never an error (the
checks say what its absence means); a file that is too large, not UTF-8 or not what the kernel
writes there is an InputError naming it (a bad snapshot, exit 2).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from gpuslice.doctor.config import (
    Cmdline,
    InitramfsConfig,
    ModprobeConfig,
    module_name,
    parse_dracut,
    parse_initramfs_tools,
    parse_modprobe,
)
from gpuslice.doctor.reader import INTERRUPTS, SNAPSHOT_FILE, entries, link_name, read_text
from gpuslice.errors import InputError
from gpuslice.inventory.address import PciAddress
from gpuslice.inventory.function import PciFunction
from gpuslice.inventory.mdev import read_mdev_types
from gpuslice.inventory.sysfs import read_sysfs

PCI_DEVICES: Final = "sys/bus/pci/devices"
IOMMU_GROUPS: Final = "sys/kernel/iommu_groups"
PCI_DRIVERS: Final = "sys/bus/pci/drivers"
UNSAFE_INTERRUPTS: Final = "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts"
NUMA_ONLINE: Final = "sys/devices/system/node/online"
#: kmod's search order; a file name met first hides the same name further down.
MODPROBE_DIRS: Final = (
    "run/modprobe.d",
    "etc/modprobe.d",
    "usr/local/lib/modprobe.d",
    "usr/lib/modprobe.d",
    "lib/modprobe.d",
)
DRACUT_FILES: Final = ("etc/dracut.conf",)
DRACUT_DIRS: Final = ("usr/lib/dracut/dracut.conf.d", "etc/dracut.conf.d")
INITRAMFS_TOOLS_MODULES: Final = "etc/initramfs-tools/modules"
DRIVERCTL_DIR: Final = "etc/driverctl.d"
MDEVCTL: Final = ("usr/sbin/mdevctl", "usr/bin/mdevctl", "sbin/mdevctl", "bin/mdevctl")
HOSTNAME_FILES: Final = ("etc/hostname", "proc/sys/kernel/hostname")
#: The PCI attribute files `read_sysfs` reads; their size is checked before it reads them.
PCI_ATTRIBUTES: Final = (
    "vendor",
    "device",
    "class",
    "numa_node",
    "sriov_totalvfs",
    "sriov_numvfs",
)


@dataclass(frozen=True)
class HostSnapshot:
    """What the checks know of one host; None means the snapshot did not hold it."""

    host: str
    root: str
    cmdline: Cmdline | None = None
    modules: frozenset[str] | None = None
    functions: tuple[PciFunction, ...] = ()
    pci_readable: bool = True
    groups: Mapping[int, tuple[PciAddress, ...]] | None = None
    physfn: Mapping[PciAddress, PciAddress] = field(default_factory=dict)
    numvfs: Mapping[PciAddress, int] = field(default_factory=dict)
    mdev_types: Mapping[PciAddress, tuple[str, ...]] = field(default_factory=dict)
    pci_drivers: frozenset[str] | None = None
    interrupts: str | None = None
    unsafe_interrupts: bool | None = None
    kvm: bool = False
    mdevctl: bool = False
    numa_nodes: int | None = None
    modprobe: ModprobeConfig = field(default_factory=ModprobeConfig)
    initramfs: InitramfsConfig = field(default_factory=InitramfsConfig)
    driverctl: Mapping[PciAddress, str] = field(default_factory=dict)

    def function(self, address: PciAddress) -> PciFunction | None:
        """The PCI function at `address`, or None."""
        return next((f for f in self.functions if f.address == address), None)

    def group_members(self, group: int) -> tuple[PciFunction, ...]:
        """The PCI functions of IOMMU group `group` that the snapshot shows."""
        if self.groups is not None and group in self.groups:
            members = set(self.groups[group])
            return tuple(f for f in self.functions if f.address in members)
        return tuple(f for f in self.functions if f.iommu_group == group)

    def module_loaded(self, name: str) -> bool | None:
        """Whether module `name` is in proc/modules; None when that file is missing."""
        if self.modules is None:
            return None
        return module_name(name) in self.modules


def host_name(root: Path, default: str) -> str:
    """The host's name from etc/hostname or proc/sys/kernel/hostname, else `default`."""
    for relative in HOSTNAME_FILES:
        text = read_text(root / relative)
        if text and text.strip():
            return text.strip().split()[0]
    return default


def read_snapshot(root: Path, host: str) -> HostSnapshot:
    """Read the snapshot of `host` below `root` (see the module docstring for the rules).

    Raises InputError when `root` is not a directory or a file in it is bad.
    """
    if not root.is_dir():
        raise InputError("no such snapshot directory", source=str(root))
    cmdline = read_text(root / "proc/cmdline")
    modules = read_text(root / "proc/modules")
    functions, readable = _functions(root)
    return HostSnapshot(
        host=host,
        root=str(root),
        cmdline=None if cmdline is None else Cmdline.parse(cmdline),
        modules=None if modules is None else _loaded(modules),
        functions=functions,
        pci_readable=readable,
        groups=_groups(root / IOMMU_GROUPS),
        physfn=_physfn(root / PCI_DEVICES),
        numvfs=_numvfs(root / PCI_DEVICES),
        mdev_types=_mdev_types(root / PCI_DEVICES),
        pci_drivers=_names(root / PCI_DRIVERS),
        interrupts=read_text(root / "proc/interrupts", kind=INTERRUPTS),
        unsafe_interrupts=_flag(read_text(root / UNSAFE_INTERRUPTS)),
        kvm=(root / "dev/kvm").exists(),
        mdevctl=any((root / p).exists() for p in MDEVCTL),
        numa_nodes=_count_nodes(root / NUMA_ONLINE),
        modprobe=parse_modprobe(_modprobe_files(root)),
        initramfs=_initramfs(root),
        driverctl=_driverctl(root / DRIVERCTL_DIR),
    )


def _functions(root: Path) -> tuple[tuple[PciFunction, ...], bool]:
    """The PCI functions (via `read_sysfs`), after checking each attribute it reads is a regular
    file of at most `SNAPSHOT_FILE.limit` bytes; False when the snapshot has no PCI devices
    directory."""
    devices = root / PCI_DEVICES
    if not devices.is_dir():
        return (), False
    for entry in entries(devices):
        for name in PCI_ATTRIBUTES:
            path = entry / name
            try:
                status = path.stat()
            except OSError:
                continue
            if not stat.S_ISREG(status.st_mode):
                raise InputError("not a regular file (a pipe or device?)", source=str(path))
            if status.st_size > SNAPSHOT_FILE.limit:
                msg = f"larger than {SNAPSHOT_FILE.limit} bytes: not a sysfs attribute"
                raise InputError(msg, source=str(path))
    return read_sysfs(root), True


def _loaded(text: str) -> frozenset[str]:
    """Module names from proc/modules (the first word of each line)."""
    return frozenset(module_name(line.split()[0]) for line in text.splitlines() if line.split())


def _groups(directory: Path) -> dict[int, tuple[PciAddress, ...]] | None:
    if not directory.is_dir():
        return None
    groups: dict[int, tuple[PciAddress, ...]] = {}
    for group in entries(directory):
        if not group.name.isdigit():
            continue
        members = []
        for member in entries(group / "devices"):
            try:
                members.append(PciAddress.parse(member.name))
            except ValueError:
                continue  # a platform device, not PCI
        groups[int(group.name)] = tuple(sorted(members))
    return groups


def _physfn(devices: Path) -> dict[PciAddress, PciAddress]:
    found: dict[PciAddress, PciAddress] = {}
    for entry in entries(devices):
        target = link_name(entry / "physfn")
        if target is None:
            continue
        try:
            found[PciAddress.parse(entry.name)] = PciAddress.parse(target)
        except ValueError:
            continue
    return found


def _numvfs(devices: Path) -> dict[PciAddress, int]:
    """Each SR-IOV function's `sriov_numvfs` (how many VFs it has made); a value that is not a
    count is an InputError naming the file."""
    found: dict[PciAddress, int] = {}
    for entry in entries(devices):
        text = read_text(entry / "sriov_numvfs")
        if text is None:
            continue
        if not text.strip().isdigit():
            msg = f"expected a count of virtual functions such as 4, found {text.strip()!r}"
            raise InputError(msg, source=str(entry / "sriov_numvfs"))
        try:
            found[PciAddress.parse(entry.name)] = int(text.strip())
        except ValueError:
            continue
    return found


def _mdev_types(devices: Path) -> dict[PciAddress, tuple[str, ...]]:
    found: dict[PciAddress, tuple[str, ...]] = {}
    for entry in entries(devices):
        types = tuple(t.type_id for t in read_mdev_types(entry))
        if not types:
            continue
        try:
            found[PciAddress.parse(entry.name)] = types
        except ValueError:
            continue
    return found


def _names(directory: Path) -> frozenset[str] | None:
    if not directory.is_dir():
        return None
    return frozenset(module_name(entry.name) for entry in entries(directory))


def _flag(text: str | None) -> bool | None:
    if text is None:
        return None
    return text.strip().upper() in {"Y", "1"}


def _count_nodes(path: Path) -> int | None:
    """How many NUMA nodes `online` lists (`0-1`, `0,2-3`); None when missing or unreadable."""
    text = read_text(path)
    if text is None or not text.strip():
        return None
    count = 0
    for part in text.strip().split(","):
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            return None
        count += int(last) - int(first) + 1 if last else 1
    return count


def _modprobe_files(root: Path) -> list[tuple[str, str]]:
    chosen: dict[str, Path] = {}
    for directory in MODPROBE_DIRS:
        for path in entries(root / directory):
            if path.name.endswith(".conf") and path.name not in chosen:
                chosen[path.name] = path
    files = []
    for name in sorted(chosen):
        text = read_text(chosen[name])
        if text is not None:
            files.append((os.path.relpath(chosen[name], root), text))
    return files


def _initramfs(root: Path) -> InitramfsConfig:
    dracut: list[tuple[str, str]] = []
    for relative in DRACUT_FILES:
        text = read_text(root / relative)
        if text is not None:
            dracut.append((relative, text))
    seen_dracut = bool(dracut)
    for directory in DRACUT_DIRS:
        if (root / directory).is_dir():
            seen_dracut = True
        for path in entries(root / directory):
            text = read_text(path) if path.name.endswith(".conf") else None
            if text is not None:
                dracut.append((os.path.relpath(path, root), text))
    if seen_dracut:
        return parse_dracut(dracut)
    modules = read_text(root / INITRAMFS_TOOLS_MODULES)
    if modules is not None:
        return parse_initramfs_tools(INITRAMFS_TOOLS_MODULES, modules)
    return InitramfsConfig()


def _driverctl(directory: Path) -> dict[PciAddress, str]:
    """driverctl's saved overrides: a file `pci-<address>` holding the driver's name."""
    found: dict[PciAddress, str] = {}
    for path in entries(directory):
        if not path.name.startswith("pci-"):
            continue
        text = read_text(path)
        try:
            address = PciAddress.parse(path.name.removeprefix("pci-"))
        except ValueError:
            continue
        if text and text.strip():
            found[address] = text.strip()
    return found
