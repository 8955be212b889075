"""The plan as JSON-ready data (what `gpuslice plan --json` prints)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from gpuslice.cpuset import format_cpuset
from gpuslice.plan.types import HostPlan, Plan, Resources
from gpuslice.render.cloud import cloud_objects_data


def plan_data(plan: Plan) -> dict[str, Any]:
    """Everything the plan decided, with the rule behind each option and document."""
    return {
        "release": {"name": plan.release.name, "number": plan.release.number},
        "strategy": plan.strategy,
        "promise": plan.promise,
        "hosts": [_host(h) for h in plan.hosts],
        "nodes": [
            {
                "name": node.name,
                "role": node.role,
                "options": [
                    {
                        "path": o.path,
                        "section": o.section,
                        "name": o.name,
                        "value": list(o.value) if isinstance(o.value, tuple) else o.value,
                        "rule": o.rule,
                    }
                    for o in node.options
                ],
                "documents": [{"path": d.path, "rule": d.rule} for d in node.documents],
            }
            for node in plan.nodes
        ],
        "aliases": [asdict(a) for a in plan.aliases],
        "scheduler": {
            "filters": list(plan.scheduler.filters),
            "pci_weight_multiplier": plan.scheduler.pci_weight_multiplier,
            "isolated_aggregates": plan.scheduler.isolated_aggregates,
            "pci_in_placement": plan.scheduler.pci_in_placement,
        },
        "cloud_objects": cloud_objects_data(plan.cloud),
        "notes": [{"topic": n.topic, "text": n.text} for n in plan.notes],
    }


def _resources(r: Resources) -> dict[str, int]:
    return {"vcpus": r.vcpus, "memory_mb": r.memory_mb, "disk_gb": r.disk_gb}


def _host(h: HostPlan) -> dict[str, Any]:
    return {
        "name": h.host.name,
        "total": _resources(h.total),
        "host_reserve": _resources(h.reserve),
        "general": _resources(h.general),
        "gpu_slice": _resources(h.gpu_slice),
        "general_cpus": format_cpuset(h.general_cpus),
        "gpu_cpus": format_cpuset(h.gpu_cpus),
        "gpus": [asdict(g) for g in h.host.gpus],
        "providers": [
            {
                "name": p.name,
                "service_host": p.service_host,
                "inventories": {rc: asdict(inv) for rc, inv in p.inventories.items()},
                "traits": list(p.traits),
                "pci_devices": [g.address for g in p.pci_devices],
            }
            for p in h.providers
        ],
    }
