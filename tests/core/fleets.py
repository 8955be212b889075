"""Small fleets built in code, for planner tests."""

from __future__ import annotations

from gpuslice.fleet import Fleet, GpuModel, Host, HostReserve, SliceSpec, StrategyName
from gpuslice.inventory.device import GpuDevice
from gpuslice.releases import Release

K40C = GpuModel("gpu", "10de", "1024", SliceSpec(2, 4096, 40), "g1.gpu", "Tesla K40c")


def k40c(address: str = "0000:86:00.0", numa_node: int | None = None) -> GpuDevice:
    """A Tesla K40c at `address`."""
    return GpuDevice(
        address,
        "10de",
        "1024",
        "0302",
        "NVIDIA Corporation",
        "GK110BGL [Tesla K40c]",
        numa_node=numa_node,
    )


def lab_fleet(release: int, strategy: StrategyName = "auto", **overrides: object) -> Fleet:
    """The bright-lab fleet (hyper18 and hyper16 with one K40c each, hyper20 without)."""
    hosts = (
        Host("hyper18", tuple(range(24)), 131072, 2000, (k40c(),), gpu_service_host="gpu18"),
        Host("hyper16", tuple(range(24)), 131072, 2000, (k40c(),), gpu_service_host="gpu2"),
        Host("hyper20", tuple(range(48)), 262144, 2000),
    )
    fields: dict[str, object] = {
        "release": Release(release),
        "strategy": strategy,
        "models": (K40C,),
        "hosts": hosts,
        "controllers": ("ctl1", "ctl2", "ctl3"),
        "host_reserve": HostReserve(512, 0, 0),
    }
    fields.update(overrides)
    return Fleet(**fields)  # type: ignore[arg-type]
