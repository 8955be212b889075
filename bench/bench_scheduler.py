"""Benchmark the embedded scheduler and the simulator; prints figures, asserts nothing.

    .venv/bin/python bench/bench_scheduler.py            # 1,000 and 10,000 hosts, 1M requests
    .venv/bin/python bench/bench_scheduler.py --quick    # smaller, for a smoke run
    .venv/bin/python bench/bench_scheduler.py --only-million --million-hosts 10000
    .venv/bin/python bench/bench_scheduler.py --only-decisions --repeat 5   # median and best

Figures:
- decisions/s: a steady stream of schedule() calls (ordinary and 5 % GPU VMs) against a
  placement plan of N hosts (a third with 4 GPUs), with a release for every claim once 60 %
  of the hosts' vCPUs are in use, so free capacity keeps changing;
- one million requests with departures through the full event loop (sim.engine.run);
- the Alibaba openb trace (1,523 nodes, 8,152 tasks) under every strategy, when present;
- peak memory: the process's max RSS over all of the above.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import time
from pathlib import Path

from gpuslice.fleet import Fleet, SliceSpec
from gpuslice.model import Scheduler, from_plan, request_from_flavor
from gpuslice.plan import make_plan
from gpuslice.plan.types import Flavor
from gpuslice.releases import parse_release
from gpuslice.sim.engine import run
from gpuslice.sim.runner import simulate, synthetic_for
from gpuslice.sim.traces import AlibabaNode, alibaba_fleet, read_alibaba_fleet, read_trace
from gpuslice.sim.workload import SyntheticSpec

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT.parent / "shared" / "data" / "traces" / "alibaba-openb"


def fleet_of(hosts: int) -> Fleet:
    """A fleet of `hosts` hypervisors, 64 CPUs and 256 GiB each, every third with 4 GPUs."""
    nodes = tuple(
        AlibabaNode(f"host{i:05d}", 64, 262144, 4 if i % 3 == 0 else 0, "bench")
        for i in range(hosts)
    )
    return alibaba_fleet(nodes, release=parse_release("2025.1"), slice_spec=SliceSpec(4, 16384, 40))


def decisions_per_second(
    hosts: int, decisions: int, *, pause_gc: bool = False
) -> tuple[float, float]:
    """Steady-state schedule()+release() rate on a placement plan of `hosts` hosts.

    Returns (per wall-clock second, per second of this process's CPU time): on a shared,
    loaded machine the second is what an idle machine would come close to. With `pause_gc`
    the cyclic collector is off during the decisions, as in the event loop (`sim.engine.run`);
    otherwise it may walk the whole model (built just before) once or more during them.
    """
    plan = make_plan(fleet_of(hosts), "placement")
    scheduler = Scheduler(from_plan(plan), seed=1)
    gpu_flavor = next(f for f in plan.cloud.flavors if "pci_passthrough:alias" in f.extra_specs)
    kinds = [
        scheduler.prepare(request_from_flavor(Flavor("ordinary", v, v * 2048, v * 20, True, {})))
        for v in (1, 2, 4, 8)
    ]
    gpu = scheduler.prepare(request_from_flavor(gpu_flavor))
    live = []
    budget = int(hosts * 64 * 0.6)
    used = 0
    if pause_gc:
        gc.disable()
    started = time.perf_counter()
    cpu_started = time.process_time()
    for i in range(decisions):
        request = gpu if i % 20 == 0 else kinds[i % 4]
        claim = scheduler.schedule(request)
        if claim is not None:
            live.append(claim)
            used += request.spec.vcpus
        while used > budget and live:
            gone = live.pop(len(live) // 2 if i % 2 else 0)
            scheduler.release(gone)
            used -= gone.request.spec.vcpus
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    gc.enable()
    return decisions / wall, decisions / cpu


def million(hosts: int, requests: int) -> tuple[float, int]:
    """Seconds for `requests` synthetic requests (with departures) through the event loop."""
    fleet = fleet_of(hosts)
    workload = synthetic_for(fleet, SyntheticSpec(requests=requests, load=1.0), seed=1)
    plan = make_plan(fleet, "placement")
    started = time.perf_counter()
    cpu_started = time.process_time()
    result = run(plan, workload, seed=1)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    print(f"  (event loop: {cpu:.1f} s of CPU time, {requests / cpu:,.0f} requests per CPU second)")
    return elapsed, result.ordinary_accepted + result.gpu_accepted


def alibaba() -> None:
    """Print how long the whole Alibaba trace takes under every strategy (when present)."""
    if (TRACE / "openb_pod_list_default.csv").exists():
        started = time.perf_counter()
        fleet = read_alibaba_fleet(
            TRACE / "openb_node_list_all_node.csv",
            release=parse_release("2025.1"),
            slice_spec=SliceSpec(2, 16384, 0),
        )
        workload = read_trace(TRACE / "openb_pod_list_default.csv", "alibaba-openb")
        sim = simulate(fleet, workload, seed=1)
        total = time.perf_counter() - started
        sched = sum(r.wall_seconds for r in sim.results)
        names = ", ".join(r.name for r in sim.results)
        print(
            f"Alibaba openb trace, {len(fleet.hosts):,} nodes, {len(workload.requests):,} "
            f"tasks, strategies {names}: {total:.1f} s in all ({sched:.1f} s simulating, "
            "the rest reading and planning)"
        )
    else:
        print(f"Alibaba trace not found under {TRACE}: skipped")


def calibrate() -> float:
    """CPU seconds of a plain Python loop: how fast this machine runs Python right now."""
    started = time.process_time()
    total = 0
    for i in range(1_000_000):
        total += i
    return time.process_time() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--only-decisions", action="store_true", help="decisions/s only")
    parser.add_argument("--only-alibaba", action="store_true", help="the Alibaba trace only")
    parser.add_argument(
        "--only-million",
        action="store_true",
        help="the million requests through the event loop only",
    )
    parser.add_argument(
        "--million-hosts", type=int, default=1000, help="hosts for the million requests (1000)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each decisions/s row this many times; print every run, the median and best",
    )
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f} at start")
    print(f"calibration: a pure-Python loop of 1,000,000 additions takes {calibrate():.3f} s")
    if args.only_alibaba:
        alibaba()
        return 0
    for hosts, n in ((1000, 50_000), (10_000, 20_000)) if not args.only_million else ():
        if args.quick:
            n //= 10
        if args.only_decisions and hosts > 1000 and args.quick:
            continue
        for pause in (False, True):
            cpu_rates = []
            for _ in range(max(1, args.repeat)):
                rate, cpu_rate = decisions_per_second(hosts, n, pause_gc=pause)
                cpu_rates.append(cpu_rate)
                print(
                    f"decisions/s at {hosts:>6,} hosts: {rate:>10,.0f} per wall second, "
                    f"{cpu_rate:>10,.0f} per CPU second  ({n:,} decisions"
                    f"{', collector paused' if pause else ''})"
                )
            if len(cpu_rates) > 1:
                print(
                    f"  {len(cpu_rates)} runs: median {statistics.median(cpu_rates):,.0f}, "
                    f"best {max(cpu_rates):,.0f} per CPU second"
                )
    if args.only_decisions:
        return 0
    requests = 100_000 if args.quick else 1_000_000
    elapsed, accepted = million(args.million_hosts, requests)
    print(
        f"{requests:,} requests with departures, {args.million_hosts:,} hosts: {elapsed:.1f} s "
        f"({requests / elapsed:,.0f} requests/s, {accepted:,} booted)"
    )
    if not args.only_million:
        alibaba()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {rss:.0f} MiB max RSS of the whole benchmark process")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
