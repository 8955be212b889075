"""Nova's host weighers: each returns one raw number per host; the scheduler normalises.

Normalising (nova.weights.normalize): raw values are clamped at the weigher's `minval` when it
has one; then mapped to 0..1 between the lowest (or `minval`) and the highest value among the
hosts that passed the filters; all equal maps to 0. Each weigher's normalised value times its
multiplier is summed per host; the highest sum wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt

# PCIWeigher's cap: hosts with 99 or more free devices all weigh the same (nova's MAX_DEVS).
MAX_DEVS = 100


class HostUsage(Protocol):
    """The per-host arrays a weigher reads (one entry per provider)."""

    @property
    def ram_total(self) -> npt.NDArray[np.float64]: ...
    @property
    def ram_used(self) -> npt.NDArray[np.float64]: ...
    @property
    def vcpu_total(self) -> npt.NDArray[np.float64]: ...
    @property
    def vcpus_used(self) -> npt.NDArray[np.float64]: ...
    @property
    def pci_free_total(self) -> npt.NDArray[np.int64]: ...
    @property
    def disk_total(self) -> npt.NDArray[np.float64]: ...
    @property
    def disk_used(self) -> npt.NDArray[np.float64]: ...


class HostValues(Protocol):
    """The same per-host values as Python sequences (what `raw_at` reads: one host at a time)."""

    @property
    def ram_total(self) -> Sequence[float]: ...
    @property
    def ram_used(self) -> Sequence[float]: ...
    @property
    def vcpu_total(self) -> Sequence[float]: ...
    @property
    def vcpus_used(self) -> Sequence[float]: ...
    @property
    def pci_free_total(self) -> Sequence[int]: ...
    @property
    def disk_total(self) -> Sequence[float]: ...
    @property
    def disk_used(self) -> Sequence[float]: ...


class BaseWeigher:
    """A weigher: `raw(usage)` gives every host's raw weight; higher wins before multipliers."""

    name: ClassVar[str] = "BaseWeigher"
    minval: ClassVar[float | None] = None

    def raw(self, usage: HostUsage) -> npt.NDArray[np.float64]:
        """Raw weights of all hosts."""
        raise NotImplementedError

    def raw_at(self, usage: HostValues, index: int) -> float:
        """Raw weight of host `index` (kept in step with `raw`)."""
        raise NotImplementedError

    def delta(self, vcpus: int, ram: int, gpus: int, disk: int = 0) -> float | None:
        """How a claim of these flavor amounts changes the raw weight; None: recompute it."""
        return None


class RAMWeigher(BaseWeigher):
    """Weigh hosts by free RAM (MEMORY_MB total - reserved - RAM of the flavors on it)."""

    name = "RAMWeigher"
    minval = 0.0

    def raw(self, usage: HostUsage) -> npt.NDArray[np.float64]:
        """Free RAM of every host."""
        return usage.ram_total - usage.ram_used

    def raw_at(self, usage: HostValues, index: int) -> float:
        """Free RAM of one host."""
        return float(usage.ram_total[index] - usage.ram_used[index])

    def delta(self, vcpus: int, ram: int, gpus: int, disk: int = 0) -> float | None:
        """A claim takes its flavor's RAM."""
        return -float(ram)


class CPUWeigher(BaseWeigher):
    """Weigh hosts by free vCPUs: VCPU total x allocation ratio - used.

    As in nova's host state, used starts at `reserved_host_cpus` (the VCPU inventory's
    reserved) and grows by the vCPUs of the flavors on the host (`vcpu_total` holds the first
    difference).
    """

    name = "CPUWeigher"
    minval = 0.0

    def raw(self, usage: HostUsage) -> npt.NDArray[np.float64]:
        """Free vCPUs of every host."""
        return usage.vcpu_total - usage.vcpus_used

    def raw_at(self, usage: HostValues, index: int) -> float:
        """Free vCPUs of one host."""
        return float(usage.vcpu_total[index] - usage.vcpus_used[index])

    def delta(self, vcpus: int, ram: int, gpus: int, disk: int = 0) -> float | None:
        """A claim takes its flavor's vCPUs."""
        return -float(vcpus)


class PCIWeigher(BaseWeigher):
    """Weigh hosts with fewer free PCI devices higher: `100 - min(free, 99)` (nova, Pike+).

    For requests without PCI this keeps ordinary VMs off PCI hosts while others have room;
    for PCI requests it stacks them, keeping whole PCI hosts free.
    """

    name = "PCIWeigher"

    def raw(self, usage: HostUsage) -> npt.NDArray[np.float64]:
        """Raw PCI weight of every host."""
        free = np.minimum(usage.pci_free_total, MAX_DEVS - 1)
        return (MAX_DEVS - free).astype(np.float64)

    def raw_at(self, usage: HostValues, index: int) -> float:
        """Raw PCI weight of one host."""
        return float(MAX_DEVS - min(int(usage.pci_free_total[index]), MAX_DEVS - 1))

    def delta(self, vcpus: int, ram: int, gpus: int, disk: int = 0) -> float | None:
        """Unchanged without devices; with devices recomputed (the cap makes it non-linear)."""
        return 0.0 if gpus == 0 else None


class DiskWeigher(BaseWeigher):
    """Weigh hosts by free disk in MiB, as nova's host state counts it (Ocata+).

    Free = (DISK_GB total - reserved - root and ephemeral disk of the flavors on it) x 1024:
    no allocation ratio (nova's `free_disk_mb` ignores it), clamped at 0.
    """

    name = "DiskWeigher"
    minval = 0.0

    def raw(self, usage: HostUsage) -> npt.NDArray[np.float64]:
        """Free disk (MiB) of every host."""
        return (usage.disk_total - usage.disk_used) * 1024.0

    def raw_at(self, usage: HostValues, index: int) -> float:
        """Free disk (MiB) of one host."""
        return float((usage.disk_total[index] - usage.disk_used[index]) * 1024.0)

    def delta(self, vcpus: int, ram: int, gpus: int, disk: int = 0) -> float | None:
        """A claim takes its flavor's disk."""
        return -float(disk * 1024)


WEIGHERS: dict[str, type[BaseWeigher]] = {
    cls.name: cls for cls in (RAMWeigher, CPUWeigher, PCIWeigher, DiskWeigher)
}
