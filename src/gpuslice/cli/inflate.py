"""`gpuslice simulate --inflate`: the inflation experiment's table, JSON, report and check."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table

from gpuslice.cli.common import console, console_err, print_json
from gpuslice.collector import paused_collector
from gpuslice.errors import InputError, PromiseBrokenError
from gpuslice.fleet import Fleet
from gpuslice.sim.inflate import InflateSpec, Inflation, inflation_to_json, run_inflation
from gpuslice.sim.workload import Workload

CURVE_POINTS = (0.5, 0.8, 1.0)


def _at(exp: Inflation, arrived: float) -> int | None:
    """The grid index of `arrived` (None when the curve does not reach it)."""
    for k, x in enumerate(exp.grid):
        if abs(x - arrived) < 1e-9:
            return k
    return None


def inflation_table(exp: Inflation) -> Table:
    """Per strategy: GPUs allocated along the curve (mean ± sd), stranded, failed, broken."""
    table = Table(
        title=(
            f"Inflated to {exp.spec.factor:.0%} of {exp.capacity:,} GPUs on {exp.release}, "
            f"{len(exp.spec.seeds)} seed(s): GPUs allocated as demand arrives"
        ),
        title_justify="left",
    )
    table.add_column("strategy")
    points = [(a, k) for a in CURVE_POINTS if (k := _at(exp, a)) is not None]
    if not points or points[-1][0] != exp.grid[-1]:
        points.append((exp.grid[-1], len(exp.grid) - 1))
    for arrived, _ in points:
        table.add_column(f"{arrived:.0%}", justify="right")
    for column in ("stranded", "failed", "refused, GPU free"):
        table.add_column(column, justify="right")
    for r in exp.results:
        curve = r.curve("allocated")
        cells = [f"{curve[k].mean:.1%}±{curve[k].sd:.1%}" for _, k in points]
        free = r.total("gpu_refused_while_free")
        failed = r.spread("failed")
        table.add_row(
            r.name,
            *cells,
            f"{r.curve('stranded')[-1].mean:.1%}",
            f"{failed.mean:,.0f}±{failed.sd:,.0f}",
            f"[bold red]{free:,}[/]" if free else "[green]0[/]",
        )
    table.caption = (
        "columns: arrived GPU demand as a share of the GPUs; cells: share allocated, mean±sd "
        "over seeds. stranded: free GPUs whose host cannot take a 1-GPU VM, at the end. failed: "
        "requests refused per seed. refused, GPU free: the promise broken, over all seeds."
    )
    table.caption_justify = "left"
    return table


def print_inflation(exp: Inflation) -> None:
    """Print the notes, the table, skipped strategies and where each promise first broke."""
    for note in exp.workload_notes:
        console.print(f"[dim]{note}[/]")
    console.print(inflation_table(exp))
    for s in exp.skipped:
        console.print(f"[yellow]skipped {s.name}[/]: {s.reason}")
    for r in exp.results:
        if r.promise_kept:
            console.print(f"[green]{r.name}: keeps the promise along the whole curve[/]")
            continue
        breaks = [x.first_break_arrived for x in r.runs if x.first_break_arrived is not None]
        console.print(
            f"[red]{r.name}: breaks the promise[/] in {len(breaks)} of {len(r.runs)} seeds, "
            f"first at {min(breaks):.0%} of GPU capacity arrived"
        )
        for line in r.first_break[:6]:
            console.print(f"    {line}", highlight=False)


def inflate_and_report(
    fleet: Fleet,
    workload: Workload,
    strategies: Sequence[str],
    target: str,
    options: dict[str, Any],
) -> None:
    """Run the inflation experiment the options ask for; print, report and check it."""
    count = 10 if options["seeds"] is None else options["seeds"]
    if count < 1:
        raise InputError(f"--seeds {count}: give 1 or more", field="--seeds")
    first = options["seed"]
    spec = InflateSpec(factor=options["inflate"], seeds=tuple(range(first, first + count)))
    with paused_collector():
        exp = run_inflation(fleet, workload, spec, strategies=strategies)
    if options["report"]:
        from gpuslice.sim.inflate_report import write_inflation_report

        path = write_inflation_report(exp, options["report"])
        console_err.print(f"report written to {path}")
    if options["as_json"]:
        print_json(inflation_to_json(exp))
    else:
        print_inflation(exp)
    if options["check"]:
        try:
            result = exp.result(target)
        except KeyError:
            reason = next((s.reason for s in exp.skipped if s.name == target), "not simulated")
            raise InputError(
                f"--check: strategy {target} could not be simulated: {reason}"
            ) from None
        if not result.promise_kept:
            msg = (
                f"strategy {target} breaks the promise: "
                f"{result.total('gpu_refused_while_free'):,} GPU VMs refused while a matching "
                "GPU was free (over all seeds)"
            )
            raise PromiseBrokenError(msg)
