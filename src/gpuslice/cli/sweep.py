"""`gpuslice sweep`: slice sizes x strategies x workloads x seeds, on local cores or Dask."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click
from rich.table import Table

from gpuslice.cli.common import console, console_err, print_json
from gpuslice.cli.simulate import LazyProgress, synthetic_spec
from gpuslice.collector import paused_collector
from gpuslice.errors import InputError
from gpuslice.fleet import SliceSpec
from gpuslice.releases import parse_release
from gpuslice.sim.runner import ALL_STRATEGIES, parse_strategies
from gpuslice.sim.sweep import ENGINES, Grid, Sweep, run_sweep, slice_label, summarize, to_json
from gpuslice.sim.traces import read_trace


def parse_slices(texts: tuple[str, ...]) -> tuple[SliceSpec | None, ...]:
    """Each `--slice VCPUS,MEMORY_MB,DISK_GB` (or `fleet`, the fleet's own); none: `fleet`."""
    slices: list[SliceSpec | None] = []
    for text in texts:
        if text.strip() == "fleet":
            slices.append(None)
            continue
        try:
            vcpus, memory, disk = (int(x) for x in text.split(","))
        except ValueError:
            msg = f"--slice {text!r}: write VCPUS,MEMORY_MB,DISK_GB (e.g. 2,16384,0) or fleet"
            raise InputError(msg, field="--slice") from None
        if min(vcpus, memory, disk) < 0:
            raise InputError(f"--slice {text!r}: sizes are 0 or more", field="--slice")
        slices.append(SliceSpec(vcpus, memory, disk))
    return tuple(slices) or (None,)


def parse_loads(text: str) -> tuple[float, ...]:
    """`0.5,0.9,1.2`: offered loads of the synthetic workload; empty: none."""
    loads: list[float] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            loads.append(float(part))
        except ValueError:
            raise InputError(f"--loads: {part!r} is not a number", field="--loads") from None
    return tuple(loads)


def parse_seeds(text: str) -> tuple[int, ...]:
    """`1,2,7` or a range `1-10` (both ends included), or both: `1-3,9`."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            if "-" in part[1:]:
                first, last = (int(x) for x in part.split("-", 1))
                if last < first:
                    raise ValueError
                seeds.extend(range(first, last + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            msg = f"--seeds: {part!r} is neither a seed nor a range FIRST-LAST"
            raise InputError(msg, field="--seeds") from None
    return tuple(seeds)


def render_table(sweep: Sweep) -> Table:
    """One row per (slice, strategy, workload): promise breaks against capacity lost."""
    table = Table(
        title=f"Sweep on {sweep.release}: {len(sweep.results):,} points, {sweep.engine}, "
        f"{sweep.workers} workers, {sweep.wall_seconds:,.1f} s",
        title_justify="left",
    )
    for column in (
        "strategy",
        "slice",
        "workload",
        "seeds broken",
        "refused, GPU free (max)",
        "ordinary VMs",
        "lost",
    ):
        left = column in ("strategy", "slice", "workload")
        table.add_column(column, justify="left" if left else "right", no_wrap=left)
    for c in summarize(sweep):
        if c.skipped is not None:
            table.add_row(
                c.strategy, slice_label(c.slice), c.workload, f"[yellow]skipped[/]: {c.skipped}"
            )
            continue
        vs = (
            ""
            if c.ordinary_vs_none_mean is None or c.strategy == "none"
            else (f" {c.ordinary_vs_none_mean:+.1%}")
        )
        table.add_row(
            c.strategy,
            slice_label(c.slice),
            c.workload,
            f"[bold red]{c.seeds_broken}/{c.seeds}[/]"
            if c.seeds_broken
            else f"[green]0/{c.seeds}[/]",
            f"{c.breaks_mean:.3g} ({c.breaks_max})",
            f"{c.ordinary_acceptance_mean:.1%}{vs}",
            f"{c.cpu_lost:.0%} CPU {c.ram_lost:.0%} RAM",
        )
    table.caption = (
        "seeds broken: seeds in which a GPU VM was refused while a matching GPU was free. "
        "refused, GPU free: mean over seeds (the most in one seed). ordinary VMs: share "
        "booted, then the difference to none. lost: ordinary vCPUs and RAM out of reach "
        "compared with none."
    )
    table.caption_justify = "left"
    return table


@click.command("sweep")
@click.argument("fleet", type=click.Path(dir_okay=False))
@click.option(
    "--slice",
    "slices",
    multiple=True,
    help="a slice size VCPUS,MEMORY_MB,DISK_GB for every GPU model (repeat; default: the "
    "fleet's own, also written `fleet`)",
)
@click.option(
    "--strategies", default=",".join(ALL_STRATEGIES), show_default=True, help="comma-separated"
)
@click.option("--loads", default="0.9", show_default=True, help="synthetic loads, comma-separated")
@click.option("--seeds", default="1-3", show_default=True, help="seeds: 1,2,7 or 1-10")
@click.option(
    "--trace",
    "traces",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="also replay this trace (repeat)",
)
@click.option(
    "--trace-format",
    type=click.Choice(["generic", "alibaba-openb"]),
    default="generic",
    show_default=True,
)
@click.option("--release", help="simulate as this release instead of the fleet's")
@click.option("--workload", type=click.Path(dir_okay=False), help="synthetic workload YAML")
@click.option("--requests", type=int, help="synthetic: number of VM requests (5000)")
@click.option("--gpu-share", type=float, help="synthetic: share of GPU VMs (0.05)")
@click.option("--lifetime-mean", type=float, help="synthetic: mean lifetime, seconds (3600)")
@click.option(
    "--lifetime-dist",
    type=click.Choice(["exponential", "lognormal", "fixed"]),
    help="synthetic: lifetime distribution (exponential)",
)
@click.option("--mix", help="synthetic flavor mix VCPUSxMEMxDISK[:WEIGHT],...")
@click.option("--engine", type=click.Choice(ENGINES), default="process", show_default=True)
@click.option("--workers", type=int, help="processes (default: every local core)")
@click.option("--scheduler", help="a running Dask scheduler's address (with --engine dask)")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
@click.option("--report", type=click.Path(file_okay=False), help="write an HTML report here")
def sweep_command(**options: Any) -> None:
    """Simulate every slice size x strategy x load (or trace) x seed and show the trade-off.

    Each point is one run of `gpuslice simulate` with one strategy; the table shows, per slice,
    strategy and workload, how often the promise broke (GPU VMs refused while a GPU was free)
    and what ordinary VMs lost for it. Runs on every local core unless told otherwise; the
    same seeds give the same results on every engine.
    """
    from gpuslice.fleetfile import load_fleet

    fleet = load_fleet(options["fleet"])
    if options["release"]:
        fleet = replace(fleet, release=parse_release(options["release"], source="--release"))
    traces = {t: read_trace(t, options["trace_format"]) for t in options["traces"]}
    loads = parse_loads(options["loads"])
    if options["traces"] and options["loads"] == "0.9":
        # --loads left at its default: a sweep over traces alone.
        loads = ()
    grid = Grid(
        slices=parse_slices(options["slices"]),
        strategies=parse_strategies(options["strategies"]),
        seeds=parse_seeds(options["seeds"]),
        loads=loads,
        traces=tuple(options["traces"]),
    )
    spec = synthetic_spec({**options, "load": None})
    bar = LazyProgress(enabled=True)
    try:
        with paused_collector():
            sweep = run_sweep(
                fleet,
                spec,
                grid,
                traces=traces,
                engine=options["engine"],
                workers=options["workers"],
                scheduler=options["scheduler"],
                progress=bar.for_strategy("points"),
            )
    finally:
        bar.stop()
    if options["report"]:
        from gpuslice.sim.sweep_report import write_sweep_report

        path = write_sweep_report(sweep, options["report"])
        console_err.print(f"report written to {path}")
    if options["as_json"]:
        print_json(to_json(sweep))
    else:
        console.print(render_table(sweep))
