"""What a GPU menu (several models, k-GPU flavors) adds to any plan: NUMA and Placement scale.

- dedicated CPUs give a GPU VM a guest NUMA topology (one node by default); nova's default PCI
  NUMA policy (`legacy`) then wants its GPUs on the host node(s) its pinned CPUs come from. The
  slice's CPUs sit on each GPU's own node, so a k-GPU flavor whose GPUs span nodes asks
  `hw:numa_nodes=N` (its vCPUs and RAM split evenly over N guest nodes) where some host has k/N
  GPUs of the model on each of N nodes; where none has, the plan says it cannot boot;
- a k-GPU flavor with dedicated CPUs can still be refused while k GPUs are free on a host whose
  GPUs of the model are not exactly k/N on each of N nodes (nova 34 spreads 1-GPU guests over the
  nodes, and lets an N-node guest take its GPUs from any of its nodes): a note names the hosts;
- dedicated CPUs with a GPU whose NUMA node is unknown: a note (the slice's CPUs may sit on
  another socket), never a silent node 0;
- with PCI devices in Placement, a host with 8 or more GPUs of one class makes allocation
  candidates explode (placement bugs 2070257, 2126751): a note, and the placement service's
  limits where the release has them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from gpuslice.fleet import Fleet, GpuModel
from gpuslice.plan.common import NodeFiles
from gpuslice.plan.types import Flavor, Note

PLACEMENT_CONF = "etc/placement/placement.conf"
WIDE_TREE = 8
MAX_CANDIDATES = "100000"


def _gpus_per_node(fleet: Fleet, model: GpuModel) -> list[tuple[str, Counter[int]]]:
    """Per host with `model` and NUMA facts for all its GPUs of it: its name and GPUs of it
    per NUMA node."""
    found = []
    for host in fleet.hosts:
        ids = (model.vendor_id, model.product_id)
        gpus = [g for g in host.gpus if (g.vendor_id, g.product_id) == ids]
        if gpus and all(g.numa_node is not None for g in gpus):
            found.append((host.name, Counter(g.numa_node for g in gpus if g.numa_node is not None)))
    return found


def _numa_fragile_hosts(fleet: Fleet, model: GpuModel, gpus: int, nodes: int) -> list[str]:
    """Hosts where a `gpus`-GPU flavor with `nodes` guest NUMA nodes can be refused while that
    many GPUs of `model` are free there (seen on nova 34).

    A guest node takes its pinned CPUs from one host node's slices, and nova's default PCI NUMA
    policy lets the guest take its GPUs from any of its nodes; nova also spreads 1-GPU guests
    over the host's nodes. Free GPUs and free slice CPUs then sit on different nodes, unless
    the host's GPUs of the model sit on exactly `nodes` nodes, `gpus / nodes` on each (or all
    on one node for a one-node guest).
    """
    fragile = []
    for name, per in _gpus_per_node(fleet, model):
        if sum(per.values()) < gpus:
            continue
        even = nodes == 1 or all(n == gpus // nodes for n in per.values())
        if len(per) != nodes or not even:
            fragile.append(name)
    return fragile


def _numa_nodes_for(fleet: Fleet, model: GpuModel, gpus: int) -> int | None:
    """The fewest guest NUMA nodes N such that some host has gpus/N of `model` on N nodes each.

    1 when the flavor fits one node somewhere, or when no host has NUMA facts for the model
    (nothing to go by); None when no host can hold it NUMA-locally.
    """
    hosts = _gpus_per_node(fleet, model)
    if not hosts:
        return 1
    for nodes in range(1, gpus + 1):
        if gpus % nodes:
            continue
        share = gpus // nodes
        if any(sum(1 for n in per.values() if n >= share) >= nodes for _name, per in hosts):
            return nodes
    return None


def numa_flavors(
    fleet: Fleet, flavors: tuple[Flavor, ...]
) -> tuple[tuple[Flavor, ...], tuple[Note, ...]]:
    """Add `hw:numa_nodes` to dedicated-CPU GPU flavors whose GPUs span NUMA nodes (rules above).

    Accounted CPUs give guests no NUMA topology: flavors are returned unchanged.
    """
    if fleet.cpu_mode != "dedicated":
        return flavors, ()
    by_alias = {m.alias: m for m in fleet.used_models}
    out: list[Flavor] = []
    notes: list[Note] = []
    for flavor in flavors:
        alias, _, count = flavor.extra_specs.get("pci_passthrough:alias", "").partition(":")
        model = by_alias.get(alias)
        gpus = int(count or 1)
        if model is None or gpus == 1:
            out.append(flavor)
            continue
        nodes = _numa_nodes_for(fleet, model, gpus)
        if nodes is None:
            notes.append(
                Note(
                    "numa",
                    f"{flavor.name} cannot boot with dedicated CPUs: no host has its {gpus} "
                    f"{alias} GPUs spread evenly over NUMA nodes, and nova's PCI NUMA policy "
                    "wants each GPU on a node its pinned CPUs come from. Use cpu_mode: accounted "
                    "or drop the flavor",
                )
            )
            out.append(flavor)
            continue
        if nodes > 1 and (flavor.vcpus % nodes or flavor.ram % nodes):
            notes.append(
                Note(
                    "numa",
                    f"{flavor.name} spans {nodes} NUMA nodes but its {flavor.vcpus} vCPUs and "
                    f"{flavor.ram} MiB do not split evenly over them: nova refuses "
                    "hw:numa_nodes then. Make both multiples of the node count",
                )
            )
            out.append(flavor)
            continue
        fragile = _numa_fragile_hosts(fleet, model, gpus, nodes)
        holds = (
            f"all its {alias} GPUs on one node"
            if nodes == 1
            else f"exactly {gpus // nodes} {alias} GPU(s) on each of {nodes} nodes"
        )
        if fragile:
            notes.append(
                Note(
                    "numa",
                    f"{flavor.name} (guest NUMA nodes: {nodes}) can be refused on "
                    f"{', '.join(fragile[:5])} while {gpus} of its GPUs are free there: a guest "
                    "node's pinned CPUs come from one host node's slices, nova's PCI NUMA policy "
                    "lets it take its GPUs from any of its nodes, and nova spreads 1-GPU VMs "
                    f"over the nodes (seen on nova 34). It holds where a host has {holds}; "
                    "else use cpu_mode: accounted",
                )
            )
        if nodes > 1:
            specs = dict(flavor.extra_specs)
            specs["hw:numa_nodes"] = str(nodes)
            out.append(replace(flavor, extra_specs=dict(sorted(specs.items()))))
            notes.append(
                Note(
                    "numa",
                    f"{flavor.name}: its {gpus} GPUs span NUMA nodes, so the guest gets "
                    f"hw:numa_nodes={nodes} (vCPUs and RAM split evenly, each half pinned next "
                    "to its GPUs)",
                )
            )
            continue
        out.append(flavor)
    return tuple(out), tuple(notes)


def unknown_numa_notes(fleet: Fleet) -> tuple[Note, ...]:
    """Dedicated CPUs and a GPU without a known NUMA node: say so, with the command that tells."""
    if fleet.cpu_mode != "dedicated":
        return ()
    notes = []
    for host in fleet.gpu_hosts:
        unknown = [g.address for g in host.gpus if g.numa_node is None]
        if unknown:
            notes.append(
                Note(
                    "numa",
                    f"host {host.name}: NUMA node of GPU(s) {', '.join(unknown)} unknown; their "
                    "slice CPUs were taken from the highest free ids, maybe on another socket. "
                    "Give numa_node per GPU (cat /sys/bus/pci/devices/ADDR/numa_node) and the "
                    "host's numa: CPU lists",
                )
            )
    return tuple(notes)


def wide_hosts(fleet: Fleet) -> list[tuple[str, str, int]]:
    """(host, alias, GPUs) for every host with WIDE_TREE or more GPUs of one model."""
    found: list[tuple[str, str, int]] = []
    for host in fleet.gpu_hosts:
        per_model = Counter(fleet.model_of(g).alias for g in host.gpus)
        found.extend((host.name, alias, n) for alias, n in per_model.items() if n >= WIDE_TREE)
    return found


def placement_scale(fleet: Fleet, files: NodeFiles) -> tuple[Note, ...]:
    """Warn of wide PCI trees in Placement and set the placement service's limits where the
    release has them (`[placement] max_allocation_candidates` and breadth-first generation
    from 2025.1, `[workarounds] optimize_for_wide_provider_trees` from 2026.1)."""
    release = fleet.release
    if not (fleet.pci_in_placement and release.has("pci_report_in_placement")):
        return ()
    wide = wide_hosts(fleet)
    if not wide:
        return ()
    where = ", ".join(f"{host} ({n} {alias})" for host, alias, n in wide[:5])
    rule = (
        f"{WIDE_TREE}+ GPUs of one class under one host in Placement make allocation candidates "
        "explode (placement bugs 2070257, 2126751)"
    )
    set_here = []
    if release.has("placement_max_candidates"):
        files.set(PLACEMENT_CONF, "placement", "max_allocation_candidates", MAX_CANDIDATES, rule)
        files.set(
            PLACEMENT_CONF,
            "placement",
            "allocation_candidates_generation_strategy",
            "breadth-first",
            "with a candidate limit, breadth-first keeps candidates from every host",
        )
        set_here.append("[placement] max_allocation_candidates, breadth-first generation")
    if release.has("placement_wide_trees"):
        files.set(PLACEMENT_CONF, "workarounds", "optimize_for_wide_provider_trees", "True", rule)
        set_here.append("[workarounds] optimize_for_wide_provider_trees")
    done = (
        f"placement.conf sets {' and '.join(set_here)}"
        if set_here
        else f"{release}'s placement has none of the limits (2025.1 adds them): keep k-GPU "
        "flavors small there, or leave PCI devices out of Placement"
    )
    return (Note("placement-scale", f"{rule}: {where}. {done}"),)
