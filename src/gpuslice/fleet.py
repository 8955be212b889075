"""The fleet: what the operator has (hosts, GPUs) and wants (release, strategy, slices).

These are the pure, immutable records the planner reads. `gpuslice.fleetfile` loads them from
YAML and validates them; here are only the records and the rules that hold for any fleet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from gpuslice.inventory.device import GpuDevice
from gpuslice.inventory.sriov import DeviceType
from gpuslice.releases import Release

StrategyName = Literal["none", "weigher", "dedicated", "split", "placement", "auto"]
STRATEGIES: tuple[StrategyName, ...] = (
    "none",
    "weigher",
    "dedicated",
    "split",
    "placement",
    "auto",
)
CpuMode = Literal["accounted", "dedicated"]
# Where a vGPU card's slice sits under placement: on the card's provider, or pooled on the root.
VgpuSlices = Literal["per_card", "pooled"]
GpuMode = Literal["passthrough", "vgpu"]
# Where a vGPU model's mdev types sit: on the card itself, or on its SR-IOV virtual functions
# (NVIDIA from Ampere on: one vGPU per VF).
VgpuOn = Literal["card", "vfs"]


@dataclass(frozen=True)
class SliceSpec:
    """What one GPU brings with it and holds back: vCPUs, RAM (MiB) and disk (GiB)."""

    vcpus: int
    memory_mb: int
    disk_gb: int


@dataclass(frozen=True)
class GpuFlavor:
    """One flavor of a GPU model's menu: `gpus` whole GPUs of that model.

    Its vCPUs, RAM and disk are `gpus` slices unless `vcpus`, `memory_mb` or `disk_gb` override
    them; the fleet loader refuses an override above `gpus` slices (the pooled slice would then
    run short for another GPU of the host).
    """

    name: str
    gpus: int = 1
    vcpus: int | None = None
    memory_mb: int | None = None
    disk_gb: int | None = None

    def size(self, per_gpu: SliceSpec) -> SliceSpec:
        """What a VM of this flavor takes: `gpus` slices of `per_gpu`, or the overrides."""
        return SliceSpec(
            self.vcpus if self.vcpus is not None else self.gpus * per_gpu.vcpus,
            self.memory_mb if self.memory_mb is not None else self.gpus * per_gpu.memory_mb,
            self.disk_gb if self.disk_gb is not None else self.gpus * per_gpu.disk_gb,
        )


@dataclass(frozen=True)
class VgpuFlavor:
    """One flavor of a vGPU model's menu: `vgpus` vGPUs of one physical GPU.

    It takes exactly `vgpus` per-vGPU slices with them, never an override: vGPUs and slice
    leave a card in the same proportion, so no flavor can strand part of a card's slice.
    """

    name: str
    vgpus: int = 1

    def size(self, per_vgpu: SliceSpec) -> SliceSpec:
        """What a VM of this flavor takes: `vgpus` slices of `per_vgpu`."""
        return SliceSpec(
            self.vgpus * per_vgpu.vcpus,
            self.vgpus * per_vgpu.memory_mb,
            self.vgpus * per_vgpu.disk_gb,
        )


@dataclass(frozen=True)
class VgpuSpec:
    """How a GPU model is cut into vGPUs: its mdev type, vGPUs per card and their flavors.

    `slice` of the owning model is per vGPU; a card holds back `vgpus_per_gpu` of them.
    `on` says which functions offer the type: the card (`card`), or its SR-IOV virtual
    functions (`vfs`), each of which holds one vGPU and gets its own provider in nova.
    """

    mdev_type: str
    vgpus_per_gpu: int
    flavors: tuple[VgpuFlavor, ...]
    on: VgpuOn = "card"


@dataclass(frozen=True)
class GpuModel:
    """One kind of GPU: how it is matched (vendor/product id), its alias, slice and flavors.

    A k-GPU flavor asks for `pci_passthrough:alias=<alias>:k`. `flavor` is the 1-GPU default's
    name; `flavors` is the model's menu when the fleet lists one (see `menu`).
    `device_type` is the type nova gives these GPUs (type-PF for SR-IOV-capable ones), None
    when neither the fleet nor discovery could tell (see `model_device_type`).
    """

    alias: str
    vendor_id: str
    product_id: str
    slice: SliceSpec
    flavor: str
    name: str | None = None
    device_type: DeviceType | None = None
    flavors: tuple[GpuFlavor, ...] = ()
    vgpu: VgpuSpec | None = None
    # The GPUs are SR-IOV virtual functions bound to the vendor's vfio variant driver (NVIDIA
    # vGPU 17+ on Ada/Hopper): each is one vGPU, passed through with device_spec managed=no.
    vfio_variant: bool = False

    @property
    def mode(self) -> GpuMode:
        """`vgpu` when the model is cut into vGPUs (mdev), else `passthrough` (whole GPUs)."""
        return "vgpu" if self.vgpu is not None else "passthrough"

    @property
    def gpu_slice(self) -> SliceSpec:
        """What one physical GPU of this model holds back: its slice, or for a vGPU model
        `vgpus_per_gpu` per-vGPU slices."""
        if self.vgpu is None:
            return self.slice
        n = self.vgpu.vgpus_per_gpu
        return SliceSpec(n * self.slice.vcpus, n * self.slice.memory_mb, n * self.slice.disk_gb)

    @property
    def vendor_product(self) -> str:
        """`vendor:product`, as lspci -nn prints it."""
        return f"{self.vendor_id}:{self.product_id}"

    @property
    def menu(self) -> tuple[GpuFlavor, ...]:
        """The model's flavors, fewest GPUs first: the listed ones, else one 1-GPU `flavor`."""
        listed = self.flavors or (GpuFlavor(self.flavor, 1),)
        return tuple(sorted(listed, key=lambda f: f.gpus))


@dataclass(frozen=True)
class HostReserve:
    """What the hypervisor itself keeps (nova's reserved_host_* before any slice)."""

    memory_mb: int = 512
    disk_mb: int = 0
    cpus: int = 0


@dataclass(frozen=True)
class AllocationRatios:
    """Overcommit of the general part; the GPU slice is never overcommitted."""

    cpu: float = 1.0
    ram: float = 1.0
    disk: float = 1.0


@dataclass(frozen=True)
class Host:
    """One hypervisor: its CPUs (explicit ids), RAM (MiB), disk (GiB) and passthrough GPUs.

    `companions` are functions that go to vfio-pci with the GPUs (their HDMI audio).
    `cpu_numa` maps a NUMA node to its CPU ids where the fleet says so; empty when unknown.
    """

    name: str
    cpus: tuple[int, ...]
    memory_mb: int
    disk_gb: int
    gpus: tuple[GpuDevice, ...] = ()
    companions: tuple[GpuDevice, ...] = ()
    gpu_service_host: str | None = None
    cpu_numa: tuple[tuple[int, tuple[int, ...]], ...] = ()
    hypervisor_hostname: str | None = None
    # Per GPU address, the SR-IOV virtual functions the fleet lists for it (`vfs:`), in order.
    gpu_vfs: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def vfs_of(self, gpu: GpuDevice) -> tuple[str, ...]:
        """The virtual functions the fleet lists for `gpu` (none: empty)."""
        return dict(self.gpu_vfs).get(gpu.address, ())

    @property
    def hypervisor(self) -> str:
        """The hypervisor hostname libvirt reports (nova's root provider name): the fleet's
        `hypervisor_hostname`, else the host's name."""
        return self.hypervisor_hostname or self.name

    @property
    def is_gpu_host(self) -> bool:
        """A host with at least one passthrough GPU."""
        return bool(self.gpus)


@dataclass(frozen=True)
class FlavorPolicy:
    """How GPU flavors are offered: private (with the projects that may use them) or public."""

    is_public: bool = False
    projects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fleet:
    """Everything the planner needs, already validated."""

    release: Release
    strategy: StrategyName
    models: tuple[GpuModel, ...]
    hosts: tuple[Host, ...]
    controllers: tuple[str, ...]
    host_reserve: HostReserve = field(default_factory=HostReserve)
    ratios: AllocationRatios = field(default_factory=AllocationRatios)
    cpu_mode: CpuMode = "accounted"
    # Whether `ratios` are the cloud's everywhere (a fleet file's `allocation_ratios`), or only
    # what gpuslice renders for the hosts it writes config for; False: the others keep
    # nova's initial ratios for the release.
    ratios_stated: bool = True
    aggregate: str = "gpu"
    flavors: FlavorPolicy = field(default_factory=FlavorPolicy)
    pci_in_placement: bool = False
    # The cloud's [quota] driver is nova.quota.UnifiedLimitsDriver (Keystone registered limits).
    unified_limits: bool = False
    vgpu_slices: VgpuSlices = "per_card"
    source: str = "<fleet>"

    @property
    def gpu_hosts(self) -> tuple[Host, ...]:
        """The hosts that have at least one GPU, in fleet order."""
        return tuple(host for host in self.hosts if host.is_gpu_host)

    @cached_property
    def _models_by_ids(self) -> dict[tuple[str | None, str | None], GpuModel]:
        return {(m.vendor_id, m.product_id): m for m in self.models}

    @cached_property
    def used_models(self) -> tuple[GpuModel, ...]:
        """The GPU models present on at least one host, in fleet order."""
        present = {(g.vendor_id, g.product_id) for h in self.hosts for g in h.gpus}
        return tuple(m for m in self.models if (m.vendor_id, m.product_id) in present)

    @cached_property
    def vgpu_models(self) -> tuple[GpuModel, ...]:
        """The vGPU models present on at least one host, in fleet order."""
        return tuple(m for m in self.used_models if m.vgpu is not None)

    def vgpu_gpus(self, host: Host) -> tuple[GpuDevice, ...]:
        """The host's GPUs of a vGPU model (cut into mdevs, never passed through whole)."""
        return tuple(g for g in host.gpus if self.model_of(g).vgpu is not None)

    def passthrough_gpus(self, host: Host) -> tuple[GpuDevice, ...]:
        """The host's GPUs passed through whole (every GPU not of a vGPU model)."""
        return tuple(g for g in host.gpus if self.model_of(g).vgpu is None)

    def model_of(self, gpu: GpuDevice) -> GpuModel:
        """The GPU model that matches `gpu` by vendor and product id.

        Raises KeyError when none does; the fleet loader guarantees every GPU has one.
        """
        model = self._models_by_ids.get((gpu.vendor_id, gpu.product_id))
        if model is None:
            raise KeyError(gpu.address)
        return model


def model_device_type(
    stated: DeviceType | None, gpus: Sequence[tuple[str, GpuDevice]]
) -> DeviceType | None:
    """The device type of one GPU model: `stated` by the fleet, else what its GPUs agree on.

    `gpus` are (host name, GPU) pairs of that model; GPUs whose type is unknown (None) take no
    part. Raises ValueError naming the GPUs when known types disagree with each other or with
    `stated`: nova gives each GPU one type and an alias asks for one. None when nothing tells.
    """
    known = [(host, gpu) for host, gpu in gpus if gpu.device_type is not None]
    types = {gpu.device_type for _, gpu in known}
    if stated is not None:
        types.add(stated)
    if len(types) > 1:
        listed = ", ".join(f"{host} {gpu.address} {gpu.device_type}" for host, gpu in known)
        said = f"device_type {stated} in the fleet file but " if stated is not None else ""
        msg = (
            f"{said}its GPUs are of different types to nova ({listed}); one alias asks for "
            "one type. Pass through whole GPUs (type-PF) or their virtual functions (type-VF), "
            "not both, or fix device_type"
        )
        raise ValueError(msg)
    return stated if stated is not None else next(iter(types), None)
