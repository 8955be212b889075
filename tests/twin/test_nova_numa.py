"""Dedicated CPUs on a two-node host, on real nova 34 (docs/menus.md, NUMA).

tests/twin/data/lab-numa.yaml: one A100 per NUMA node, the nodes' CPUs interleaved. The plan
puts each GPU's slice CPUs on its own node (`cpu_dedicated_set` 8-11 on node 0, 12-15 on node 1)
and gives the 2-GPU flavor `hw:numa_nodes=2`. Seen on nova 34: 1-GPU VMs are pinned on their
GPU's node; the 2-GPU VM boots with both GPUs, four vCPUs pinned on each node and each guest
cell's memory on one node; without `hw:numa_nodes` nova refuses it (NUMATopologyFilter), with
the default PCI NUMA policy and with `preferred` alike.
"""

from __future__ import annotations

import pytest

from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan
from tests.twin.nova import LAB, needs_nova, row, verify_json

LAB_NUMA = LAB.with_name("lab-numa.yaml")
HOST = "numa2"


def test_the_plan_pins_each_gpus_slice_on_its_node_and_splits_the_two_gpu_guest() -> None:
    plan = make_plan(load_fleet(LAB_NUMA), "placement")
    (host,) = plan.hosts
    assert host.gpu_cpus == tuple(range(8, 16))  # 8-11 on node 0, 12-15 on node 1
    flavors = {f.name: f.extra_specs for f in plan.cloud.flavors}
    assert flavors["g2.a100"]["hw:numa_nodes"] == "2"
    assert "hw:numa_nodes" not in flavors["g1.a100"]


@needs_nova
@pytest.mark.slow
def test_gpu_vms_are_pinned_on_their_gpus_nodes_and_the_split_is_needed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = verify_json(capsys, str(LAB_NUMA))
    assert code == 0, [r for r in report["rows"] if not r["ok"]]
    for order in ("ordinary first", "GPU first"):
        one = row(report, HOST, f"{order}: GPU VM 1 of 2")["seen"]
        assert one == "ACTIVE, guest XML: 0000:17:00.0, 4 vCPU, 8192 MB, pinned to 8-11"
        local = row(report, HOST, f"{order}: GPU VM 1: on its GPUs' NUMA node(s)")["seen"]
        assert local == "pinned to 8-11 (node(s) 0), 1 guest cell(s) with memory on node(s) 0"
        local = row(report, HOST, f"{order}: GPU VM 2: on its GPUs' NUMA node(s)")["seen"]
        assert local == "pinned to 12-15 (node(s) 1), 1 guest cell(s) with memory on node(s) 1"
    for order in ("menu, ordinary first", "menu, GPU first"):
        two = row(report, HOST, f"{order}: g2.a100 (2 GPU(s))")["seen"]
        assert two == "ACTIVE, guest XML: 0000:17:00.0, 0000:b1:00.0, 8 vCPU, 16384 MB"
        local = row(report, HOST, f"{order}: g2.a100: on its GPUs' NUMA node(s)")["seen"]
        assert local == "pinned to 8-15 (node(s) 0,1), 2 guest cell(s) with memory on node(s) 0,1"
    for policy in ("", ", hw:pci_numa_affinity_policy=preferred"):
        contrast = row(report, HOST, f"contrast: g2.a100 without hw:numa_nodes{policy}")
        assert contrast["seen"].startswith("ERROR: No valid host"), contrast
