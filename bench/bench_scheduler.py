"""Benchmark the embedded scheduler and the simulator; prints figures, asserts nothing.

    .venv/bin/python bench/bench_scheduler.py            # 1,000 and 10,000 hosts, 1M requests
    .venv/bin/python bench/bench_scheduler.py --quick    # smaller, for a smoke run
    .venv/bin/python bench/bench_scheduler.py --only-million --million-hosts 10000
    .venv/bin/python bench/bench_scheduler.py --only-decisions --repeat 5   # median and best

Figures:
- the decision streams are `settled` (nova's periodic update between requests, as the
  inflation mode takes them: no build in flight, IoOpsWeigher weighs every host alike); the
  million requests through the event loop settle every 60 s of simulated time;
- decisions/s, fill: a stream of schedule() calls (ordinary and 5 % GPU VMs) against a
  placement plan of N hosts (a third with 4 GPUs), with no departures: 10,000 decisions at
  1,000 hosts and 20,000 at 10,000 hosts, well short of filling either cloud;
- decisions/s, steady state (1,000 hosts): the same stream fills 60 % of the hosts' vCPUs
  (untimed); then 50,000 decisions, each claim followed by releases of earlier VMs down to
  60 % again, so free capacity keeps changing; each decision's time includes those releases;
- the floor of that steady state: the same claims and releases (the hosts the decisions
  chose, recorded first) replayed without deciding: the benchmark loop plus the scheduler's
  claim and release bookkeeping, the most decisions per second any decision could reach;
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

from gpuslice.collector import paused_collector
from gpuslice.fleet import Fleet, SliceSpec
from gpuslice.model import Claim, Prepared, Scheduler, from_plan, request_from_flavor
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


class Stream:
    """The benchmark's request stream on a fresh placement plan of `hosts` hosts."""

    def __init__(self, hosts: int) -> None:
        plan = make_plan(fleet_of(hosts), "placement")
        self.scheduler = Scheduler(from_plan(plan), seed=1, settled=True)
        gpu_flavor = next(f for f in plan.cloud.flavors if "pci_passthrough:alias" in f.extra_specs)
        self.kinds = [
            self.scheduler.prepare(
                request_from_flavor(Flavor("ordinary", v, v * 2048, v * 20, True, {}))
            )
            for v in (1, 2, 4, 8)
        ]
        self.gpu = self.scheduler.prepare(request_from_flavor(gpu_flavor))
        # once this many vCPUs are in use, every claim is followed by releases (steady state)
        self.budget = int(hosts * 64 * 0.6)

    def request(self, i: int) -> Prepared:
        """The i-th request: a GPU VM every 20th, else ordinary flavors in turn."""
        return self.gpu if i % 20 == 0 else self.kinds[i % 4]


def decisions_per_second(
    hosts: int, decisions: int, *, steady: bool, pause_gc: bool = False
) -> tuple[float, float, list[int], int]:
    """schedule() rate on a placement plan of `hosts` hosts; with `steady`, with releases.

    With `steady`, untimed decisions first fill 60 % of the vCPUs; then every claim is
    followed by releases, and the `decisions` timed ones include those releases.
    Returns (per wall-clock second, per second of this process's CPU time, the host each
    decision chose or -1 (the untimed ones first), how many were untimed): on a shared,
    loaded machine the second is what an idle machine would come close to. The collector
    runs once before the timed decisions (the model has just been built; in a process that
    has run a while it has been walked already); with `pause_gc` the collector is off during
    them, as in the event loop (`sim.engine.run`).
    """
    stream = Stream(hosts)
    scheduler = stream.scheduler
    budget = stream.budget if steady else sys.maxsize
    picks: list[int] = []
    live: list[Claim] = []
    used = 0
    warmup = 0
    while steady and used <= budget:
        request = stream.request(warmup)
        claim = scheduler.schedule(request)
        picks.append(-1 if claim is None else claim.provider)
        if claim is not None:
            live.append(claim)
            used += request.spec.vcpus
        warmup += 1
    gc.collect()  # the model, just built, is not walked again during the timed decisions
    if pause_gc:
        gc.disable()
    started = time.perf_counter()
    cpu_started = time.process_time()
    for i in range(warmup, warmup + decisions):
        request = stream.request(i)
        claim = scheduler.schedule(request)
        if claim is not None:
            live.append(claim)
            used += request.spec.vcpus
            picks.append(claim.provider)
        else:
            picks.append(-1)
        while used > budget and live:
            gone = live.pop(len(live) // 2 if i % 2 else 0)
            scheduler.release(gone)
            used -= gone.request.spec.vcpus
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    gc.enable()
    return decisions / wall, decisions / cpu, picks, warmup


def floor_per_second(hosts: int, picks: list[int], warmup: int) -> float:
    """The steady state's claims and releases replayed on the hosts in `picks`, undecided.

    The same loop as `decisions_per_second(steady=True)`, collector paused, with each
    decision replaced by a claim on the recorded host through the scheduler's own claim path
    (`_apply_lazy`, what `schedule` calls after deciding). The first `warmup` picks are
    replayed untimed. Returns claims per CPU second.
    """
    stream = Stream(hosts)
    scheduler = stream.scheduler
    claim_on = scheduler._apply_lazy  # the claim without the decision
    live: list[Claim] = []
    used = 0
    for i, j in enumerate(picks[:warmup]):
        request = stream.request(i)
        if j >= 0:
            claim_on(j, request, 0)
            live.append(tuple.__new__(Claim, (j, request, 0, -1, ())))
            used += request.spec.vcpus
    gc.collect()
    gc.disable()
    cpu_started = time.process_time()
    for i in range(warmup, len(picks)):
        request = stream.request(i)
        j = picks[i]
        if j >= 0:
            claim_on(j, request, 0)
            live.append(tuple.__new__(Claim, (j, request, 0, -1, ())))  # as `schedule` builds it
            used += request.spec.vcpus
        while used > stream.budget and live:
            gone = live.pop(len(live) // 2 if i % 2 else 0)
            scheduler.release(gone)
            used -= gone.request.spec.vcpus
    cpu = time.process_time() - cpu_started
    gc.enable()
    return (len(picks) - warmup) / cpu


def report_rates(label: str, rates: list[float]) -> None:
    """Print the median and best of several runs (when there are several)."""
    if len(rates) > 1:
        print(
            f"  {label}: {len(rates)} runs: median {statistics.median(rates):,.0f}, "
            f"best {max(rates):,.0f} per CPU second"
        )


def decision_rows(repeat: int, quick: bool, *, only_small: bool) -> None:
    """Print the fill, steady-state and floor rows, each `repeat` times."""
    rows = [(1000, 10_000, False), (10_000, 20_000, False), (1000, 50_000, True)]
    for hosts, n, steady in rows:
        if quick:
            n //= 10
            if hosts > 1000 and only_small:
                continue
        kind = "steady state, with releases" if steady else "fill, no departures"
        for pause in (False, True):
            cpu_rates = []
            floors = []
            for _ in range(max(1, repeat)):
                rate, cpu_rate, picks, warmup = decisions_per_second(
                    hosts, n, steady=steady, pause_gc=pause
                )
                cpu_rates.append(cpu_rate)
                print(
                    f"decisions/s at {hosts:>6,} hosts, {kind}: {rate:>10,.0f} per wall "
                    f"second, {cpu_rate:>10,.0f} per CPU second  ({n:,} decisions, "
                    f"{sum(1 for j in picks[warmup:] if j >= 0):,} placed"
                    f"{', collector paused' if pause else ''})"
                )
                if steady and pause:
                    floors.append(floor_per_second(hosts, picks, warmup))
                    print(
                        f"  floor: the same claims and releases without deciding: "
                        f"{floors[-1]:>10,.0f} per CPU second"
                    )
            report_rates(kind, cpu_rates)
            report_rates("floor", floors)


def million(hosts: int, requests: int) -> tuple[float, int]:
    """Seconds for `requests` synthetic requests (with departures) through the event loop."""
    fleet = fleet_of(hosts)
    workload = synthetic_for(fleet, SyntheticSpec(requests=requests, load=1.0), seed=1)
    plan = make_plan(fleet, "placement")
    started = time.perf_counter()
    cpu_started = time.process_time()
    with paused_collector():
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
    if not args.only_million:
        decision_rows(args.repeat, args.quick, only_small=args.only_decisions)
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
