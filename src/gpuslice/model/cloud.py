"""The static side of the embedded model: providers, inventories, traits, aggregates, devices.

`from_plan(plan)` is the one adapter from a `Plan` to the model. Everything here is immutable;
what changes while VMs come and go lives in `gpuslice.model.scheduler.Scheduler`.

Rules taken from nova and Placement:
- a provider's capacity for a class is `(total - reserved) * allocation_ratio` (rounded down);
- nova host aggregates name service hosts; a provider belongs to the aggregates of its service
  host (nova mirrors host aggregates into Placement aggregates of that host's compute nodes);
- PCI devices are pooled by (vendor_id, product_id); an alias asks for one pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gpuslice.errors import InputError
from gpuslice.model.cards import CardModel
from gpuslice.model.request import DISK_GB, MEMORY_MB, VCPU
from gpuslice.model.rules import make_filter, make_weigher
from gpuslice.plan.types import Aggregate, HostPlan, PciAlias, Plan, Resources

PoolKey = tuple[str, str]

IO_OPS_WEIGHT_MULTIPLIER = -1.0
"""nova's `[filter_scheduler] io_ops_weight_multiplier` default (every release modelled)."""


@dataclass(frozen=True)
class ProviderModel:
    """One resource provider and the nova compute node (host state) behind it.

    `capacity`, `min_unit`, `max_unit` and `step_size` are per resource class. `ram_total` and
    `vcpu_total` are what the host state reports to weighers (free RAM is counted against
    `MEMORY_MB` total - reserved; vCPUs against `VCPU` total x ratio - reserved, since nova's
    host state counts `reserved_host_cpus` as used; disk against `disk_total` = `DISK_GB`
    total - reserved, in GB, without a ratio). `pci` counts devices per (vendor_id,
    product_id) pool.
    """

    name: str
    service_host: str
    capacity: Mapping[str, int]
    min_unit: Mapping[str, int]
    max_unit: Mapping[str, int]
    step_size: Mapping[str, int]
    traits: frozenset[str]
    aggregates: tuple[Aggregate, ...]
    pci: Mapping[PoolKey, int]
    ram_total: int
    vcpu_total: float
    enabled: bool = True
    disk_total: int = 0


@dataclass(frozen=True)
class WeigherSetting:
    """One enabled weigher and its multiplier (negative turns spread into stack)."""

    name: str
    multiplier: float = 1.0


@dataclass(frozen=True)
class SchedulerConfig:
    """What the scheduler does: enabled filters in order, weighers, subset size, prefilters."""

    filters: tuple[str, ...]
    weighers: tuple[WeigherSetting, ...] = (
        WeigherSetting("RAMWeigher"),
        WeigherSetting("CPUWeigher"),
    )
    host_subset_size: int = 1
    isolated_aggregates: bool = False
    resource_overrides: bool = True
    placement: bool = True


@dataclass(frozen=True)
class CloudModel:
    """The static cloud: providers in order, aliases, scheduler settings, physical totals, and
    the cards (child providers) under the providers."""

    providers: tuple[ProviderModel, ...]
    aliases: Mapping[str, PoolKey]
    config: SchedulerConfig
    strategy: str = "custom"
    physical: Resources = field(default_factory=Resources)
    gpus: int = 0
    cards: tuple[CardModel, ...] = ()

    def __post_init__(self) -> None:
        for name in self.config.filters:
            make_filter(name)
        for setting in self.config.weighers:
            make_weigher(setting.name)
        if self.config.host_subset_size < 1:
            msg = f"host_subset_size must be at least 1, got {self.config.host_subset_size}"
            raise InputError(msg)

    @property
    def resource_classes(self) -> tuple[str, ...]:
        """Every resource class any provider has, sorted."""
        return tuple(sorted({rc for p in self.providers for rc in p.capacity}))

    @property
    def pools(self) -> tuple[PoolKey, ...]:
        """Every PCI device pool any provider has, sorted."""
        keys = {k for p in self.providers for k in p.pci} | set(self.aliases.values())
        return tuple(sorted(keys))


def _alias_map(aliases: tuple[PciAlias, ...]) -> dict[str, PoolKey]:
    return {a.name: (a.vendor_id.lower(), a.product_id.lower()) for a in aliases}


def from_plan(
    plan: Plan,
    *,
    weighers: tuple[WeigherSetting, ...] | None = None,
    host_subset_size: int = 1,
) -> CloudModel:
    """Build the model of the cloud that `plan` describes.

    Each vGPU card of a host plan (`HostPlan.vgpu_cards`) becomes a `CardModel` under the
    host's first provider (`gpuslice.model.cards`).
    Weighers default to nova's RAMWeigher and CPUWeigher (multiplier 1.0, spread) plus, from
    Pike, PCIWeigher with the plan's `pci_weight_multiplier` (nova's default 1.0 when the plan
    sets none), from Ocata DiskWeigher (1.0), and IoOpsWeigher (-1.0: builds in flight spread
    the next VM until `Scheduler.settle`). nova's other default weighers weigh every host of
    the model alike (no build failures, one cell, no server groups, one hypervisor version, no
    image properties; NumInstancesWeigher's default multiplier is 0), so they never change a
    choice and are left out. Ties go to the first host in fleet order; nova keeps its
    host-state order, which is not the fleet's, so among equal weights the two may pick
    different hosts.
    """
    release = plan.release
    aggregates_of: dict[str, list[Aggregate]] = {}
    for aggregate in plan.cloud.aggregates:
        for member in aggregate.hosts:
            aggregates_of.setdefault(member, []).append(aggregate)
    extra_traits = plan.cloud.provider_traits
    providers: list[ProviderModel] = []
    physical = Resources()
    gpus = 0
    cards: list[CardModel] = []
    for host in plan.hosts:
        physical = physical + Resources(len(host.host.cpus), host.host.memory_mb, host.host.disk_gb)
        gpus += len(host.host.gpus)
        cards.extend(_cards(plan, host, len(providers)))
        for provider in host.providers:
            capacity = {rc: inv.capacity for rc, inv in provider.inventories.items()}
            pci: dict[PoolKey, int] = {}
            for device in provider.pci_devices:
                key = ((device.vendor_id or "").lower(), (device.product_id or "").lower())
                pci[key] = pci.get(key, 0) + 1
            memory = provider.inventories.get(MEMORY_MB)
            vcpu = provider.inventories.get(VCPU)
            disk = provider.inventories.get(DISK_GB)
            providers.append(
                ProviderModel(
                    name=provider.name,
                    service_host=provider.service_host,
                    capacity=capacity,
                    min_unit={rc: inv.min_unit for rc, inv in provider.inventories.items()},
                    max_unit={rc: inv.largest_unit for rc, inv in provider.inventories.items()},
                    step_size={rc: inv.step_size for rc, inv in provider.inventories.items()},
                    traits=frozenset(provider.traits)
                    | frozenset(extra_traits.get(provider.name, ())),
                    aggregates=tuple(aggregates_of.get(provider.service_host, ())),
                    pci=pci,
                    ram_total=0 if memory is None else memory.total - memory.reserved,
                    vcpu_total=0.0
                    if vcpu is None
                    else vcpu.total * vcpu.allocation_ratio - vcpu.reserved,
                    disk_total=0 if disk is None else disk.total - disk.reserved,
                )
            )
    if weighers is None:
        chosen = [WeigherSetting("RAMWeigher"), WeigherSetting("CPUWeigher")]
        if release.has("pci_weigher"):
            multiplier = plan.scheduler.pci_weight_multiplier
            chosen.append(WeigherSetting("PCIWeigher", 1.0 if multiplier is None else multiplier))
        if release.has("disk_weigher"):
            chosen.append(WeigherSetting("DiskWeigher"))
        chosen.append(WeigherSetting("IoOpsWeigher", IO_OPS_WEIGHT_MULTIPLIER))
        weighers = tuple(chosen)
    config = SchedulerConfig(
        filters=plan.scheduler.filters,
        weighers=weighers,
        host_subset_size=host_subset_size,
        isolated_aggregates=plan.scheduler.isolated_aggregates,
        resource_overrides=release.has("resource_overrides_in_flavor"),
        placement=release.has("placement_mandatory"),
    )
    return CloudModel(
        providers=tuple(providers),
        aliases=_alias_map(plan.aliases),
        config=config,
        strategy=plan.strategy,
        physical=physical,
        gpus=gpus,
        cards=tuple(cards),
    )


def _cards(plan: Plan, host: HostPlan, root: int) -> list[CardModel]:
    """The host's vGPU cards, under its first provider (index `root`)."""
    out = []
    for card in host.vgpu_cards:
        (device,) = card.pci_devices
        model = plan.fleet.model_of(device)
        out.append(
            CardModel(
                card.name,
                root,
                model.alias,
                {rc: inv.capacity for rc, inv in card.inventories.items()},
                frozenset(card.traits) | frozenset(plan.cloud.provider_traits.get(card.name, ())),
                "VF" if model.vgpu is not None and model.vgpu.on == "vfs" else "card",
            )
        )
    return out
