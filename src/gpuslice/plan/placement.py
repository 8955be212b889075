"""One nova-compute per host; the slice leaves VCPU/MEMORY_MB/DISK_GB and comes back as custom
inventory (provider.yaml) that only GPU flavors ask for.

Ordinary flavors cannot reach the custom classes, so the slice is invisible to them; GPU flavors
zero their standard resources (`resources:VCPU=0` ...) and ask for the custom amounts instead.
CPUs are either accounted (`reserved_host_cpus`: every guest floats over all CPUs) or dedicated
(`cpu_dedicated_set` on the GPU's NUMA node, GPU flavors with `hw:cpu_policy=dedicated`).
"""

from __future__ import annotations

from typing import Any

from gpuslice.cpuset import format_cpuset
from gpuslice.errors import InputError
from gpuslice.fleet import Fleet, Host, SliceSpec
from gpuslice.plan.assemble import assemble, controller_files
from gpuslice.plan.common import (
    GPU_DISK,
    GPU_MEMORY,
    GPU_TRAIT,
    GPU_VCPU,
    NodeFiles,
    alias_option,
    gpu_aggregate,
    gpu_flavors,
    passthrough_option,
    pci_in_placement_scheduling,
    plain_host_plan,
    ratio_options,
    reserve_options,
    scheduler_filters,
    vfio_bound,
    vfio_document,
)
from gpuslice.plan.slicing import (
    check_fits,
    host_reserve,
    host_total,
    numa_of_cpus,
    slices_of,
    split_cpus,
)
from gpuslice.plan.types import (
    NOVA_CONF,
    PROVIDER_YAML,
    CloudObjects,
    Document,
    HostPlan,
    Inventory,
    Note,
    Plan,
    Promise,
    Provider,
    Resources,
    SchedulerSettings,
)
from gpuslice.plan.vgpu import (
    VGPU_MEMORY,
    VGPU_VCPU,
    card_providers,
    is_tied,
    mdev_options,
    provider_entries,
    vgpu_flavors,
    vgpu_notes,
    vgpu_traits,
)

__all__ = ["GPU_DISK", "GPU_MEMORY", "GPU_VCPU", "plan_placement"]


def plan_placement(fleet: Fleet, promise: Promise) -> Plan:
    """Plan the placement strategy (the strategy refuses it before Victoria, 22: no
    provider.yaml)."""
    dedicated = fleet.cpu_mode == "dedicated"
    host_plans: list[HostPlan] = []
    host_files: dict[str, NodeFiles] = {}
    for host in fleet.hosts:
        plan, files = _host(fleet, host, dedicated)
        host_plans.append(plan)
        if files is not None:
            host_files[host.name] = files

    extra = ["NUMATopologyFilter"] if dedicated else []
    scheduler = SchedulerSettings(
        filters=scheduler_filters(fleet, extra),
        pci_weight_multiplier=1.0,
        pci_in_placement=pci_in_placement_scheduling(fleet),
    )
    controllers = controller_files(fleet, scheduler)
    if dedicated:
        controllers.set(
            NOVA_CONF,
            "workarounds",
            "disable_fallback_pcpu_query",
            "True",
            "when PCPU runs out nova would retry with VCPU and take the general part's CPUs",
        )

    classes = (GPU_MEMORY, GPU_DISK) if dedicated else (GPU_VCPU, GPU_MEMORY, GPU_DISK)
    if fleet.vgpu_models and is_tied(fleet, "placement"):
        classes = (*classes, VGPU_VCPU, VGPU_MEMORY)
    cloud = CloudObjects(
        resource_classes=classes,
        traits=(GPU_TRAIT, *vgpu_traits(fleet)),
        aggregates=(gpu_aggregate(fleet, (h.name for h in fleet.gpu_hosts), {}),),
        flavors=(
            *gpu_flavors(fleet, lambda size: _flavor_specs(size, dedicated)),
            *vgpu_flavors(fleet, "tied" if is_tied(fleet, "placement") else "pooled", {}),
        ),
    )
    return assemble(
        fleet,
        "placement",
        promise,
        tuple(host_plans),
        host_files,
        controllers,
        scheduler,
        cloud,
        (*_notes(dedicated), *vgpu_notes(fleet, "placement")),
    )


def _flavor_specs(size: SliceSpec, dedicated: bool) -> dict[str, str]:
    """A GPU flavor's resources: its size (k slices) in the pooled custom classes, none standard.

    One pool per class serves every model on a host; it never runs short for a free GPU because
    every GPU flavor takes at most its GPUs' slices (see docs/menus.md).
    """
    vcpus = size.vcpus
    specs = {
        "resources:MEMORY_MB": "0",
        f"resources:{GPU_MEMORY}": str(size.memory_mb),
        "resources:DISK_GB": "0",
    }
    if size.disk_gb:
        specs[f"resources:{GPU_DISK}"] = str(size.disk_gb)
    if dedicated:
        # resources:VCPU/PCPU together with hw:cpu_policy is an error (HTTP 400 at boot).
        specs["hw:cpu_policy"] = "dedicated"
    else:
        specs["resources:VCPU"] = "0"
        specs[f"resources:{GPU_VCPU}"] = str(vcpus)
    return specs


def _host(fleet: Fleet, host: Host, dedicated: bool) -> tuple[HostPlan, NodeFiles | None]:
    total = host_total(host)
    reserve = host_reserve(fleet)
    if not host.is_gpu_host:
        return plain_host_plan(fleet, host), None
    held = slices_of(fleet, host)
    check_fits(fleet, host, held)
    # The root offers back the passthrough GPUs' slices and every slice's disk; vGPU cards'
    # vCPUs and RAM sit on their own providers (gpuslice.plan.vgpu). The root withholds all.
    cards = card_providers(fleet, host)
    tied = is_tied(fleet, "placement")
    on_cards = (
        Resources(p.inventories[VGPU_VCPU].total, p.inventories[VGPU_MEMORY].total) for p in cards
    )
    pooled = held - sum(on_cards, Resources()) if tied else held
    files = NodeFiles()
    passthrough_option(fleet, host, files)
    mdev_options(fleet, host, files)
    alias_option(fleet, files)
    ratio_options(fleet, files)
    memory = fleet.host_reserve.memory_mb + held.memory_mb
    disk_mb = fleet.host_reserve.disk_mb + held.disk_gb * 1024
    reserve_options(
        memory,
        disk_mb,
        files,
        "the host reserve plus the GPU slices, which come back as custom inventory "
        "for GPU flavors alone",
    )
    files.set(
        NOVA_CONF,
        "compute",
        "provider_config_location",
        "/etc/nova/provider_config/",
        "nova reads the slice's custom inventory from here",
    )
    if vfio_bound(fleet, fleet.passthrough_gpus(host)):
        files.documents.append(vfio_document(host, vfio_bound(fleet, fleet.passthrough_gpus(host))))
    reserved_disk_gb = -(-disk_mb // 1024)
    inventories: dict[str, Inventory]
    if dedicated:
        general_ids, gpu_ids = split_cpus(fleet, host, held.vcpus)
        _check_numa_local(fleet, host, gpu_ids)
        files.set(
            NOVA_CONF,
            "compute",
            "cpu_dedicated_set",
            format_cpuset(gpu_ids),
            "the slice's CPUs, on the GPUs' NUMA node: GPU VMs are pinned there",
        )
        files.set(
            NOVA_CONF,
            "compute",
            "cpu_shared_set",
            format_cpuset(general_ids),
            "every other CPU but the host's own serves ordinary VMs "
            "(reserved_host_cpus cannot be combined with CPU sets)",
        )
        inventories = {
            "VCPU": Inventory(len(general_ids), 0, allocation_ratio=fleet.ratios.cpu),
            "PCPU": Inventory(len(gpu_ids)),
        }
    else:
        gpu_ids = ()
        general_ids = host.cpus
        files.set(
            NOVA_CONF,
            "DEFAULT",
            "reserved_host_cpus",
            str(reserve.vcpus + held.vcpus),
            "the host's own CPUs plus the GPU slices', which come back as "
            f"{GPU_VCPU} (accounting only: every guest floats over all CPUs)",
        )
        inventories = {
            "VCPU": Inventory(
                total.vcpus, reserve.vcpus + held.vcpus, allocation_ratio=fleet.ratios.cpu
            ),
            GPU_VCPU: Inventory(pooled.vcpus),
        }
    inventories["MEMORY_MB"] = Inventory(total.memory_mb, memory, allocation_ratio=fleet.ratios.ram)
    inventories["DISK_GB"] = Inventory(
        total.disk_gb, reserved_disk_gb, allocation_ratio=fleet.ratios.disk
    )
    inventories[GPU_MEMORY] = Inventory(pooled.memory_mb)
    if pooled.disk_gb:
        inventories[GPU_DISK] = Inventory(pooled.disk_gb)
    inventories = {
        rc: i for rc, i in inventories.items() if i.total or not rc.startswith("CUSTOM_")
    }
    custom = {rc: inv for rc, inv in inventories.items() if rc.startswith("CUSTOM_")}
    files.documents.append(_provider_document(custom, provider_entries(fleet, host, tied)))
    provider = Provider(
        host.name, host.name, inventories, (GPU_TRAIT,), fleet.passthrough_gpus(host)
    )
    general = Resources(
        len(general_ids) - (0 if dedicated else reserve.vcpus + held.vcpus),
        total.memory_mb - memory,
        total.disk_gb - reserved_disk_gb,
    )
    cards = card_providers(fleet, host, with_slice=tied)
    plan = HostPlan(host, total, reserve, general, held, general_ids, gpu_ids, (provider,), cards)
    return plan, files


def _check_numa_local(fleet: Fleet, host: Host, gpu_ids: tuple[int, ...]) -> None:
    gpu_nodes = {g.numa_node for g in host.gpus if g.numa_node is not None}
    cpu_nodes = numa_of_cpus(host, gpu_ids)
    if gpu_nodes and cpu_nodes and not cpu_nodes <= gpu_nodes:
        msg = (
            f"host {host.name}: the GPUs' NUMA node(s) {sorted(gpu_nodes)} have too few free "
            "CPUs for the slices; nova's PCI NUMA affinity would refuse GPU VMs pinned "
            "elsewhere. Lower slice.vcpus or use cpu_mode: accounted"
        )
        raise InputError(msg, source=fleet.source, field="cpu_mode")


def _provider_document(custom: dict[str, Inventory], cards: list[dict[str, Any]]) -> Document:
    """The root's entry (the passthrough GPUs' pooled slices and the host trait), then one entry
    per vGPU card by its provider's name."""
    root: dict[str, Any] = {"identification": {"uuid": "$COMPUTE_NODE"}}
    if custom:
        root["inventories"] = {
            "additional": [{rc: {"total": inv.total}} for rc, inv in custom.items()]
        }
    root["traits"] = {"additional": [GPU_TRAIT]}
    return Document(
        PROVIDER_YAML,
        {"meta": {"schema_version": "1.0"}, "providers": [root, *cards]},
        "the GPU slices offered back as custom inventory that only GPU flavors ask for"
        + ("; each vGPU card's slice on the card's own provider" if cards else ""),
    )


def _notes(dedicated: bool) -> tuple[Note, ...]:
    cpu = (
        "dedicated CPUs: GPU VMs are pinned to the slice's CPUs on the GPU's NUMA node; an "
        "ordinary flavor with hw:cpu_policy=dedicated would take those CPUs, so offer none"
        if dedicated
        else "accounted CPUs: the hold is accounting, not pinning; every guest floats over all "
        "CPUs. Choose cpu_mode: dedicated to pin GPU VMs to NUMA-local CPUs"
    )
    return (
        Note("cpus", cpu),
        Note(
            "flavors",
            "nothing ties the custom classes to the GPU: only gpuslice's GPU flavors "
            "may ask for CUSTOM_GPU_*; audit flags any other flavor that does",
        ),
        Note(
            "quota",
            "with [quota] count_usage_from_placement = True GPU VMs count 0 cores and "
            "0 RAM against quota; keep it False (the default) or set per-flavor limits",
        ),
    )
