"""Sweeps: every (slice, strategy, workload, seed) point of a grid, on one or many processes.

Rules:
- a point is a pure function of (fleet, base workload spec, slice, strategy, load or trace,
  seed): the fleet gets the point's slice on every GPU model, the workload is drawn from the
  base spec at the point's load and seed (or is the trace, replayed as read), and the existing
  simulator runs that one strategy; nothing else is shared between points;
- points are listed in one fixed order (slices, then strategies, then workloads, then seeds)
  and results come back in that order whatever runs them, so the same grid gives equal
  results serially, on a process pool or on a Dask cluster (`wall_seconds` aside);
- a strategy the planner refuses for the fleet is a point with `skipped` set to its reason;
- ordinary capacity lost is measured against strategy `none` planned for the same fleet and
  slice (as `simulate` does); the acceptance difference to `none` is filled in when `none` ran
  at the same slice, workload and seed.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import product
from typing import Any, Literal

from gpuslice.errors import InputError
from gpuslice.fleet import Fleet, SliceSpec
from gpuslice.sim.runner import ALL_STRATEGIES, plans_for, simulate, synthetic_for
from gpuslice.sim.workload import SyntheticSpec, Workload

Engine = Literal["serial", "process", "dask"]
ENGINES: tuple[Engine, ...] = ("serial", "process", "dask")


@dataclass(frozen=True)
class SweepPoint:
    """One point of the grid: `trace` names a replayed trace (then `load` is None).

    `slice` None keeps the fleet's own slice on every model.
    """

    slice: SliceSpec | None
    strategy: str
    seed: int
    load: float | None = None
    trace: str | None = None

    @property
    def workload_label(self) -> str:
        """`load 0.9` or `trace NAME`."""
        return f"trace {self.trace}" if self.trace is not None else f"load {self.load:g}"

    @property
    def slice_label(self) -> str:
        """`VCPUS,MEMORY_MB,DISK_GB`, as the command line writes it."""
        return slice_label(self.slice)


def slice_label(slice_: SliceSpec | None) -> str:
    """`VCPUS,MEMORY_MB,DISK_GB` as the command line writes it; `fleet` for the fleet's own."""
    if slice_ is None:
        return "fleet"
    return f"{slice_.vcpus},{slice_.memory_mb},{slice_.disk_gb}"


@dataclass(frozen=True)
class Grid:
    """The axes of a sweep; `points()` lists their product in one fixed order.

    Rules: every axis is non-empty (loads or traces, at least one of the two), strategies are
    known names, loads are above 0, no axis repeats a value.
    """

    slices: tuple[SliceSpec | None, ...]
    strategies: tuple[str, ...]
    seeds: tuple[int, ...]
    loads: tuple[float, ...] = ()
    traces: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        axes: dict[str, Sequence[object]] = {
            "--slices": self.slices,
            "--strategies": self.strategies,
            "--seeds": self.seeds,
            "--loads": self.loads,
            "--trace": self.traces,
        }
        for name, values in axes.items():
            if len(set(values)) != len(values):
                raise InputError(f"{name} lists a value twice: {list(values)}", field=name)
        for name in ("--slices", "--strategies", "--seeds"):
            if not axes[name]:
                raise InputError(f"{name}: give at least one value", field=name)
        if not self.loads and not self.traces:
            raise InputError("give --loads, --trace or both", field="--loads")
        for strategy in self.strategies:
            if strategy not in ALL_STRATEGIES:
                msg = f"unknown strategy {strategy!r}; choose from {', '.join(ALL_STRATEGIES)}"
                raise InputError(msg, field="--strategies")
        for load in self.loads:
            if load <= 0:
                raise InputError(f"a load is above 0, got {load:g}", field="--loads")

    def points(self) -> tuple[SweepPoint, ...]:
        """Every point: slices, then strategies, then loads and traces, then seeds."""
        workloads: list[tuple[float | None, str | None]] = [(load, None) for load in self.loads]
        workloads += [(None, trace) for trace in self.traces]
        return tuple(
            SweepPoint(slice_, strategy, seed, load, trace)
            for slice_, strategy, (load, trace), seed in product(
                self.slices, self.strategies, workloads, self.seeds
            )
        )


@dataclass(frozen=True)
class PointResult:
    """What one point's simulation counted (shares are 0..1)."""

    point: SweepPoint
    skipped: str | None = None
    gpu_requests: int = 0
    gpu_accepted: int = 0
    gpu_refused_while_free: int = 0
    gpu_refused_fragmented: int = 0
    ordinary_requests: int = 0
    ordinary_accepted: int = 0
    cpu_lost: float = 0.0
    ram_lost: float = 0.0
    wall_seconds: float = field(default=0.0, compare=False)

    @property
    def promise_kept(self) -> bool:
        """No GPU VM refused while a matching GPU was free (a skipped point keeps nothing)."""
        return self.skipped is None and self.gpu_refused_while_free == 0

    @property
    def ordinary_acceptance(self) -> float:
        """Share of ordinary VMs booted (1.0 when none asked)."""
        if not self.ordinary_requests:
            return 1.0
        return self.ordinary_accepted / self.ordinary_requests


@dataclass(frozen=True)
class Sweep:
    """Every point's result, in the grid's order, with how it was run."""

    fleet_source: str
    release: str
    grid: Grid
    results: tuple[PointResult, ...]
    engine: str
    workers: int
    wall_seconds: float = field(default=0.0, compare=False)

    def baseline(self, result: PointResult) -> PointResult | None:
        """The `none` result at the same slice, workload and seed (None when not run)."""
        p = result.point
        for other in self.results:
            q = other.point
            if q.strategy == "none" and (q.slice, q.load, q.trace, q.seed) == (
                p.slice,
                p.load,
                p.trace,
                p.seed,
            ):
                return other if other.skipped is None else None
        return None

    def acceptance_delta(self, result: PointResult) -> float | None:
        """Ordinary acceptance minus that of `none` at the same point (None when not run)."""
        base = self.baseline(result)
        if base is None or result.skipped is not None:
            return None
        return result.ordinary_acceptance - base.ordinary_acceptance


def with_slice(fleet: Fleet, slice_: SliceSpec | None) -> Fleet:
    """`fleet` with `slice_` as every GPU model's slice (menus keep their overrides).

    None keeps the fleet as it is.
    """
    if slice_ is None:
        return fleet
    return replace(fleet, models=tuple(replace(m, slice=slice_) for m in fleet.models))


def run_point(
    fleet: Fleet,
    base: SyntheticSpec,
    point: SweepPoint,
    traces: Mapping[str, Workload] | None = None,
) -> PointResult:
    """Simulate one point (rules in the module docstring); a pure function of its inputs."""
    started = time.perf_counter()
    sliced = with_slice(fleet, point.slice)
    if point.trace is not None:
        if traces is None or point.trace not in traces:
            raise InputError(f"trace {point.trace!r} was not read", field="--trace")
        workload = traces[point.trace]
    else:
        assert point.load is not None
        workload = synthetic_for(sliced, replace(base, load=point.load), point.seed)
    _, refused = plans_for(sliced, (point.strategy,))
    if refused:
        return PointResult(point, skipped=refused[0].reason, wall_seconds=_since(started))
    sim = simulate(sliced, workload, strategies=(point.strategy,), seed=point.seed)
    r = sim.results[0]
    cpu_lost, ram_lost = sim.cost(r)
    return PointResult(
        point,
        gpu_requests=r.gpu_requests,
        gpu_accepted=r.gpu_accepted,
        gpu_refused_while_free=r.gpu_refused_while_free,
        gpu_refused_fragmented=r.gpu_refused_fragmented,
        ordinary_requests=r.ordinary_requests,
        ordinary_accepted=r.ordinary_accepted,
        cpu_lost=cpu_lost,
        ram_lost=ram_lost,
        wall_seconds=_since(started),
    )


def _since(started: float) -> float:
    return time.perf_counter() - started


@dataclass(frozen=True)
class _Task:
    """One point with what it needs, as a picklable callable for pools and clusters."""

    fleet: Fleet
    base: SyntheticSpec
    traces: Mapping[str, Workload]

    def __call__(self, point: SweepPoint) -> PointResult:
        return run_point(self.fleet, self.base, point, self.traces)


def default_workers() -> int:
    """Every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _serial(task: _Task, points: Sequence[SweepPoint], _workers: int) -> Iterator[PointResult]:
    return (task(p) for p in points)


def _process(task: _Task, points: Sequence[SweepPoint], workers: int) -> Iterator[PointResult]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: no state of the caller's process (threads, open clients) leaks into a worker.
    context = multiprocessing.get_context("spawn")
    # The workers are this pool's own processes, not the caller's: their collector stays off.
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=gc.disable
    ) as pool:
        yield from pool.map(task, points, chunksize=1)


def _dask(
    task: _Task, points: Sequence[SweepPoint], workers: int, scheduler: str | None
) -> Iterator[PointResult]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        msg = "--engine dask needs Dask's distributed: pip install 'gpuslice[sweep]'"
        raise InputError(msg, field="--engine") from None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=30)
        except (OSError, TimeoutError) as error:
            msg = f"cannot reach the Dask scheduler at {scheduler}: {error}"
            raise InputError(msg, field="--scheduler") from None
        with client:
            yield from _dask_map(client, task, points)
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield from _dask_map(client, task, points)


def _dask_map(client: Any, task: _Task, points: Sequence[SweepPoint]) -> Iterator[PointResult]:
    futures = client.map(task, list(points), pure=False)
    results: list[PointResult] = client.gather(futures)
    yield from results


def run_sweep(
    fleet: Fleet,
    base: SyntheticSpec,
    grid: Grid,
    *,
    traces: Mapping[str, Workload] | None = None,
    engine: Engine = "process",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Sweep:
    """Run every point of `grid` on `engine` (rules in the module docstring).

    `workers` defaults to every local core; `scheduler` is a Dask scheduler's address (else a
    local cluster of `workers` processes is started on 127.0.0.1). `traces` maps each trace
    name of the grid to its workload, read beforehand. `progress(done, total)` is called as
    results arrive.
    """
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if workers is not None and workers < 1:
        raise InputError(f"--workers is 1 or more, got {workers}", field="--workers")
    if scheduler is not None and engine != "dask":
        raise InputError("--scheduler goes with --engine dask", field="--scheduler")
    missing = [t for t in grid.traces if traces is None or t not in traces]
    if missing:
        raise InputError(f"trace {missing[0]!r} was not read", field="--trace")
    count = workers or default_workers()
    task = _Task(fleet, base, dict(traces or {}))
    points = grid.points()
    started = time.perf_counter()
    if engine == "serial":
        stream = _serial(task, points, 1)
        count = 1
    elif engine == "process":
        stream = _process(task, points, count)
    else:
        stream = _dask(task, points, count, scheduler)
    results: list[PointResult] = []
    for result in stream:
        results.append(result)
        if progress is not None:
            progress(len(results), len(points))
    return Sweep(
        fleet_source=fleet.source,
        release=str(fleet.release),
        grid=grid,
        results=tuple(results),
        engine=engine if scheduler is None else f"dask {scheduler}",
        workers=count,
        wall_seconds=_since(started),
    )


def _slice_json(slice_: SliceSpec | None) -> dict[str, int] | None:
    if slice_ is None:
        return None
    return {"vcpus": slice_.vcpus, "memory_mb": slice_.memory_mb, "disk_gb": slice_.disk_gb}


def to_json(sweep: Sweep) -> dict[str, object]:
    """The JSON form: the grid, then one record per point in the grid's order."""
    g = sweep.grid
    points: list[dict[str, object]] = []
    for r in sweep.results:
        p = r.point
        points.append(
            {
                "slice": _slice_json(p.slice),
                "strategy": p.strategy,
                "load": p.load,
                "trace": p.trace,
                "seed": p.seed,
                "skipped": r.skipped,
                "promise_kept": r.promise_kept,
                "gpu_requests": r.gpu_requests,
                "gpu_accepted": r.gpu_accepted,
                "gpu_refused_while_free": r.gpu_refused_while_free,
                "gpu_refused_fragmented": r.gpu_refused_fragmented,
                "ordinary_requests": r.ordinary_requests,
                "ordinary_accepted": r.ordinary_accepted,
                "ordinary_acceptance": r.ordinary_acceptance,
                "ordinary_acceptance_vs_none": sweep.acceptance_delta(r),
                "ordinary_capacity_lost_vs_none": {"vcpus": r.cpu_lost, "memory_mb": r.ram_lost},
                "wall_seconds": r.wall_seconds,
            }
        )
    return {
        "fleet": sweep.fleet_source,
        "release": sweep.release,
        "engine": sweep.engine,
        "workers": sweep.workers,
        "wall_seconds": sweep.wall_seconds,
        "grid": {
            "slices": [_slice_json(s) for s in g.slices],
            "strategies": list(g.strategies),
            "loads": list(g.loads),
            "traces": list(g.traces),
            "seeds": list(g.seeds),
        },
        "points": points,
    }


@dataclass(frozen=True)
class Cell:
    """One (slice, strategy, workload) over its seeds: means, and seeds that broke the promise.

    `skipped` is the planner's reason when the strategy could not be planned at this slice.
    """

    slice: SliceSpec | None
    strategy: str
    workload: str
    seeds: int
    seeds_broken: int
    breaks_mean: float
    breaks_max: int
    gpu_acceptance_mean: float
    ordinary_acceptance_mean: float
    ordinary_vs_none_mean: float | None
    cpu_lost: float
    ram_lost: float
    skipped: str | None = None


def summarize(sweep: Sweep) -> tuple[Cell, ...]:
    """Group results by (slice, strategy, workload), in the grid's order, averaging over seeds."""
    groups: dict[tuple[SliceSpec | None, str, str], list[PointResult]] = {}
    for r in sweep.results:
        key = (r.point.slice, r.point.strategy, r.point.workload_label)
        groups.setdefault(key, []).append(r)
    cells: list[Cell] = []
    for (slice_, strategy, workload), results in groups.items():
        ran = [r for r in results if r.skipped is None]
        if not ran:
            cells.append(
                Cell(
                    slice_,
                    strategy,
                    workload,
                    0,
                    0,
                    0.0,
                    0,
                    0.0,
                    0.0,
                    None,
                    0.0,
                    0.0,
                    skipped=results[0].skipped,
                )
            )
            continue
        deltas = [d for r in ran if (d := sweep.acceptance_delta(r)) is not None]
        n = len(ran)
        cells.append(
            Cell(
                slice_,
                strategy,
                workload,
                seeds=n,
                seeds_broken=sum(1 for r in ran if not r.promise_kept),
                breaks_mean=sum(r.gpu_refused_while_free for r in ran) / n,
                breaks_max=max(r.gpu_refused_while_free for r in ran),
                gpu_acceptance_mean=sum(
                    r.gpu_accepted / r.gpu_requests if r.gpu_requests else 1.0 for r in ran
                )
                / n,
                ordinary_acceptance_mean=sum(r.ordinary_acceptance for r in ran) / n,
                ordinary_vs_none_mean=sum(deltas) / len(deltas) if deltas else None,
                cpu_lost=sum(r.cpu_lost for r in ran) / n,
                ram_lost=sum(r.ram_lost for r in ran) / n,
            )
        )
    return tuple(cells)
