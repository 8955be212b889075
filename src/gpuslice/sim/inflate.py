"""Inflation experiments: the openb papers' trace method on the scheduling model.

The "Beware of Fragmentation" experiments (USENIX ATC '23) use no timestamps. Rules, as
implemented here:
- the trace's requests are shuffled per seed (`numpy.random.default_rng(seed)`), then trimmed
  or topped up until their GPU demand reaches `factor` x the cluster's GPU capacity: the
  shuffled list is taken in order and stops at the first request that brings the demand to
  the target; when the whole list falls short, requests drawn at random (with replacement)
  from the trace are appended until it does. Requests without GPUs ride along where they
  fall and add no demand;
- demand counts the GPUs a VM asks for: a fractional openb pod takes a whole GPU under
  passthrough, so it counts one (the papers count its milli-GPUs);
- every request arrives once and never leaves; each strategy sees the same requests per seed,
  and its scheduler is seeded with the same seed;
- without timestamps every build is taken as done and counted by nova's periodic update before
  the next request arrives (a `settled` scheduler: no I/O in flight);
- the *arrived* share after a request is the demand so far over the GPU capacity; the
  *allocated* share is the GPUs held by booted VMs over the capacity. Curves are read at
  arrived = 0, 1/`per_unit`, ... up to `factor`: a point shows the state after every request
  whose arrived share is at most that point;
- fragmentation at a point: free GPUs on hosts where a 1-GPU VM of their model no longer
  fits (stranded by CPU, RAM or disk), over the capacity;
- the promise is judged along the curve: a GPU VM refused while some host had enough free
  matching GPUs breaks it (as in `sim.engine`); the curve holds the cumulative count, and the
  arrived share of the first break is kept;
- over seeds, curves and counts are summarised by mean, standard deviation (population),
  minimum and maximum.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gpuslice.errors import InputError
from gpuslice.fleet import Fleet
from gpuslice.model import CloudModel, Scheduler, from_plan
from gpuslice.plan.types import Plan
from gpuslice.sim.engine import FlavorBook, devices_free_somewhere
from gpuslice.sim.runner import ALL_STRATEGIES, Skipped, plans_for
from gpuslice.sim.workload import VmRequest, Workload

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class InflateSpec:
    """How to inflate: the target as a multiple of GPU capacity, the seeds, the curve's grid."""

    factor: float = 1.3
    seeds: tuple[int, ...] = tuple(range(1, 11))
    per_unit: int = 100

    def __post_init__(self) -> None:
        if not math.isfinite(self.factor) or not 0 < self.factor <= 10:
            msg = f"--inflate {self.factor}: give a factor above 0 and at most 10 (e.g. 1.3)"
            raise InputError(msg, field="--inflate")
        if not self.seeds:
            raise InputError("--seeds: give at least one seed", field="--seeds")
        if self.per_unit < 1:
            raise InputError(f"curve points per unit must be 1 or more, got {self.per_unit}")

    @property
    def grid(self) -> FloatArray:
        """The arrived shares the curves are read at: 0 to `factor` in steps of 1/per_unit."""
        steps = max(1, round(self.factor * self.per_unit))
        return np.linspace(0.0, self.factor, steps + 1)


def inflate(
    requests: Sequence[VmRequest], capacity: int, factor: float, seed: int
) -> tuple[VmRequest, ...]:
    """Shuffle `requests` with `seed` and trim or top them up to `factor` x `capacity` GPUs.

    Rules in the module docstring. A trace without GPU requests, or a cloud without GPUs, is
    an InputError (the target could never be reached).
    """
    if capacity <= 0:
        raise InputError("the fleet has no GPUs: an inflation experiment needs GPU capacity")
    pool = tuple(requests)
    if not any(r.gpus for r in pool):
        raise InputError("the trace has no GPU requests: nothing to inflate")
    rng = np.random.default_rng(seed)
    target = factor * capacity
    out: list[VmRequest] = []
    demand = 0
    for k in rng.permutation(len(pool)).tolist():
        vm = pool[k]
        out.append(vm)
        demand += vm.gpus
        if demand >= target:
            return tuple(out)
    while demand < target:
        for k in rng.integers(len(pool), size=256).tolist():
            vm = pool[k]
            out.append(vm)
            demand += vm.gpus
            if demand >= target:
                break
    return tuple(out)


@dataclass(frozen=True)
class SeedRun:
    """One strategy under one seed's inflated requests."""

    seed: int
    allocated: tuple[float, ...]
    stranded: tuple[float, ...]
    broken: tuple[int, ...]
    gpu_requests: int
    gpu_accepted: int
    gpu_refused_while_free: int
    gpu_refused_fragmented: int
    ordinary_requests: int
    ordinary_accepted: int
    first_break_arrived: float | None
    first_break: tuple[str, ...]
    wall_seconds: float

    @property
    def failed(self) -> int:
        """Requests refused, GPU or ordinary."""
        return (
            self.gpu_requests - self.gpu_accepted + self.ordinary_requests - self.ordinary_accepted
        )


@dataclass(frozen=True)
class Spread:
    """Mean, population standard deviation, minimum and maximum of some values."""

    mean: float
    sd: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """The spread of `values` (all zero when there are none)."""
        if not values:
            return cls(0.0, 0.0, 0.0, 0.0)
        a = np.asarray(values, dtype=np.float64)
        return cls(float(a.mean()), float(a.std()), float(a.min()), float(a.max()))


@dataclass(frozen=True)
class InflateResult:
    """Every seed's run of one strategy."""

    name: str
    promise: str
    runs: tuple[SeedRun, ...]

    def curve(self, field: str) -> tuple[Spread, ...]:
        """Per grid point, the spread over seeds of `allocated`, `stranded` or `broken`."""
        columns = zip(*(getattr(r, field) for r in self.runs), strict=True)
        return tuple(Spread.of([float(v) for v in column]) for column in columns)

    def total(self, field: str) -> int:
        """A count summed over seeds."""
        return int(sum(getattr(r, field) for r in self.runs))

    def spread(self, field: str) -> Spread:
        """The spread over seeds of a per-run figure (`failed`, `gpu_accepted`, ...)."""
        return Spread.of([float(getattr(r, field)) for r in self.runs])

    @property
    def promise_kept(self) -> bool:
        """Whether no seed saw a GPU VM refused while a matching GPU was free."""
        return self.total("gpu_refused_while_free") == 0

    @property
    def first_break(self) -> tuple[str, ...]:
        """The explanation of the first seed's first break (empty when the promise held)."""
        return next((r.first_break for r in self.runs if r.first_break), ())


@dataclass(frozen=True)
class Inflation:
    """An inflation experiment: every strategy over every seed on one fleet and trace."""

    fleet_source: str
    release: str
    workload_source: str
    workload_notes: tuple[str, ...]
    spec: InflateSpec
    capacity: int
    grid: tuple[float, ...]
    results: tuple[InflateResult, ...]
    skipped: tuple[Skipped, ...]

    def result(self, name: str) -> InflateResult:
        """The result of strategy `name`; KeyError when it was not simulated."""
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)


def fleet_gpus(fleet: Fleet) -> int:
    """Every GPU of every hypervisor of the fleet: the capacity demand is measured against."""
    return sum(len(h.gpus) for h in fleet.hosts)


def run_inflated(
    plan: Plan,
    requests: Sequence[VmRequest],
    *,
    capacity: int,
    grid: FloatArray,
    seed: int,
    model: CloudModel | None = None,
) -> SeedRun:
    """Boot `requests` in order on the model of `plan`, none leaving (rules in the module doc).

    `model` is `from_plan(plan)` when given (it is immutable: seeds may share it).
    """
    started = time.perf_counter()
    scheduler = Scheduler(model if model is not None else from_plan(plan), seed=seed, settled=True)
    book = FlavorBook(plan, scheduler)
    probes = [
        book.prepare(VmRequest(0.0, None, 0, 0, 0, gpus=1, alias=alias))
        for alias in book.gpu_flavors
    ]
    points = grid.tolist()
    allocated = [0.0] * len(points)
    stranded = [0.0] * len(points)
    broken = [0] * len(points)
    at = 0
    used = demand = 0
    gpu_requests = gpu_accepted = free_refused = fragmented = 0
    ordinary_requests = ordinary_accepted = 0
    first_at: float | None = None
    first: tuple[str, ...] = ()

    def stranded_now() -> float:
        lost = 0
        for probe in probes:
            for row, _ in probe.pci_rows:
                free = scheduler.pci_free[row]
                fits = scheduler.candidates(probe)
                lost += int(free.sum() - free[fits].sum())
        return lost / capacity

    for index, vm in enumerate(requests):
        after = (demand + vm.gpus) / capacity
        if at < len(points) and points[at] < after:
            share = used / capacity
            lost = stranded_now()
            while at < len(points) and points[at] < after:
                allocated[at] = share
                stranded[at] = lost
                broken[at] = free_refused
                at += 1
        prepared = book.prepare(vm)
        claim = scheduler.schedule(prepared)
        if vm.gpus:
            gpu_requests += 1
            if claim is not None:
                gpu_accepted += 1
                used += prepared.spec.gpus
            elif devices_free_somewhere(scheduler, prepared):
                free_refused += 1
                if first_at is None:
                    first_at = demand / capacity
                    rejections = scheduler.explain(prepared)
                    first = (
                        f"seed {seed}, arrived {first_at:.1%}: GPU VM {index} "
                        f"({prepared.spec.flavor}) refused while a matching GPU was free",
                        *(str(r) for r in rejections[:20]),
                    )
            elif all(scheduler.free_pci(alias) >= count for alias, count in prepared.spec.pci):
                fragmented += 1
        else:
            ordinary_requests += 1
            if claim is not None:
                ordinary_accepted += 1
        demand += vm.gpus
    if at < len(points):
        share, lost = used / capacity, stranded_now()
        for k in range(at, len(points)):
            allocated[k], stranded[k], broken[k] = share, lost, free_refused
    return SeedRun(
        seed=seed,
        allocated=tuple(allocated),
        stranded=tuple(stranded),
        broken=tuple(broken),
        gpu_requests=gpu_requests,
        gpu_accepted=gpu_accepted,
        gpu_refused_while_free=free_refused,
        gpu_refused_fragmented=fragmented,
        ordinary_requests=ordinary_requests,
        ordinary_accepted=ordinary_accepted,
        first_break_arrived=first_at,
        first_break=first,
        wall_seconds=time.perf_counter() - started,
    )


def run_inflation(
    fleet: Fleet,
    workload: Workload,
    spec: InflateSpec,
    *,
    strategies: Sequence[str] = ALL_STRATEGIES,
) -> Inflation:
    """Run the inflation experiment `spec` with `workload`'s requests under each strategy.

    Strategies the planner refuses are skipped with its reason, as in `sim.runner.simulate`;
    when none can be planned, an InputError gives every reason.
    """
    capacity = fleet_gpus(fleet)
    plans, skipped = plans_for(fleet, strategies)
    if not plans:
        reasons = "; ".join(f"{s.name}: {s.reason}" for s in skipped)
        raise InputError(f"no strategy can be planned for this fleet ({reasons})")
    grid = spec.grid
    models = {p.strategy: from_plan(p) for p in plans}
    runs: dict[str, list[SeedRun]] = {p.strategy: [] for p in plans}
    for seed in spec.seeds:
        requests = inflate(workload.requests, capacity, spec.factor, seed)
        for plan in plans:
            runs[plan.strategy].append(
                run_inflated(
                    plan,
                    requests,
                    capacity=capacity,
                    grid=grid,
                    seed=seed,
                    model=models[plan.strategy],
                )
            )
    notes = (
        *workload.notes,
        f"inflated to {spec.factor:.0%} of {capacity:,} GPUs over {len(spec.seeds)} seed(s); "
        "requests never leave",
    )
    return Inflation(
        fleet_source=fleet.source,
        release=str(fleet.release),
        workload_source=workload.source,
        workload_notes=notes,
        spec=spec,
        capacity=capacity,
        grid=tuple(float(x) for x in grid),
        results=tuple(InflateResult(p.strategy, p.promise, tuple(runs[p.strategy])) for p in plans),
        skipped=tuple(skipped),
    )


def _spread_json(s: Spread) -> dict[str, float]:
    return {"mean": s.mean, "sd": s.sd, "min": s.low, "max": s.high}


def inflation_to_json(exp: Inflation) -> dict[str, object]:
    """The JSON form (DESIGN.md's inflation contract: `seeds`, `allocation_curve`, counts).

    Counts (`gpu_requests`, ...) are sums over seeds; `wall_seconds` too. Each curve point
    holds the mean over seeds and its spread.
    """
    strategies: list[dict[str, object]] = []
    for r in exp.results:
        allocated = r.curve("allocated")
        stranded = r.curve("stranded")
        broken = r.curve("broken")
        breaks = [x.first_break_arrived for x in r.runs if x.first_break_arrived is not None]
        strategies.append(
            {
                "name": r.name,
                "planned_promise": r.promise,
                "promise_kept": r.promise_kept,
                "seeds": len(r.runs),
                "gpu_requests": r.total("gpu_requests"),
                "gpu_accepted": r.total("gpu_accepted"),
                "gpu_refused_while_free": r.total("gpu_refused_while_free"),
                "gpu_refused_fragmented": r.total("gpu_refused_fragmented"),
                "ordinary_requests": r.total("ordinary_requests"),
                "ordinary_accepted": r.total("ordinary_accepted"),
                "failed": _spread_json(r.spread("failed")),
                "allocation_curve": [
                    {"arrived": a, "allocated": s.mean, "sd": s.sd, "min": s.low, "max": s.high}
                    for a, s in zip(exp.grid, allocated, strict=True)
                ],
                "fragmentation_curve": [
                    {"arrived": a, "stranded": s.mean, "sd": s.sd}
                    for a, s in zip(exp.grid, stranded, strict=True)
                ],
                "promise_curve": [
                    {"arrived": a, "refused_while_free": s.mean, "max": s.high}
                    for a, s in zip(exp.grid, broken, strict=True)
                ],
                "first_break_arrived": {
                    "seeds_broken": len(breaks),
                    "earliest": min(breaks) if breaks else None,
                    "mean": sum(breaks) / len(breaks) if breaks else None,
                },
                "first_break": list(r.first_break),
                "per_seed": [
                    {
                        "seed": x.seed,
                        "allocated_final": x.allocated[-1],
                        "stranded_final": x.stranded[-1],
                        "gpu_requests": x.gpu_requests,
                        "gpu_accepted": x.gpu_accepted,
                        "gpu_refused_while_free": x.gpu_refused_while_free,
                        "gpu_refused_fragmented": x.gpu_refused_fragmented,
                        "ordinary_requests": x.ordinary_requests,
                        "ordinary_accepted": x.ordinary_accepted,
                        "first_break_arrived": x.first_break_arrived,
                        "wall_seconds": x.wall_seconds,
                    }
                    for x in r.runs
                ],
                "wall_seconds": sum(x.wall_seconds for x in r.runs),
            }
        )
    return {
        "mode": "inflate",
        "fleet": exp.fleet_source,
        "release": exp.release,
        "inflate": exp.spec.factor,
        "seeds": list(exp.spec.seeds),
        "gpu_capacity": exp.capacity,
        "workload": {"source": exp.workload_source, "notes": list(exp.workload_notes)},
        "strategies": strategies,
        "skipped": [{"name": s.name, "reason": s.reason} for s in exp.skipped],
    }
