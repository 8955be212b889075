"""Benchmark the model with vGPU cards; prints figures, asserts nothing.

    .venv/bin/python bench/bench_vgpu.py             # examples/vgpu x 200 (1,000 hosts)
    .venv/bin/python bench/bench_vgpu.py --copies 20 # smaller, for a smoke run

A model with cards decides host by host (numpy over every host); a model without them keeps
the grouped path. Figures are requests per CPU second (process time, the best of `--repeat`
runs: steadier than wall time on a shared machine), for the same synthetic workload (load 1.2,
15 % GPU VMs, with departures) through the full event loop (`sim.engine.run`):
- placement, tied slices (cards: per-host path);
- placement, pooled slices (cards: per-host path);
- none (cards: per-host path);
- the same hosts with every A10 card taken out (no cards: the grouped path), for the cost
  of the card path against the grouped one.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from gpuslice.collector import paused_collector
from gpuslice.fleet import Fleet
from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan
from gpuslice.sim.engine import run
from gpuslice.sim.runner import synthetic_for
from gpuslice.sim.workload import SyntheticSpec, Workload

ROOT = Path(__file__).resolve().parents[1]


def copies_of(fleet: Fleet, copies: int) -> Fleet:
    """`fleet`'s hosts `copies` times over, renamed `<name>-<i>` (hypervisor names too)."""
    hosts = tuple(
        replace(
            h,
            name=f"{h.name}-{i}",
            hypervisor_hostname=f"{h.hypervisor}-{i}" if h.hypervisor_hostname else None,
        )
        for i in range(copies)
        for h in fleet.hosts
    )
    return replace(fleet, hosts=hosts)


def without_cards(fleet: Fleet) -> Fleet:
    """`fleet` with every vGPU card taken out of its hosts (and the vGPU models unused)."""
    vgpu = {(m.vendor_id, m.product_id) for m in fleet.vgpu_models}
    hosts = tuple(
        replace(h, gpus=tuple(g for g in h.gpus if (g.vendor_id, g.product_id) not in vgpu))
        for h in fleet.hosts
    )
    return replace(fleet, hosts=hosts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    base = copies_of(load_fleet(ROOT / "examples" / "vgpu" / "fleet.yaml"), args.copies)
    spec = SyntheticSpec(requests=args.requests, load=1.2, gpu_share=0.15)
    workload = synthetic_for(base, spec, 1)
    cases = [
        ("placement, tied", base, "placement"),
        ("placement, pooled", replace(base, vgpu_slices="pooled"), "placement"),
        ("none", base, "none"),
        ("placement, no cards", without_cards(base), "placement"),
    ]
    print(f"{len(base.hosts):,} hosts, {args.requests:,} requests (load 1.2, 15 % GPU VMs)")
    for label, fleet, strategy in cases:
        plan = make_plan(fleet, strategy)
        load = workload if label != "placement, no cards" else _passthrough_only(workload, fleet)
        best = float("inf")
        for _ in range(max(1, args.repeat)):
            started = time.process_time()
            with paused_collector():
                result = run(plan, load)
            best = min(best, time.process_time() - started)
        print(
            f"  {label:22s} {best:6.2f} CPU s  {len(load.requests) / best:9,.0f} requests/CPU s"
            f"  vGPU {result.vgpu_accepted:,}/{result.vgpu_requests:,}"
        )


def _passthrough_only(workload: Workload, fleet: Fleet) -> Workload:
    """The workload without the vGPU VMs (the fleet without cards has no vGPU flavor)."""
    aliases = {m.alias for m in fleet.models if m.vgpu is not None}
    kept = tuple(r for r in workload.requests if r.alias not in aliases)
    return Workload(kept, workload.source, workload.notes)


if __name__ == "__main__":
    main()
