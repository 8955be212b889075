"""Hosts gpuslice writes no config for keep nova's initial allocation ratios for the release.

nova 26 (Zed) `conf/compute.py`: `initial_cpu_allocation_ratio` 16.0, `initial_ram_...` 1.5;
nova 27 (2023.1): 4.0 and 1.0; disk 1.0 throughout. Before Stein a 0.0 default meant the same
16.0/1.5/1.0 (`objects/compute_node.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan

FLEET = """\
release: "{release}"
strategy: {strategy}
slice: {{vcpus: 2, memory_mb: 4096, disk_gb: 40}}
controllers: [ctl1]
{ratios}
hosts:
  - name: hyper1
    cpus: 24
    memory_mb: 131072
    disk_gb: 2000
    gpus: [{{address: "0000:86:00.0", vendor_id: "10de", product_id: "1024"}}]
  - {{name: hyper2, cpus: 48, memory_mb: 262144, disk_gb: 2000}}
"""


def ratios_of(path: Path, strategy: str) -> dict[str, tuple[float, float, float]]:
    plan = make_plan(load_fleet(path), strategy)
    out = {}
    for host in plan.hosts:
        inventories = host.providers[0].inventories
        out[host.host.name] = tuple(
            inventories[rc].allocation_ratio for rc in ("VCPU", "MEMORY_MB", "DISK_GB")
        )
    return out  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("release", "strategy", "initial"),
    [
        ("2025.1", "placement", (4.0, 1.0, 1.0)),
        ("2023.1", "weigher", (4.0, 1.0, 1.0)),
        ("zed", "dedicated", (16.0, 1.5, 1.0)),
        ("newton", "split", (16.0, 1.5, 1.0)),
    ],
)
def test_a_host_without_rendered_config_keeps_the_releases_initial_ratios(
    write_fleet: Callable[[str], Path],
    release: str,
    strategy: str,
    initial: tuple[float, float, float],
) -> None:
    path = write_fleet(FLEET.format(release=release, strategy=strategy, ratios=""))
    ratios = ratios_of(path, strategy)
    assert ratios["hyper2"] == initial
    assert ratios["hyper1"] == (1.0, 1.0, 1.0)  # rendered: the fleet's ratios, written out


def test_ratios_the_fleet_states_hold_on_every_host(write_fleet: Callable[[str], Path]) -> None:
    stated = "allocation_ratios: {cpu: 2.0, ram: 1.0, disk: 1.0}"
    path = write_fleet(FLEET.format(release="2025.1", strategy="placement", ratios=stated))
    ratios = ratios_of(path, "placement")
    assert ratios["hyper2"] == (2.0, 1.0, 1.0)
    assert ratios["hyper1"][0] == 2.0
