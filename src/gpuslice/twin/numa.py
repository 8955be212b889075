"""verify's NUMA steps, on a host whose fleet gives NUMA facts and whose GPU VMs are pinned
(`cpu_mode: dedicated`).

- every GPU VM that went ACTIVE: its pinned CPUs (`<cputune>`) and every guest cell's memory
  (`<numatune><memnode>`) lie on the NUMA nodes of the GPUs in its guest XML;
- contrast, once the host is empty: each menu flavor the plan gave `hw:numa_nodes` is booted
  without it, with nova's default PCI NUMA policy and with `preferred`. nova 34 refuses both
  (NUMATopologyFilter) when its vCPUs exceed one node's slice CPUs: the guest's one NUMA node
  would need all its pinned CPUs on one host node. A smaller flavor that fits one node boots
  with `preferred` (its GPUs may sit on another node) and is refused by the default (legacy).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import TYPE_CHECKING

from gpuslice.cpuset import format_cpuset, parse_cpuset
from gpuslice.fleet import Host
from gpuslice.twin.job import Steps
from gpuslice.twin.scenario import NO_VALID_HOST, _outcome, _refused, pinned

if TYPE_CHECKING:
    from gpuslice.twin.scenario import HostUnderTest

NUMA_NODES = "hw:numa_nodes"
PCI_NUMA_POLICY = "hw:pci_numa_affinity_policy"


def memnodes(xml: str) -> dict[int, frozenset[int]]:
    """Guest NUMA cell -> the host nodes its memory is bound to (`<numatune><memnode>`)."""
    found: dict[int, frozenset[int]] = {}
    for node in ET.fromstring(xml).iter("memnode"):
        found[int(node.get("cellid", "0"))] = frozenset(parse_cpuset(node.get("nodeset", "")))
    return found


def nodes_of_cpus(host: Host, cpus: set[int]) -> frozenset[int]:
    """The host NUMA nodes that hold `cpus`, by the fleet's `numa:` lists."""
    return frozenset(node for node, ids in host.cpu_numa if cpus & set(ids))


def applies(host: HostUnderTest) -> bool:
    """NUMA steps run where the fleet gives the host's NUMA layout and GPU VMs are pinned."""
    plan = host.job.plan
    return bool(host.job.host.cpu_numa) and plan is not None and bool(plan.gpu_cpus)


def local_row(host: HostUnderTest, steps: Steps, what: str, xml: str, devices: list[str]) -> None:
    """The step that a GPU VM's pinned CPUs and guest memory sit on its GPUs' NUMA nodes."""
    if not applies(host):
        return
    by_address = {g.address: g.numa_node for g in host.job.host.gpus}
    gpu_nodes = frozenset(n for a in devices if (n := by_address.get(a)) is not None)
    cpus = pinned(xml)
    cpu_nodes = nodes_of_cpus(host.job.host, cpus)
    cells = memnodes(xml)
    mem_nodes = frozenset().union(*cells.values()) if cells else frozenset()
    steps.add(
        f"{what}: on its GPUs' NUMA node(s)",
        f"pinned CPUs and memory on node(s) {_nodes(gpu_nodes)}",
        f"pinned to {format_cpuset(sorted(cpus)) or 'nothing'} (node(s) {_nodes(cpu_nodes)}), "
        f"{len(cells)} guest cell(s) with memory on node(s) {_nodes(mem_nodes)}",
        bool(gpu_nodes) and cpu_nodes == gpu_nodes and mem_nodes == gpu_nodes,
    )


def contrast_rows(host: HostUnderTest, steps: Steps) -> None:
    """On the empty host: each menu flavor with `hw:numa_nodes`, booted without it, is refused
    (with nova's default PCI NUMA policy, and with `preferred`)."""
    if not applies(host):
        return
    by_name = {f["name"]: f for f in host.twin.flavors()}
    for boot in host.menu:
        flavor = by_name[boot.flavor]
        specs: Mapping[str, str] = flavor.get("extra_specs") or {}
        if NUMA_NODES not in specs:
            continue
        plain = {k: v for k, v in specs.items() if k != NUMA_NODES}
        fits = boot.vcpus <= _most_slice_cpus_on_a_node(host)
        for policy in ("", "preferred"):
            # `preferred` lets a one-node guest that fits one node's slice CPUs take GPUs of
            # another node; the default policy (legacy) never does.
            boots = fits and policy == "preferred"
            extra = {PCI_NUMA_POLICY: policy} if policy else {}
            name = f"{boot.flavor}-no-numa-nodes{'-' + policy if policy else ''}"
            flavor_id = host.twin.create_flavor(
                name, boot.vcpus, boot.ram, int(flavor["disk"]), extra_specs=plain | extra
            )
            result = host.boot("numa-contrast", flavor_id)
            steps.add(
                f"contrast: {boot.flavor} without {NUMA_NODES}"
                + (f", {PCI_NUMA_POLICY}={policy}" if policy else ""),
                "ACTIVE (its pinned CPUs fit one node)"
                if boots
                else f"{NO_VALID_HOST} (one guest node cannot hold its pinned CPUs and GPUs)",
                _outcome(result),
                result.active if boots else _refused(result),
            )
            if result.active:
                host.twin.delete(result.server_id)


def _most_slice_cpus_on_a_node(host: HostUnderTest) -> int:
    """The most slice (dedicated) CPUs any one NUMA node of the host holds."""
    plan = host.job.plan
    slice_cpus = set(plan.gpu_cpus) if plan is not None else set()
    return max((len(slice_cpus & set(ids)) for _node, ids in host.job.host.cpu_numa), default=0)


def _nodes(nodes: frozenset[int]) -> str:
    return ",".join(str(n) for n in sorted(nodes)) or "none"
