"""`gpuslice doctor --collect`: copy the small files the checks read, at their own paths.

The snapshot is a directory, or a tar.gz when the target's name ends in `.tar.gz` or `.tgz`.
It holds, below its root, only:
- `proc/cmdline`, `proc/modules`, `proc/interrupts`, `etc/hostname`;
- per PCI function `sys/bus/pci/devices/<address>/` with `vendor`, `device`, `class`,
  `numa_node`, `sriov_totalvfs`, `sriov_numvfs`, the `driver`, `iommu_group` and `physfn` links
  (made relative, pointing into the snapshot) and its `mdev_supported_types/<type>/` directories;
- `sys/kernel/iommu_groups/<N>/devices/<address>` links, `sys/bus/pci/drivers/<name>/`;
- `sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts`,
  `sys/devices/system/node/online`;
- modprobe.d, dracut and initramfs-tools configuration, driverctl overrides;
- empty marker files for `dev/kvm` and `mdevctl` where they exist.
Every file goes through the bounded reader; nothing is written until all is read, and a
failure leaves nothing at the target.
"""

from __future__ import annotations

import contextlib
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from gpuslice import inputs
from gpuslice.doctor.reader import INTERRUPTS, entries, link_name, read_text
from gpuslice.doctor.snapshot import (
    DRACUT_DIRS,
    DRACUT_FILES,
    DRIVERCTL_DIR,
    HOSTNAME_FILES,
    INITRAMFS_TOOLS_MODULES,
    IOMMU_GROUPS,
    MDEVCTL,
    MODPROBE_DIRS,
    NUMA_ONLINE,
    PCI_ATTRIBUTES,
    PCI_DEVICES,
    PCI_DRIVERS,
    UNSAFE_INTERRUPTS,
)
from gpuslice.errors import InputError

_PLAIN: Final = (
    "proc/cmdline",
    "proc/modules",
    *HOSTNAME_FILES,
    UNSAFE_INTERRUPTS,
    NUMA_ONLINE,
    *DRACUT_FILES,
    INITRAMFS_TOOLS_MODULES,
)
_MARKERS: Final = ("dev/kvm", *MDEVCTL)
_MDEV_FILES: Final = ("name", "available_instances", "device_api")
#: The most a snapshot tarball may unpack to, and the most members it may have.
TAR_LIMIT: Final = 64 << 20
TAR_MEMBERS: Final = 200_000


@dataclass(frozen=True)
class Entry:
    """One thing in a snapshot: a file with `text`, a symlink to `link`, or a directory."""

    path: str
    text: str | None = None
    link: str | None = None


def gather(root: Path) -> list[Entry]:
    """Everything a snapshot of `root` holds (see the module docstring), in path order."""
    found: list[Entry] = []

    def add_file(relative: str, kind: inputs.Kind | None = None) -> None:
        path = root / relative
        text = read_text(path) if kind is None else read_text(path, kind=kind)
        if text is not None:
            found.append(Entry(relative, text=text))

    for relative in _PLAIN:
        add_file(relative)
    add_file("proc/interrupts", INTERRUPTS)
    for relative in _MARKERS:
        if (root / relative).exists():
            found.append(Entry(relative, text=""))
    for directory in DRACUT_DIRS:
        if (root / directory).is_dir():
            found.append(Entry(directory))
    for directory in (*MODPROBE_DIRS, *DRACUT_DIRS):
        for path in entries(root / directory):
            if path.name.endswith(".conf"):
                add_file(f"{directory}/{path.name}")
    for path in entries(root / DRIVERCTL_DIR):
        add_file(f"{DRIVERCTL_DIR}/{path.name}")
    for path in entries(root / PCI_DRIVERS):
        found.append(Entry(f"{PCI_DRIVERS}/{path.name}"))
    found.extend(_pci(root))
    for group in entries(root / IOMMU_GROUPS):
        for member in entries(group / "devices"):
            target = f"../../../../bus/pci/devices/{member.name}"
            found.append(Entry(f"{IOMMU_GROUPS}/{group.name}/devices/{member.name}", link=target))
    return sorted(found, key=lambda e: e.path)


def _pci(root: Path) -> list[Entry]:
    found: list[Entry] = []
    for device in entries(root / PCI_DEVICES):
        base = f"{PCI_DEVICES}/{device.name}"
        found.append(Entry(base))
        found.extend(_files(device, base, PCI_ATTRIBUTES))
        links = {
            "driver": "../../../../bus/pci/drivers/{}",
            "iommu_group": "../../../../kernel/iommu_groups/{}",
            "physfn": "../{}",
        }
        for name, pattern in links.items():
            target = link_name(device / name)
            if target is not None:
                found.append(Entry(f"{base}/{name}", link=pattern.format(target)))
        for mdev_type in entries(device / "mdev_supported_types"):
            type_dir = f"{base}/mdev_supported_types/{mdev_type.name}"
            found.append(Entry(type_dir))
            found.extend(_files(mdev_type, type_dir, _MDEV_FILES))
    return found


def _files(directory: Path, base: str, names: Iterable[str]) -> list[Entry]:
    """The files `names` of `directory` that can be read, as entries below `base`."""
    found: list[Entry] = []
    for name in names:
        text = read_text(directory / name)
        if text is not None:
            found.append(Entry(f"{base}/{name}", text=text))
    return found


def is_tarball(path: Path) -> bool:
    """Whether `path` names a tar.gz snapshot (by its name)."""
    return path.name.endswith((".tar.gz", ".tgz"))


def collect(root: Path, target: Path) -> int:
    """Write the snapshot of `root` to `target` (a directory, or a tar.gz by its name).

    Rules: `target` must not exist (a snapshot is never merged into another); all files are
    read before anything is written; the snapshot is built beside `target` and moved into place
    at the end. Returns the number of entries written.
    """
    if target.exists() or target.is_symlink():
        raise InputError("exists already: choose a new name", source=str(target), field="--collect")
    found = gather(root)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    except OSError as error:
        raise InputError(f"cannot write here: {error.strerror}", source=str(target)) from None
    try:
        for entry in found:
            _write(staging, entry)
        if is_tarball(target):
            partial = parent / f".{target.name}.partial"
            with tarfile.open(partial, "w:gz") as tar:
                for child in sorted(staging.iterdir()):
                    tar.add(child, arcname=child.name)
            partial.replace(target)
            shutil.rmtree(staging)
        else:
            staging.replace(target)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise InputError(f"cannot write: {error.strerror}", source=str(target)) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return len(found)


def _write(staging: Path, entry: Entry) -> None:
    path = staging / entry.path
    path.parent.mkdir(parents=True, exist_ok=True)
    if entry.link is not None:
        path.symlink_to(entry.link)
    elif entry.text is not None:
        path.write_text(entry.text, encoding="utf-8")
    else:
        path.mkdir(exist_ok=True)


@contextlib.contextmanager
def opened(path: Path) -> Iterator[Path]:
    """The snapshot root at `path`: the directory itself, or a tar.gz unpacked for the duration.

    A tarball is unpacked with tarfile's `data` filter (no absolute paths, no links out of the
    root, no devices) after checking it holds at most TAR_MEMBERS members and TAR_LIMIT bytes.
    """
    if path.is_dir():
        yield path
        return
    if not path.exists():
        raise InputError("no such snapshot (a directory or a .tar.gz)", source=str(path))
    with tempfile.TemporaryDirectory() as tmp:
        _unpack(path, Path(tmp))
        yield Path(tmp)


def _unpack(path: Path, into: Path) -> None:
    try:
        with tarfile.open(path, "r:*") as tar:
            members = []
            total = 0
            for member in tar:
                members.append(member)
                total += member.size
                if len(members) > TAR_MEMBERS or total > TAR_LIMIT:
                    msg = f"more than {TAR_MEMBERS} members or {TAR_LIMIT} bytes: not a snapshot"
                    raise InputError(msg, source=str(path))
            tar.extractall(into, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as error:
        msg = f"not a readable snapshot tarball: {error}"
        raise InputError(msg, source=str(path)) from None
