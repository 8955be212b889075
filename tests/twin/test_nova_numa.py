"""Dedicated CPUs on a two-node host, on real nova 34 (docs/menus.md, NUMA).

tests/twin/data/lab-numa.yaml: one A100 per NUMA node, the nodes' CPUs interleaved. The plan
puts each GPU's slice CPUs on its own node (`cpu_dedicated_set` 8-11 on node 0, 12-15 on node 1)
and gives the 2-GPU flavor `hw:numa_nodes=2`. Seen on nova 34: 1-GPU VMs are pinned on their
GPU's node; the 2-GPU VM boots with both GPUs, four vCPUs pinned on each node and each guest
cell's memory on one node; without `hw:numa_nodes` nova refuses it (NUMATopologyFilter), with
the default PCI NUMA policy and with `preferred` alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


LAB_QUAD = LAB.with_name("lab-numa-quad.yaml")


def test_the_plan_warns_that_a_two_by_two_host_can_refuse_the_2_gpu_flavor() -> None:
    plan = make_plan(load_fleet(LAB_QUAD), "placement")
    specs = {f.name: f.extra_specs for f in plan.cloud.flavors}
    assert "hw:numa_nodes" not in specs["g2.a100"]  # two A100 fit one node
    notes = [n.text for n in plan.notes if n.topic == "numa"]
    assert any(t.startswith("g2.a100 (guest NUMA nodes: 1) can be refused on quad") for t in notes)
    lab = make_plan(load_fleet(LAB_NUMA), "placement")
    assert not [n for n in lab.notes if "can be refused" in n.text]


@needs_nova
@pytest.mark.slow
def test_a_two_by_two_host_refuses_a_2_gpu_vm_while_two_gpus_are_free() -> None:
    """Two A100 per node, 3 dedicated CPUs per GPU. Seen on nova 34: two 1-GPU VMs land on
    different nodes (nova spreads them), and the planned 2-GPU flavor (one guest node) is then
    refused with one GPU free on each node. With hw:numa_nodes=2 instead, on an empty host the
    2-GPU VM takes both GPUs of node 0 and half its CPUs from node 1: the next 1-GPU VM takes
    node 1's first GPU, and the one after is refused with node 1's second GPU free. Packing NUMA
    cells (`[compute] packing_host_numa_cells_allocation_strategy`) does not keep 1-GPU VMs on
    one node: with PCI requests nova 34 sorts the nodes by free devices first."""
    from gpuslice.twin.scenario import _outcome, attached, pinned
    from gpuslice.twin.verify import run_on_host

    seen: list[str] = []

    def body(twin: Any, job: Any, host: Any) -> None:
        ids = {f["name"]: f for f in twin.flavors()}
        g1, g2 = ids["g1.a100"], ids["g2.a100"]
        split = twin.create_flavor(
            "g2.split",
            g2["vcpus"],
            g2["ram"],
            g2["disk"],
            extra_specs={**g2["extra_specs"], "hw:numa_nodes": "2"},
        )

        def boot(flavor_id: str) -> None:
            result = host.boot("gpu", str(flavor_id))
            if result.active:
                xml = twin.guest_xml(job.host.name, result.server_id)
                cpus = ",".join(str(c) for c in sorted(pinned(xml)))
                seen.append(f"{' '.join(attached(xml))} on {cpus}")
            else:
                seen.append(_outcome(result).split(".")[0])

        for flavor_id in (g1["id"], g1["id"], g2["id"]):
            boot(flavor_id)
        host.delete_all()
        for flavor_id in (split, g1["id"], g1["id"]):
            boot(flavor_id)
        host.delete_all()
        twin.override("compute", "packing_host_numa_cells_allocation_strategy", True)
        for flavor_id in (g1["id"], g1["id"]):
            boot(flavor_id)

    run_on_host(load_fleet(LAB_QUAD), "quad", body)
    assert seen == [
        "0000:17:00.0 on 2,5,6",  # node 0
        "0000:b1:00.0 on 11,12,15",  # node 1: nova spread the 1-GPU VMs
        "ERROR: No valid host was found",  # 2 GPUs free, but one per node
        "0000:17:00.0 0000:31:00.0 on 2,5,6,11,12,15",  # both GPUs of node 0, CPUs of both
        "0000:b1:00.0 on 10,13,14",
        "ERROR: No valid host was found",  # 0000:ca:00.0 free, node 1's CPUs gone
        # packing NUMA cells: nova still starts PCI guests on the node with most free devices
        "0000:17:00.0 on 2,5,6",
        "0000:b1:00.0 on 11,12,15",
    ]


@needs_nova
@pytest.mark.slow
def test_preferred_lets_a_2_gpu_guest_that_fits_one_node_cross_nodes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The 2-GPU flavor cut to 4 vCPUs (one node's slice CPUs): the plan still splits it over
    both nodes and it boots so; without hw:numa_nodes nova's default PCI NUMA policy refuses it
    (its GPUs sit on two nodes), `preferred` boots it on one node with a GPU of the other."""
    text = LAB_NUMA.read_text(encoding="utf-8").replace(
        "{name: g2.a100, gpus: 2}", "{name: g2.a100, gpus: 2, vcpus: 4, memory_mb: 8192}"
    )
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(text, encoding="utf-8")
    code, report = verify_json(capsys, str(fleet))
    assert code == 0, [r for r in report["rows"] if not r["ok"]]
    local = row(report, HOST, "menu, GPU first: g2.a100: on its GPUs' NUMA node(s)")["seen"]
    assert local.endswith("(node(s) 0,1), 2 guest cell(s) with memory on node(s) 0,1"), local
    default = row(report, HOST, "contrast: g2.a100 without hw:numa_nodes")["seen"]
    assert default.startswith("ERROR: No valid host"), default
    preferred = row(
        report,
        HOST,
        "contrast: g2.a100 without hw:numa_nodes, hw:pci_numa_affinity_policy=preferred",
    )
    assert preferred["seen"] == "ACTIVE", preferred
