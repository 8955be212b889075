"""The plan as data: what each host keeps, every setting with the rule behind it, cloud objects.

A plan explains itself: each option, document and note carries the `rule` that made it.
Renderers turn a plan into text and `apply` turns its cloud objects into API calls; neither
decides anything the plan did not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gpuslice.fleet import Fleet, Host
from gpuslice.inventory.device import GpuDevice
from gpuslice.releases import Release

ConcreteStrategy = Literal["none", "weigher", "dedicated", "split", "placement"]
Promise = Literal["holds", "soft", "broken"]
Role = Literal["compute", "controller"]

NOVA_CONF = "etc/nova/nova.conf"
NOVA_GPU_CONF = "etc/nova/nova-gpu.conf"
GPU_UNIT = "etc/systemd/system/openstack-nova-gpu.service"
PROVIDER_YAML = "etc/nova/provider_config/gpuslice.yaml"
ML2_CONF = "etc/neutron/plugins/ml2/ml2_conf.ini"
VFIO_MODPROBE = "etc/modprobe.d/gpuslice-vfio.conf"


@dataclass(frozen=True)
class Resources:
    """An amount of vCPUs, RAM (MiB) and disk (GiB)."""

    vcpus: int = 0
    memory_mb: int = 0
    disk_gb: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.vcpus + other.vcpus,
            self.memory_mb + other.memory_mb,
            self.disk_gb + other.disk_gb,
        )

    def __sub__(self, other: Resources) -> Resources:
        return Resources(
            self.vcpus - other.vcpus,
            self.memory_mb - other.memory_mb,
            self.disk_gb - other.disk_gb,
        )

    def fits_in(self, other: Resources) -> bool:
        """Whether every amount here is at most the same amount in `other`."""
        return (
            self.vcpus <= other.vcpus
            and self.memory_mb <= other.memory_mb
            and self.disk_gb <= other.disk_gb
        )


@dataclass(frozen=True)
class Option:
    """One option in one INI-style file of a host.

    `path` is where the file lives on that host (`etc/nova/nova.conf`). A tuple value is written
    as the same option once per item (oslo.config MultiStrOpt, systemd repeated keys).
    """

    path: str
    section: str
    name: str
    value: str | tuple[str, ...]
    rule: str


@dataclass(frozen=True)
class Document:
    """A structured (YAML) file of a host; `content` is JSON-like and must not be mutated."""

    path: str
    content: Mapping[str, Any]
    rule: str


@dataclass(frozen=True)
class Inventory:
    """One resource class of a resource provider, as nova would report it to Placement."""

    total: int
    reserved: int = 0
    min_unit: int = 1
    max_unit: int | None = None
    step_size: int = 1
    allocation_ratio: float = 1.0

    @property
    def capacity(self) -> int:
        """What consumers may allocate in all: (total - reserved) x allocation_ratio."""
        return int((self.total - self.reserved) * self.allocation_ratio)

    @property
    def largest_unit(self) -> int:
        """The most one allocation may take (max_unit, defaulting to total)."""
        return self.total if self.max_unit is None else self.max_unit


@dataclass(frozen=True)
class Provider:
    """What one nova-compute service of a host reports: a root resource provider.

    `name` is the provider name (the hypervisor hostname), `service_host` nova's service host
    (what aggregates and neutron bindings name). `pci_devices` are the devices in this service's
    passthrough spec.
    """

    name: str
    service_host: str
    inventories: Mapping[str, Inventory]
    traits: tuple[str, ...] = ()
    pci_devices: tuple[GpuDevice, ...] = ()


@dataclass(frozen=True)
class HostPlan:
    """How one hypervisor is carved: totals, the host reserve, the general part and the slice.

    Invariant: reserve + general + gpu_slice == total for CPUs, RAM and disk.
    `gpu_cpus` are the CPU ids set aside for GPU VMs where CPUs are split by id (empty when the
    slice is only accounted).
    """

    host: Host
    total: Resources
    reserve: Resources
    general: Resources
    gpu_slice: Resources
    general_cpus: tuple[int, ...]
    gpu_cpus: tuple[int, ...]
    providers: tuple[Provider, ...]
    # Each vGPU card's child provider, as nova (VGPU) and provider.yaml (slice, trait) make it.
    vgpu_cards: tuple[Provider, ...] = ()


@dataclass(frozen=True)
class NodePlan:
    """The files one machine gets: its options and documents."""

    name: str
    role: Role
    options: tuple[Option, ...] = ()
    documents: tuple[Document, ...] = ()

    def paths(self) -> tuple[str, ...]:
        """Every file path this node gets, sorted, without repeats."""
        return tuple(sorted({o.path for o in self.options} | {d.path for d in self.documents}))


@dataclass(frozen=True)
class PciAlias:
    """A nova PCI alias: the name flavors ask for and the device it matches."""

    name: str
    vendor_id: str
    product_id: str
    device_type: str = "type-PCI"


@dataclass(frozen=True)
class Flavor:
    """A nova flavor, with openstacksdk's field names."""

    name: str
    vcpus: int
    ram: int
    disk: int
    is_public: bool
    extra_specs: Mapping[str, str]
    projects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Aggregate:
    """A nova host aggregate with its metadata and member service hosts."""

    name: str
    metadata: Mapping[str, str]
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class RegisteredLimit:
    """A Keystone registered limit for nova (unified limits): the default for every project.

    `resource_name` is nova's name for it (`class:CUSTOM_GPU_VCPU`).
    """

    resource_name: str
    default_limit: int
    description: str = ""


@dataclass(frozen=True)
class CloudObjects:
    """What must exist in the cloud's APIs (not in files) for the plan to work."""

    resource_classes: tuple[str, ...] = ()
    traits: tuple[str, ...] = ()
    aggregates: tuple[Aggregate, ...] = ()
    flavors: tuple[Flavor, ...] = ()
    # provider name -> traits to set on it through Placement (only where no provider.yaml does).
    provider_traits: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Keystone registered limits the plan's flavors need under unified limits (else empty).
    registered_limits: tuple[RegisteredLimit, ...] = ()


@dataclass(frozen=True)
class SchedulerSettings:
    """What the controllers' scheduler does, as data the embedded model reads."""

    filters: tuple[str, ...]
    pci_weight_multiplier: float | None = None
    isolated_aggregates: bool = False
    pci_in_placement: bool = False


@dataclass(frozen=True)
class Note:
    """A caveat, trade or warning the operator must read; `topic` is a short key."""

    topic: str
    text: str


@dataclass(frozen=True)
class Plan:
    """The whole plan for a fleet under one concrete strategy."""

    fleet: Fleet
    strategy: ConcreteStrategy
    promise: Promise
    hosts: tuple[HostPlan, ...]
    nodes: tuple[NodePlan, ...]
    aliases: tuple[PciAlias, ...]
    scheduler: SchedulerSettings
    cloud: CloudObjects
    notes: tuple[Note, ...] = ()

    @property
    def release(self) -> Release:
        """The release the plan is made for."""
        return self.fleet.release

    def node(self, name: str) -> NodePlan:
        """The node called `name`; KeyError when there is none."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    @property
    def providers(self) -> tuple[Provider, ...]:
        """Every resource provider of every host, in host order."""
        return tuple(p for host in self.hosts for p in host.providers)
