"""nova's host weighers: one small class per weigher, each giving one raw number per host.

A weigher answers `raw(host)` from one host's state and `delta(spec)`: how a claim of `spec`
changes that raw value (None: the engine recomputes it with `raw`). Normalising and
multiplying happen once, in `gpuslice.model.rules.normalize`; adding a weigher is one class
here and one entry in `WEIGHERS`.

`reads` names the host-state fields `raw` reads. A weigher whose `delta` may be None must read
only `pci_free_total` (what a host group's key holds) for the engine to move hosts between
groups without reading their state. `settles` marks a weigher whose claim delta lasts only until
nova's periodic resource update (`Scheduler.settle`): then it is recomputed, and a release of a
claim made before it does not undo the delta.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from gpuslice.model.request import RequestSpec

# PCIWeigher's cap: hosts with 99 or more free devices all weigh the same (nova's MAX_DEVS).
MAX_DEVS = 100


class HostState(Protocol):
    """What a weigher may read of one host, as nova's HostState holds it."""

    @property
    def ram_total(self) -> float: ...
    @property
    def ram_used(self) -> float: ...
    @property
    def vcpu_total(self) -> float: ...
    @property
    def vcpus_used(self) -> float: ...
    @property
    def pci_free_total(self) -> int: ...
    @property
    def disk_total(self) -> float: ...
    @property
    def disk_used(self) -> float: ...
    @property
    def io_ops(self) -> int: ...


class BaseWeigher:
    """A weigher: `raw(host)` is the host's raw weight; higher wins before multipliers."""

    name: ClassVar[str] = "BaseWeigher"
    minval: ClassVar[float | None] = None
    reads: ClassVar[frozenset[str]] = frozenset()
    settles: ClassVar[bool] = False

    def raw(self, host: HostState) -> float:
        """Raw weight of one host."""
        raise NotImplementedError

    def delta(self, spec: RequestSpec) -> float | None:
        """How a claim of `spec` changes the raw weight; None: recompute it with `raw`."""
        return None


class RAMWeigher(BaseWeigher):
    """Weigh hosts by free RAM (MEMORY_MB total - reserved - RAM of the flavors on it)."""

    name = "RAMWeigher"
    minval = 0.0
    reads = frozenset({"ram_total", "ram_used"})

    def raw(self, host: HostState) -> float:
        """Free RAM (MiB)."""
        return float(host.ram_total - host.ram_used)

    def delta(self, spec: RequestSpec) -> float | None:
        """A claim takes its flavor's RAM."""
        return -float(spec.ram)


class CPUWeigher(BaseWeigher):
    """Weigh hosts by free vCPUs: VCPU total x allocation ratio - used.

    As in nova's host state, used starts at `reserved_host_cpus` (the VCPU inventory's
    reserved) and grows by the vCPUs of the flavors on the host (`vcpu_total` holds the first
    difference).
    """

    name = "CPUWeigher"
    minval = 0.0
    reads = frozenset({"vcpu_total", "vcpus_used"})

    def raw(self, host: HostState) -> float:
        """Free vCPUs."""
        return float(host.vcpu_total - host.vcpus_used)

    def delta(self, spec: RequestSpec) -> float | None:
        """A claim takes its flavor's vCPUs."""
        return -float(spec.vcpus)


class PCIWeigher(BaseWeigher):
    """Weigh hosts with fewer free PCI devices higher: `100 - min(free, 99)` (nova, Pike+).

    For requests without PCI this keeps ordinary VMs off PCI hosts while others have room;
    for PCI requests it stacks them, keeping whole PCI hosts free.
    """

    name = "PCIWeigher"
    reads = frozenset({"pci_free_total"})

    def raw(self, host: HostState) -> float:
        """Raw PCI weight."""
        return float(MAX_DEVS - min(int(host.pci_free_total), MAX_DEVS - 1))

    def delta(self, spec: RequestSpec) -> float | None:
        """Unchanged without devices; with devices recomputed (the cap makes it non-linear)."""
        return 0.0 if spec.gpus == 0 else None


class DiskWeigher(BaseWeigher):
    """Weigh hosts by free disk in MiB, as nova's host state counts it (Ocata+).

    Free = (DISK_GB total - reserved - root and ephemeral disk of the flavors on it) x 1024:
    no allocation ratio (nova's `free_disk_mb` ignores it), clamped at 0.
    """

    name = "DiskWeigher"
    minval = 0.0
    reads = frozenset({"disk_total", "disk_used"})

    def raw(self, host: HostState) -> float:
        """Free disk (MiB)."""
        return float((host.disk_total - host.disk_used) * 1024.0)

    def delta(self, spec: RequestSpec) -> float | None:
        """A claim takes its flavor's disk."""
        return -float(spec.disk * 1024)


class IoOpsWeigher(BaseWeigher):
    """Weigh hosts by their I/O operations in flight (nova's `num_io_ops`; multiplier -1.0).

    nova counts a build on its host from the scheduler's claim (`HostState.consume_from_request`
    adds one) and in the compute's stats (`io_workload`: instances in BUILDING) until the
    compute's periodic resource update recounts (`update_resources_interval`, 60 s by default):
    a claim adds 1, `Scheduler.settle` brings every host back to 0 (builds are done by then in
    the model), and deleting a VM built since the last update takes its 1 back.
    """

    name = "IoOpsWeigher"
    minval = 0.0
    reads = frozenset({"io_ops"})
    settles = True

    def raw(self, host: HostState) -> float:
        """I/O operations in flight."""
        return float(host.io_ops)

    def delta(self, spec: RequestSpec) -> float | None:
        """A claim is one more build in flight."""
        return 1.0


WEIGHERS: dict[str, type[BaseWeigher]] = {
    cls.name: cls for cls in (RAMWeigher, CPUWeigher, PCIWeigher, DiskWeigher, IoOpsWeigher)
}
