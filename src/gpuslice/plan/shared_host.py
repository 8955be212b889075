"""Strategies that keep one nova-compute per host and hold nothing back by CPU or RAM sets.

`none` whitelists the GPUs and holds nothing; `weigher` adds a strong PCIWeigher so ordinary
VMs go elsewhere first; `dedicated` keeps GPU hosts for GPU flavors alone. They differ only in
scheduler settings, traits and aggregate metadata; the hosts look the same.
"""

from __future__ import annotations

from gpuslice.fleet import Fleet, Host
from gpuslice.plan.assemble import assemble, controller_files
from gpuslice.plan.common import (
    GPU_TRAIT,
    NodeFiles,
    alias_option,
    flavor_names,
    gpu_aggregate,
    gpu_flavors,
    passthrough_option,
    pci_in_placement_scheduling,
    plain_host_plan,
    ratio_options,
    reserve_options,
    scheduler_filters,
    standard_inventory,
    vfio_bound,
    vfio_document,
)
from gpuslice.plan.slicing import host_reserve, host_total
from gpuslice.plan.types import (
    PROVIDER_YAML,
    CloudObjects,
    ConcreteStrategy,
    Document,
    HostPlan,
    Note,
    Plan,
    Promise,
    Provider,
    Resources,
    SchedulerSettings,
)
from gpuslice.plan.vgpu import card_providers, mdev_options, vgpu_flavors, vgpu_notes

WEIGHER_MULTIPLIER = 10.0


def plan_shared_host(fleet: Fleet, strategy: ConcreteStrategy, promise: Promise) -> Plan:
    """Plan `none`, `weigher` or `dedicated` for `fleet` (the release guard is the strategy's).

    Rules: `dedicated` uses isolated aggregates from Train and AggregateTypeAffinityFilter
    before. Nothing is held back, so the general part is the host less its reserve; under
    `dedicated` a GPU host serves GPU flavors alone.
    """
    release = fleet.release
    isolated = strategy == "dedicated" and release.has("isolated_aggregates")
    type_affinity = strategy == "dedicated" and not isolated
    traits_by_yaml = isolated and release.has("provider_yaml")

    host_plans: list[HostPlan] = []
    host_files: dict[str, NodeFiles] = {}
    provider_traits: dict[str, tuple[str, ...]] = {}
    for host in fleet.hosts:
        host_plans.append(_host_plan(fleet, host, strategy))
        if not host.is_gpu_host:
            continue
        files = NodeFiles()
        passthrough_option(fleet, host, files)
        mdev_options(fleet, host, files)
        alias_option(fleet, files)
        ratio_options(fleet, files)
        reserve = host_reserve(fleet)
        reserve_options(
            fleet.host_reserve.memory_mb,
            fleet.host_reserve.disk_mb,
            files,
            "the hypervisor's own reserve; this strategy holds no slice back",
        )
        if vfio_bound(fleet, fleet.passthrough_gpus(host)):
            files.documents.append(
                vfio_document(host, vfio_bound(fleet, fleet.passthrough_gpus(host)))
            )
        if reserve.vcpus and release.has("reserved_host_cpus"):
            files.set(
                "etc/nova/nova.conf",
                "DEFAULT",
                "reserved_host_cpus",
                str(reserve.vcpus),
                "CPUs the hypervisor keeps for itself",
            )
        if isolated and traits_by_yaml:
            files.documents.append(_trait_document())
        elif isolated:
            provider_traits[host.name] = (GPU_TRAIT,)
        host_files[host.name] = files

    extra_filters = ["AggregateInstanceExtraSpecsFilter"]
    if type_affinity:
        extra_filters.append("AggregateTypeAffinityFilter")
    scheduler = SchedulerSettings(
        filters=scheduler_filters(fleet, extra_filters),
        pci_weight_multiplier=_pci_multiplier(fleet, strategy),
        isolated_aggregates=isolated,
        pci_in_placement=pci_in_placement_scheduling(fleet),
    )
    controllers = controller_files(fleet, scheduler)
    if strategy == "weigher":
        controllers.set(
            "etc/nova/nova.conf",
            "filter_scheduler",
            "pci_weight_multiplier",
            str(WEIGHER_MULTIPLIER),
            "PCIWeigher outweighs the RAM weigher tenfold: ordinary VMs go to hosts "
            "without GPUs first",
        )
    if isolated:
        controllers.set(
            "etc/nova/nova.conf",
            "scheduler",
            "enable_isolated_aggregate_filtering",
            "True",
            "hosts in an aggregate that requires a trait only take flavors that require it",
        )

    metadata: dict[str, str] = {}
    specs = {f"aggregate_instance_extra_specs:{fleet.aggregate}": "true"}
    if isolated:
        metadata[f"trait:{GPU_TRAIT}"] = "required"
        specs[f"trait:{GPU_TRAIT}"] = "required"
    if type_affinity:
        metadata["instance_type"] = flavor_names(fleet)
    cloud = CloudObjects(
        traits=(GPU_TRAIT,) if isolated else (),
        aggregates=(gpu_aggregate(fleet, (h.name for h in fleet.gpu_hosts), metadata),),
        flavors=(*gpu_flavors(fleet, specs), *vgpu_flavors(fleet, "vgpu_only", specs)),
        provider_traits=provider_traits,
    )
    return assemble(
        fleet,
        strategy,
        promise,
        tuple(host_plans),
        host_files,
        controllers,
        scheduler,
        cloud,
        (*_notes(strategy, type_affinity), *vgpu_notes(fleet, strategy)),
    )


def _host_plan(fleet: Fleet, host: Host, strategy: ConcreteStrategy) -> HostPlan:
    if not host.is_gpu_host:
        return plain_host_plan(fleet, host)
    total = host_total(host)
    reserve = host_reserve(fleet)
    inventories = standard_inventory(fleet, total.vcpus, reserve, total)
    traits = (GPU_TRAIT,) if strategy == "dedicated" else ()
    provider = Provider(host.name, host.name, inventories, traits, host.gpus)
    if strategy == "dedicated":
        # The whole host serves GPU flavors: its slices are what GPU VMs use, the rest is idle.
        general = Resources()
        gpu_slice = total - reserve
    else:
        general = total - reserve
        gpu_slice = Resources()
    cards = card_providers(fleet, host, with_slice=False, with_trait=False)
    return HostPlan(host, total, reserve, general, gpu_slice, host.cpus, (), (provider,), cards)


def _pci_multiplier(fleet: Fleet, strategy: ConcreteStrategy) -> float | None:
    if not fleet.release.has("pci_weigher"):
        return None
    return WEIGHER_MULTIPLIER if strategy == "weigher" else 1.0


def _trait_document() -> Document:
    return Document(
        PROVIDER_YAML,
        {
            "meta": {"schema_version": "1.0"},
            "providers": [
                {
                    "identification": {"uuid": "$COMPUTE_NODE"},
                    "traits": {"additional": [GPU_TRAIT]},
                }
            ],
        },
        f"{GPU_TRAIT} marks the host for the isolated GPU aggregate",
    )


def _notes(strategy: ConcreteStrategy, type_affinity: bool) -> tuple[Note, ...]:
    if strategy == "none":
        return (
            Note(
                "promise",
                "nothing is held back: ordinary VMs can fill a GPU host and a "
                "GPU VM then gets 'No valid host' while its GPU is idle",
            ),
        )
    if strategy == "weigher":
        return (
            Note(
                "promise",
                "soft: ordinary VMs go to hosts without GPUs first, but once "
                "those are full they fill GPU hosts too",
            ),
        )
    text = (
        "GPU hosts take GPU flavors only: the promise holds, but the CPU and RAM beyond the "
        "GPU slices sit idle"
    )
    if type_affinity:
        text += (
            "; before Train there are no isolated aggregates, so the GPU aggregate's "
            "instance_type metadata with AggregateTypeAffinityFilter keeps other flavors off"
        )
    return (Note("trade", text),)
