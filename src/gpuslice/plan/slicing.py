"""Slice arithmetic shared by every strategy: totals, reserve, slices, general part, CPU ids."""

from __future__ import annotations

from gpuslice.errors import InputError
from gpuslice.fleet import Fleet, Host
from gpuslice.plan.types import Resources


def slices_of(fleet: Fleet, host: Host) -> Resources:
    """What a host's GPUs hold back in all: the sum of each GPU's slice (for a vGPU card, its
    vGPUs' slices)."""
    total = Resources()
    for gpu in host.gpus:
        spec = fleet.model_of(gpu).gpu_slice
        total = total + Resources(spec.vcpus, spec.memory_mb, spec.disk_gb)
    return total


def host_total(host: Host) -> Resources:
    """Everything the host has: its CPU count, RAM (MiB) and disk (GiB)."""
    return Resources(len(host.cpus), host.memory_mb, host.disk_gb)


def host_reserve(fleet: Fleet) -> Resources:
    """What the hypervisor keeps for itself; disk is rounded up to whole GiB for accounting."""
    reserve = fleet.host_reserve
    return Resources(reserve.cpus, reserve.memory_mb, -(-reserve.disk_mb // 1024))


def check_fits(fleet: Fleet, host: Host, held: Resources) -> None:
    """Refuse a plan that holds back more than the host has after its own reserve.

    The error names the host and the first resource that does not fit, with both amounts.
    """
    room = host_total(host) - host_reserve(fleet)
    for label, need, have in (
        ("vCPUs", held.vcpus, room.vcpus),
        ("memory_mb", held.memory_mb, room.memory_mb),
        ("disk_gb", held.disk_gb, room.disk_gb),
    ):
        if need > have:
            msg = (
                f"host {host.name}: its {len(host.gpus)} GPU slice(s) need {need} {label} but only "
                f"{have} are left after the host reserve; lower the slice or the reserve, or "
                "remove a GPU from this host"
            )
            raise InputError(msg, source=fleet.source, field=f"hosts[{host.name}]")
    if held.vcpus == room.vcpus and held.vcpus > 0:
        msg = (
            f"host {host.name}: the GPU slices take every CPU, leaving none for the general part; "
            "lower slice.vcpus or use strategy dedicated"
        )
        raise InputError(msg, source=fleet.source, field=f"hosts[{host.name}]")


def reserved_cpus(fleet: Fleet, host: Host) -> tuple[int, ...]:
    """The CPU ids the hypervisor keeps for itself: the lowest ids, as many as the reserve says."""
    return host.cpus[: fleet.host_reserve.cpus]


def gpu_cpus(fleet: Fleet, host: Host, count: int) -> tuple[int, ...]:
    """Pick `count` CPU ids for GPU VMs, NUMA-local to the GPUs where the fleet says where.

    Rules: never a CPU the hypervisor keeps; per GPU, its slice's vCPUs come from the GPU's NUMA
    node while that node has CPUs left; otherwise (or with no NUMA facts) the highest free ids.
    """
    free = [cpu for cpu in host.cpus if cpu not in reserved_cpus(fleet, host)]
    chosen: list[int] = []
    numa = dict(host.cpu_numa)
    for gpu in host.gpus:
        want = fleet.model_of(gpu).gpu_slice.vcpus
        node_cpus = numa.get(gpu.numa_node, ()) if gpu.numa_node is not None else ()
        local = [cpu for cpu in node_cpus if cpu in free and cpu not in chosen]
        for cpu in reversed(local):
            if want == 0:
                break
            chosen.append(cpu)
            want -= 1
        for cpu in reversed(free):
            if want == 0:
                break
            if cpu not in chosen:
                chosen.append(cpu)
                want -= 1
    return tuple(sorted(chosen[:count]))


def split_cpus(fleet: Fleet, host: Host, count: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(general CPU ids, GPU CPU ids): `count` GPU CPUs by `gpu_cpus`, the general part all the
    rest but the CPUs the hypervisor keeps."""
    gpu_ids = gpu_cpus(fleet, host, count)
    kept = set(reserved_cpus(fleet, host)) | set(gpu_ids)
    return tuple(cpu for cpu in host.cpus if cpu not in kept), gpu_ids


def numa_of_cpus(host: Host, cpus: tuple[int, ...]) -> set[int]:
    """The NUMA nodes that hold `cpus` (empty when the fleet gives no NUMA facts)."""
    return {node for node, ids in host.cpu_numa if set(ids) & set(cpus)}
