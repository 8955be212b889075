"""Hand-made plans for tiny scheduling scenarios (no planner involved)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gpuslice.fleet import Fleet, GpuModel, Host, SliceSpec
from gpuslice.inventory.device import GpuDevice
from gpuslice.plan.types import (
    Aggregate,
    CloudObjects,
    Flavor,
    HostPlan,
    Inventory,
    PciAlias,
    Plan,
    Provider,
    Resources,
    SchedulerSettings,
)
from gpuslice.releases import parse_release

K40 = ("10de", "1024")


def gpu(index: int = 0, ids: tuple[str, str] = K40) -> GpuDevice:
    """A passthrough GPU at a made-up address."""
    return GpuDevice(address=f"0000:{index + 3:02x}:00.0", vendor_id=ids[0], product_id=ids[1])


def provider(
    name: str,
    *,
    vcpu: int = 8,
    ram: int = 16384,
    disk: int = 100,
    extra: Mapping[str, Inventory] | None = None,
    traits: Sequence[str] = (),
    gpus: int = 0,
    service_host: str | None = None,
    reserved_ram: int = 0,
) -> Provider:
    """A provider with VCPU/MEMORY_MB/DISK_GB inventory, extra classes, traits and GPUs."""
    inventories = {
        "VCPU": Inventory(vcpu),
        "MEMORY_MB": Inventory(ram, reserved=reserved_ram),
        "DISK_GB": Inventory(disk),
        **(extra or {}),
    }
    return Provider(
        name=name,
        service_host=service_host or name,
        inventories=inventories,
        traits=tuple(traits),
        pci_devices=tuple(gpu(i) for i in range(gpus)),
    )


def flavor(name: str, vcpus: int = 1, ram: int = 1024, disk: int = 10, **specs: str) -> Flavor:
    """A flavor; extra specs given as keyword arguments with `__` for `:`."""
    return Flavor(name, vcpus, ram, disk, True, {k.replace("__", ":"): v for k, v in specs.items()})


def plan(
    providers: Sequence[Provider],
    *,
    filters: Sequence[str] = ("ComputeFilter", "PciPassthroughFilter"),
    aggregates: Sequence[Aggregate] = (),
    flavors: Sequence[Flavor] = (),
    release: str = "2025.1",
    strategy: str = "none",
    isolated: bool = False,
    pci_weight_multiplier: float | None = None,
) -> Plan:
    """A plan with one host per provider (hosts are not carved: totals only)."""
    hosts = []
    for p in providers:
        vcpu = p.inventories["VCPU"].total if "VCPU" in p.inventories else 0
        ram = p.inventories["MEMORY_MB"].total if "MEMORY_MB" in p.inventories else 0
        disk = p.inventories["DISK_GB"].total if "DISK_GB" in p.inventories else 0
        host = Host(
            name=p.name, cpus=tuple(range(vcpu)), memory_mb=ram, disk_gb=disk, gpus=p.pci_devices
        )
        total = Resources(vcpu, ram, disk)
        hosts.append(
            HostPlan(host, total, Resources(), total, Resources(), tuple(range(vcpu)), (), (p,))
        )
    fleet = Fleet(
        release=parse_release(release),
        strategy=strategy,  # type: ignore[arg-type]
        models=(GpuModel("gpu", K40[0], K40[1], SliceSpec(2, 4096, 40), "g1.gpu"),),
        hosts=tuple(h.host for h in hosts),
        controllers=("ctl",),
    )
    return Plan(
        fleet=fleet,
        strategy=strategy,  # type: ignore[arg-type]
        promise="broken",
        hosts=tuple(hosts),
        nodes=(),
        aliases=(PciAlias("gpu", K40[0], K40[1]),),
        scheduler=SchedulerSettings(
            filters=tuple(filters),
            pci_weight_multiplier=pci_weight_multiplier,
            isolated_aggregates=isolated,
        ),
        cloud=CloudObjects(aggregates=tuple(aggregates), flavors=tuple(flavors)),
    )
