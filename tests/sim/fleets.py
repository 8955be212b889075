"""Small fleets for simulation tests, planned by the core planner."""

from __future__ import annotations

from gpuslice.fleet import Fleet, GpuModel, Host, SliceSpec
from gpuslice.releases import parse_release
from tests.model.builders import K40, gpu


def small_fleet(release: str = "2025.1", strategy: str = "placement") -> Fleet:
    """Two GPU hosts (8 CPUs, 16 GiB, one K40 each) and one plain host (16 CPUs, 32 GiB)."""
    hosts = (
        Host("hyper18", tuple(range(8)), 16384, 400, gpus=(gpu(0),), gpu_service_host="gpu18"),
        Host("hyper16", tuple(range(8)), 16384, 400, gpus=(gpu(1),), gpu_service_host="gpu16"),
        Host("hyper20", tuple(range(16)), 32768, 800),
    )
    return Fleet(
        release=parse_release(release),
        strategy=strategy,  # type: ignore[arg-type]
        models=(GpuModel("gpu", K40[0], K40[1], SliceSpec(2, 4096, 40), "g1.gpu"),),
        hosts=hosts,
        controllers=("ctl1",),
    )
