"""Benchmark a sweep on 1 and 2 workers; prints figures, asserts nothing.

    .venv/bin/python bench/bench_sweep.py                 # process pool, 1 then 2 workers
    .venv/bin/python bench/bench_sweep.py --engine dask   # a local Dask cluster instead
    .venv/bin/python bench/bench_sweep.py --quick         # smaller, for a smoke run
    .venv/bin/python bench/bench_sweep.py --repeat 3      # best of 3 runs each (busy machines)

Figures: wall seconds of the same grid (the bright-lab fleet, 2 slices x 3 strategies x 1
load x N seeds, 20,000 requests a point) serially, then on the engine with 1 and with 2
workers (pool or cluster start included), the speed-up from 1 to 2 workers (target >= 1.8x),
the best of --repeat runs each, the load average before each run (the speed-up means little
on a busy machine), and whether every run gave the same results.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from gpuslice.fleet import SliceSpec
from gpuslice.fleetfile import load_fleet
from gpuslice.sim.sweep import Grid, Sweep, run_sweep
from gpuslice.sim.workload import SyntheticSpec

FLEET = Path(__file__).resolve().parents[1] / "examples" / "bright-lab" / "fleet-2025.1.yaml"


def main() -> None:
    """Run the grid serially, then on 1 and 2 workers, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("process", "dask"), default="process")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs each")
    args = parser.parse_args()
    seeds, requests = (2, 1000) if args.quick else (args.seeds, args.requests)
    fleet = load_fleet(FLEET)
    spec = SyntheticSpec(requests=requests, gpu_share=0.1)
    grid = Grid(
        (SliceSpec(2, 16384, 0), SliceSpec(4, 32768, 0)),
        ("none", "weigher", "placement"),
        tuple(range(1, seeds + 1)),
        loads=(1.2,),
    )
    print(f"{len(grid.points())} points, {requests:,} requests each, engine {args.engine}")
    print(f"cores available: {len(os.sched_getaffinity(0))}")
    runs: dict[str, Sweep] = {}
    for label, engine, workers in (
        ("serial", "serial", 1),
        (f"{args.engine} x1", args.engine, 1),
        (f"{args.engine} x2", args.engine, 2),
    ):
        for _ in range(args.repeat):
            load = os.getloadavg()[0]
            sweep = run_sweep(fleet, spec, grid, engine=engine, workers=workers)  # type: ignore[arg-type]
            print(f"{label:>12}: {sweep.wall_seconds:7.2f} s   (load average before: {load:.1f})")
            best = runs.get(label)
            if best is None or sweep.wall_seconds < best.wall_seconds:
                runs[label] = sweep
    one = runs[f"{args.engine} x1"].wall_seconds
    two = runs[f"{args.engine} x2"].wall_seconds
    print(f"best: 1 worker {one:.2f} s, 2 workers {two:.2f} s")
    print(f"speed-up 1 -> 2 workers: {one / two:.2f}x (target >= 1.8x)")
    first = runs["serial"].results
    print(f"same results on every run: {all(r.results == first for r in runs.values())}")
    print(f"measured at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


if __name__ == "__main__":
    main()
