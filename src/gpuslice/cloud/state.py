"""A snapshot of what a live cloud holds, as plain immutable records.

The openstacksdk edge (`gpuslice.cloud.sdk`) fills these; the diff (`gpuslice.cloud.diff`) and the
audit rules (`gpuslice.cloud.audit`) read them and never talk to a cloud themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

OWNER_KEY = "gpuslice:managed"
"""Aggregate metadata key that marks an aggregate as created (owned) by gpuslice."""

OWNER_VALUE = "true"

FLAVOR_OWNER_PREFIX = "[gpuslice]"
"""Start of the description of every flavor gpuslice created (set atomically at creation)."""

SLICE_CLASSES = (
    "CUSTOM_GPU_VCPU",
    "CUSTOM_GPU_MEMORY_MB",
    "CUSTOM_GPU_DISK_GB",
    "CUSTOM_VGPU_VCPU",
    "CUSTOM_VGPU_MEMORY_MB",
)
"""The custom resource classes that carry the GPU slice in the `placement` strategy."""

ALIAS_SPEC = "pci_passthrough:alias"


@dataclass(frozen=True)
class LiveInventory:
    """One resource class of a live resource provider."""

    total: int
    reserved: int = 0
    allocation_ratio: float = 1.0
    max_unit: int | None = None

    @property
    def capacity(self) -> int:
        """What consumers may allocate in all: (total - reserved) x allocation_ratio."""
        return int((self.total - self.reserved) * self.allocation_ratio)


@dataclass(frozen=True)
class LiveProvider:
    """A Placement resource provider with its inventories, usages and traits."""

    uuid: str
    name: str
    generation: int
    root_uuid: str
    parent_uuid: str | None = None
    inventories: Mapping[str, LiveInventory] = field(default_factory=dict)
    usages: Mapping[str, int] = field(default_factory=dict)
    traits: tuple[str, ...] = ()
    # consumer uuid -> resource class -> amount held on this provider
    allocations: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class LiveFlavor:
    """A nova flavor as the API shows it. `projects` is None where access is not listed (public)."""

    id: str
    name: str
    vcpus: int
    ram: int
    disk: int
    is_public: bool
    extra_specs: Mapping[str, str]
    description: str | None = None
    projects: tuple[str, ...] | None = None

    @property
    def owned(self) -> bool:
        """Whether gpuslice created this flavor (its description carries the marker)."""
        return (self.description or "").startswith(FLAVOR_OWNER_PREFIX)


@dataclass(frozen=True)
class LiveAggregate:
    """A nova host aggregate."""

    id: str
    name: str
    metadata: Mapping[str, str]
    hosts: tuple[str, ...]

    @property
    def owned(self) -> bool:
        """Whether gpuslice created this aggregate (its metadata carries the marker)."""
        return self.metadata.get(OWNER_KEY) == OWNER_VALUE


@dataclass(frozen=True)
class LiveHypervisor:
    """A nova hypervisor: its node name (the root provider's name) and compute service host."""

    name: str
    service_host: str
    state: str = "up"
    status: str = "enabled"


@dataclass(frozen=True)
class LiveServer:
    """A nova server that holds Placement resources, with the flavor it was booted with."""

    id: str
    name: str
    project_id: str
    flavor_name: str
    vcpus: int
    extra_specs: Mapping[str, str]


@dataclass(frozen=True)
class CloudSnapshot:
    """Everything gpuslice reads from a cloud at one moment."""

    resource_classes: frozenset[str] = frozenset()
    traits: frozenset[str] = frozenset()
    providers: tuple[LiveProvider, ...] = ()
    hypervisors: tuple[LiveHypervisor, ...] = ()
    flavors: tuple[LiveFlavor, ...] = ()
    aggregates: tuple[LiveAggregate, ...] = ()
    # consumer uuid -> server; consumers that are not nova servers are absent
    servers: Mapping[str, LiveServer] = field(default_factory=dict)
    # GPU flavor name -> names of the root providers Placement offers candidates on
    candidates: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # project id -> cores in use as nova's quota counts them
    quota_cores_in_use: Mapping[str, int] = field(default_factory=dict)

    def provider(self, name: str) -> LiveProvider | None:
        """The provider called `name`, or None."""
        for provider in self.providers:
            if provider.name == name:
                return provider
        return None

    def flavor(self, name: str) -> LiveFlavor | None:
        """The flavor called `name`, or None."""
        for flavor in self.flavors:
            if flavor.name == name:
                return flavor
        return None

    def aggregate(self, name: str) -> LiveAggregate | None:
        """The aggregate called `name`, or None."""
        for aggregate in self.aggregates:
            if aggregate.name == name:
                return aggregate
        return None
