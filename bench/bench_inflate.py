"""Benchmark inflation experiments on the Alibaba openb trace; prints figures, asserts nothing.

    .venv/bin/python bench/bench_inflate.py              # one seed, then 10 seeds
    .venv/bin/python bench/bench_inflate.py --seeds 3    # one seed, then 3

Figures (the trace from shared/data next to the repository; skipped when absent):
- reading the node list (1,523 nodes) and the default pod list (8,152 tasks), untimed below;
- one experiment: every strategy the release can plan, 130 % of the GPUs, one seed (planning
  included): target under 6 s on 2 cores;
- the same with 10 seeds: target under 60 s;
- per strategy, GPUs allocated at 100 % and at the end (mean over seeds).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gpuslice.collector import paused_collector
from gpuslice.fleet import SliceSpec
from gpuslice.releases import parse_release
from gpuslice.sim.inflate import InflateSpec, run_inflation
from gpuslice.sim.traces import read_alibaba_fleet, read_trace

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT.parent / "shared" / "data" / "traces" / "alibaba-openb"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when done, 1 when the trace is absent."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--pods", default="openb_pod_list_default.csv")
    parser.add_argument("--slice", default="2,16384,0", help="VCPUS,MEMORY_MB,DISK_GB")
    args = parser.parse_args(argv)
    nodes, pods = TRACE / "openb_node_list_all_node.csv", TRACE / args.pods
    if not pods.exists():
        print(f"the openb trace is not at {TRACE}; nothing to measure", file=sys.stderr)
        return 1
    vcpus, memory, disk = (int(x) for x in args.slice.split(","))
    started = time.perf_counter()
    fleet = read_alibaba_fleet(
        nodes, release=parse_release("2025.1"), slice_spec=SliceSpec(vcpus, memory, disk)
    )
    workload = read_trace(pods, "alibaba-openb")
    print(
        f"read {len(fleet.hosts):,} nodes, {len(workload.requests):,} pods: "
        f"{time.perf_counter() - started:.2f} s"
    )
    for seeds in (1, args.seeds):
        spec = InflateSpec(factor=1.3, seeds=tuple(range(1, seeds + 1)))
        started = time.perf_counter()
        with paused_collector():
            exp = run_inflation(fleet, workload, spec)
        wall = time.perf_counter() - started
        names = ", ".join(r.name for r in exp.results)
        print(f"{seeds} seed(s) x {len(exp.results)} strategies ({names}), 130 %: {wall:.2f} s")
        for r in exp.results:
            curve = r.curve("allocated")
            full = curve[round(len(curve) / 1.3) - 1 if len(curve) > 1 else 0]
            print(
                f"  {r.name:10} allocated at 100 %: {full.mean:.1%}, at 130 %: "
                f"{curve[-1].mean:.1%} ± {curve[-1].sd:.1%}; refused while free: "
                f"{r.total('gpu_refused_while_free'):,}; "
                f"run {sum(x.wall_seconds for x in r.runs):.2f} s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
