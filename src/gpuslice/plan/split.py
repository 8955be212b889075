"""The original recipe: a second nova-compute service per GPU host that owns the GPU slices.

The first service is shrunk by a CPU set and reserved memory and disk; the second (its own
`host`, `state_path`, CPU set and reserve) sees exactly the slices and the GPUs. The two never
count the same CPU, MiB or GiB twice. Neutron learns that ports bound to the GPU service host
bind on the real host.
"""

from __future__ import annotations

from gpuslice.cpuset import format_cpuset
from gpuslice.errors import InputError
from gpuslice.fleet import Fleet, Host
from gpuslice.neutron.config import DRIVER_NAME, render_ml2_settings
from gpuslice.plan.assemble import assemble, controller_files
from gpuslice.plan.common import (
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
    vfio_document,
)
from gpuslice.plan.slicing import (
    check_fits,
    host_reserve,
    host_total,
    reserved_cpus,
    slices_of,
    split_cpus,
)
from gpuslice.plan.types import (
    GPU_UNIT,
    ML2_CONF,
    NOVA_CONF,
    NOVA_GPU_CONF,
    CloudObjects,
    HostPlan,
    Inventory,
    Note,
    Plan,
    Promise,
    Provider,
    Resources,
    SchedulerSettings,
)

SPLIT_REFUSAL = (
    "strategy split cannot work on {release} with libvirt: Placement is mandatory since Ocata, "
    "a compute node's root resource provider is named after its hypervisor_hostname, libvirt "
    "reports the machine's own hostname for both services, and Placement requires unique "
    "provider names (uniq_resource_providers0name), so the second service gets "
    "'409 Conflicting resource provider name: {host} already exists' and is never schedulable"
    "{compute_id}. Use strategy placement{alternative}."
)
GPU_STATE_PATH = "/var/lib/nova/gpu"
GPU_INSTANCES_PATH = f"{GPU_STATE_PATH}/instances"
GPU_LOCK_PATH = f"{GPU_STATE_PATH}/tmp"


def split_refusal(fleet: Fleet) -> str:
    """Why split cannot work on the fleet's release, and what to use instead."""
    release = fleet.release
    host = fleet.gpu_hosts[0].name if fleet.gpu_hosts else "hyper18"
    compute_id = (
        "; from 2023.1 the compute_id file in state_path also ties a node UUID to one service"
        if release.has("compute_id_file")
        else ""
    )
    alternative = (
        "" if release.has("provider_yaml") else f" (from Victoria) or, on {release.name}, dedicated"
    )
    return SPLIT_REFUSAL.format(
        release=release, host=host, compute_id=compute_id, alternative=alternative
    )


def gpu_service_host(host: Host) -> str:
    """The GPU service's host name: the fleet's, or `gpu` plus the host name's trailing number."""
    if host.gpu_service_host:
        return host.gpu_service_host
    digits = "".join(ch for ch in reversed(host.name) if ch.isdigit())[::-1]
    tail = (
        host.name[len(host.name) - len(digits) :] if digits and host.name.endswith(digits) else ""
    )
    return f"gpu{tail}" if tail else f"{host.name}-gpu"


def check_service_hosts(fleet: Fleet) -> None:
    """Every GPU service host, given or derived, is a name no other node or service has.

    The fleet loader checks the names a fleet gives; a derived name (`gpu18` for hyper18) can
    still meet another host's name or another host's derived name: nova would then count two
    services as one.
    """
    taken = {name.casefold(): f"controller {name}" for name in fleet.controllers}
    taken.update({host.name.casefold(): f"host {host.name}" for host in fleet.hosts})
    for host in fleet.gpu_hosts:
        service = gpu_service_host(host)
        clash = taken.get(service.casefold())
        if clash is not None:
            msg = (
                f"host {host.name}: its GPU service host {service!r} is already the name of "
                f"{clash}; set gpu_service_host for {host.name} to a name of its own"
            )
            raise InputError(msg, source=fleet.source, field="gpu_service_host")
        taken[service.casefold()] = f"the GPU service of {host.name}"


def plan_split(fleet: Fleet, promise: Promise) -> Plan:
    """Plan the split strategy (the strategy refuses it after Newton: `split_refusal`)."""
    check_service_hosts(fleet)
    host_plans: list[HostPlan] = []
    host_files: dict[str, NodeFiles] = {}
    service_hosts: dict[str, str] = {}
    for host in fleet.hosts:
        if not host.is_gpu_host:
            host_plans.append(plain_host_plan(fleet, host))
            continue
        plan, files = _split_host(fleet, host)
        host_plans.append(plan)
        host_files[host.name] = files
        service_hosts[gpu_service_host(host)] = host.name

    scheduler = SchedulerSettings(
        filters=scheduler_filters(
            fleet, ("AggregateInstanceExtraSpecsFilter", "AggregateTypeAffinityFilter")
        ),
        pci_in_placement=pci_in_placement_scheduling(fleet),
    )
    controllers = controller_files(fleet, scheduler)
    ml2_rules = {
        "mechanism_drivers": "the host alias driver binds ports for the GPU service hosts through "
        "the real host's agents; listed first, it decides those ports before any other driver",
        "host_aliases": "ports bound to a GPU service host bind on the machine it runs on",
    }
    for section, values in render_ml2_settings(service_hosts).items():
        for name, value in values.items():
            controllers.set(ML2_CONF, section, name, value, ml2_rules[name])
    cloud = CloudObjects(
        aggregates=(gpu_aggregate(fleet, service_hosts, {"instance_type": flavor_names(fleet)}),),
        flavors=gpu_flavors(fleet, {f"aggregate_instance_extra_specs:{fleet.aggregate}": "true"}),
    )
    notes = (
        Note(
            "neutron",
            "install gpuslice on the neutron servers and enable its ML2 driver "
            f"({DRIVER_NAME}); without it ports on the GPU service hosts fail to bind",
        ),
        Note(
            "isolation",
            "the GPU aggregate's instance_type metadata with "
            "AggregateTypeAffinityFilter keeps ordinary flavors off the GPU services; "
            "AggregateInstanceExtraSpecsFilter alone only attracts GPU flavors",
        ),
        Note(
            "state",
            f"create {GPU_STATE_PATH}, {GPU_INSTANCES_PATH} and {GPU_LOCK_PATH} owned by the "
            "nova user before starting openstack-nova-gpu; the GPU service keeps its state, "
            "instances and locks there, apart from the first service's",
        ),
    )
    return assemble(
        fleet, "split", promise, tuple(host_plans), host_files, controllers, scheduler, cloud, notes
    )


def _split_host(fleet: Fleet, host: Host) -> tuple[HostPlan, NodeFiles]:
    held = slices_of(fleet, host)
    check_fits(fleet, host, held)
    total = host_total(host)
    reserve = host_reserve(fleet)
    general_ids, gpu_ids = split_cpus(fleet, host, held.vcpus)
    general = Resources(
        len(general_ids),
        total.memory_mb - reserve.memory_mb - held.memory_mb,
        total.disk_gb - reserve.disk_gb - held.disk_gb,
    )
    service = gpu_service_host(host)
    files = NodeFiles()
    pin_section, pin_name = fleet.release.fact("shared_cpus")
    general_memory = fleet.host_reserve.memory_mb + held.memory_mb
    general_disk = fleet.host_reserve.disk_mb + held.disk_gb * 1024
    files.set(
        NOVA_CONF,
        pin_section,
        pin_name,
        format_cpuset(general_ids),
        f"the general service uses {len(general_ids)} CPUs: all but the "
        f"{len(gpu_ids)} of the GPU slice and the {len(reserved_cpus(fleet, host))} the "
        "host keeps (a CPU set is computed from counts)",
    )
    reserve_options(
        general_memory,
        general_disk,
        files,
        "the host reserve plus the GPU slices, which belong to the GPU service",
    )
    gpu_memory = total.memory_mb - held.memory_mb
    gpu_disk = total.disk_gb * 1024 - held.disk_gb * 1024
    files.set(
        NOVA_GPU_CONF,
        "DEFAULT",
        "host",
        service,
        "the second service has a host name of its own, so nova counts it apart",
    )
    files.set(
        NOVA_GPU_CONF,
        "DEFAULT",
        "state_path",
        GPU_STATE_PATH,
        "its own state apart from the first service's",
    )
    files.set(
        NOVA_GPU_CONF,
        "DEFAULT",
        "instances_path",
        GPU_INSTANCES_PATH,
        "its own instances and image cache: instances_path follows state_path only by "
        "default, so an instances_path in nova.conf would otherwise be shared",
    )
    files.set(
        NOVA_GPU_CONF,
        "oslo_concurrency",
        "lock_path",
        GPU_LOCK_PATH,
        "its own lock files: a lock_path in nova.conf would otherwise be shared",
    )
    files.set(
        NOVA_GPU_CONF,
        pin_section,
        pin_name,
        format_cpuset(gpu_ids),
        f"the GPU service uses exactly the slice's {len(gpu_ids)} CPUs"
        + (", NUMA-local to the GPUs" if host.cpu_numa else ""),
    )
    reserve_options(
        gpu_memory,
        gpu_disk,
        files,
        "everything but the GPU slices is reserved: this service sees only the slices",
        path=NOVA_GPU_CONF,
    )
    for name in ("cpu_allocation_ratio", "ram_allocation_ratio", "disk_allocation_ratio"):
        files.set(NOVA_GPU_CONF, "DEFAULT", name, "1.0", "a slice is never overcommitted")
    passthrough_option(fleet, host, files, path=NOVA_GPU_CONF)
    # nova-gpu.conf is read after nova.conf: the alias there serves both services, and a second
    # copy would be added to it (the alias is a multi-valued option).
    alias_option(fleet, files)
    ratio_options(fleet, files)
    _unit(files)
    files.documents.append(vfio_document(host))
    ratios = fleet.ratios
    general_provider = Provider(
        host.name,
        host.name,
        {
            "VCPU": Inventory(len(general_ids), 0, allocation_ratio=ratios.cpu),
            "MEMORY_MB": Inventory(total.memory_mb, general_memory, allocation_ratio=ratios.ram),
            "DISK_GB": Inventory(
                total.disk_gb, -(-general_disk // 1024), allocation_ratio=ratios.disk
            ),
        },
    )
    gpu_provider = Provider(
        service,
        service,
        {
            "VCPU": Inventory(len(gpu_ids)),
            "MEMORY_MB": Inventory(total.memory_mb, gpu_memory),
            "DISK_GB": Inventory(total.disk_gb, gpu_disk // 1024),
        },
        (),
        host.gpus,
    )
    plan = HostPlan(
        host, total, reserve, general, held, general_ids, gpu_ids, (general_provider, gpu_provider)
    )
    return plan, files


def _unit(files: NodeFiles) -> None:
    rule = "the second nova-compute service, started by systemd like the first"
    for section, name, value in (
        ("Unit", "Description", "OpenStack Nova Compute Server for the GPU slice (gpuslice)"),
        ("Unit", "After", "syslog.target network.target libvirtd.service"),
        ("Unit", "Wants", "libvirtd.service"),
        ("Service", "Type", "notify"),
        ("Service", "NotifyAccess", "all"),
        ("Service", "TimeoutStartSec", "0"),
        ("Service", "Restart", "always"),
        ("Service", "RestartSec", "5"),
        ("Service", "User", "nova"),
        (
            "Service",
            "ExecStart",
            "/usr/bin/nova-compute --config-file /etc/nova/nova.conf "
            "--config-file /etc/nova/nova-gpu.conf",
        ),
        ("Install", "WantedBy", "multi-user.target"),
    ):
        files.set(GPU_UNIT, section, name, value, rule)
