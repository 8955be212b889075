"""`gpuslice simulate`: run strategies side by side on the embedded scheduling model."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from gpuslice.cli.common import console, console_err, print_json
from gpuslice.collector import paused_collector
from gpuslice.errors import InputError, PromiseBrokenError
from gpuslice.fleet import Fleet, SliceSpec
from gpuslice.releases import parse_release
from gpuslice.sim.engine import Progress as ProgressCallback
from gpuslice.sim.engine import StrategyResult
from gpuslice.sim.runner import (
    ALL_STRATEGIES,
    Simulation,
    parse_strategies,
    simulate,
    synthetic_for,
    to_json,
)
from gpuslice.sim.traces import (
    TRACE_FORMATS,
    names_models,
    read_alibaba_fleet,
    read_trace,
    resolve_models,
)
from gpuslice.sim.workload import SyntheticSpec, Workload, parse_mix, spec_from_mapping


class LazyProgress:
    """A progress bar on stderr that appears only once a run has taken more than a second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and console_err.is_terminal
        self.started = time.perf_counter()
        self.progress: Progress | None = None
        self.tasks: dict[str, TaskID] = {}

    def for_strategy(self, name: str) -> ProgressCallback | None:
        """The callback one strategy's run reports to."""
        if not self.enabled:
            return None

        def report(done: int, total: int) -> None:
            if self.progress is None:
                if time.perf_counter() - self.started < 1.0:
                    return
                self.progress = Progress(
                    TextColumn("{task.description:>10}"),
                    BarColumn(),
                    TextColumn("{task.completed:,}/{task.total:,}"),
                    TimeRemainingColumn(),
                    console=console_err,
                    transient=True,
                )
                self.progress.start()
            if name not in self.tasks:
                self.tasks[name] = self.progress.add_task(name, total=total)
            self.progress.update(self.tasks[name], completed=done)

        return report

    def stop(self) -> None:
        """Remove the bar."""
        if self.progress is not None:
            self.progress.stop()


def _slice(text: str) -> SliceSpec:
    try:
        vcpus, memory, disk = (int(x) for x in text.split(","))
    except ValueError:
        msg = f"--slice {text!r}: write VCPUS,MEMORY_MB,DISK_GB (e.g. 2,16384,0)"
        raise InputError(msg) from None
    return SliceSpec(vcpus, memory, disk)


def load_workload_file(path: str) -> SyntheticSpec:
    """Read a synthetic workload YAML file (keys as `SyntheticSpec`'s fields)."""
    from gpuslice import inputs
    from gpuslice.yamlpos import load_located_yaml

    data = load_located_yaml(inputs.read_text(path, inputs.WORKLOAD), path).data or {}
    if not isinstance(data, dict):
        raise InputError("a workload file is a mapping of keys to values", source=path)
    return spec_from_mapping(data, source=path)


def synthetic_spec(options: dict[str, Any]) -> SyntheticSpec:
    """The synthetic spec: the workload file if given, then command-line options over it."""
    base = load_workload_file(options["workload"]) if options["workload"] else SyntheticSpec()
    values: dict[str, Any] = {
        "requests": base.requests,
        "load": base.load,
        "gpu_share": base.gpu_share,
        "lifetime_mean": base.lifetime_mean,
        "lifetime_dist": base.lifetime_dist,
        "mix": base.mix,
    }
    for key in ("requests", "load", "gpu_share", "lifetime_mean", "lifetime_dist"):
        if options[key] is not None:
            values[key] = options[key]
    if options["mix"]:
        values["mix"] = parse_mix(options["mix"])
    return SyntheticSpec(**values)


def render_table(sim: Simulation) -> Table:
    """The side-by-side table of every strategy's figures."""
    table = Table(title=f"Simulation on {sim.release}, seed {sim.seed}", title_justify="left")
    vgpus = any(r.vgpu_requests for r in sim.results)
    columns = ["strategy", "plan", "GPU VMs", "refused, GPU free"]
    columns += ["vGPU VMs", "vGPU slices"] if vgpus else []
    for column in (*columns, "ordinary VMs", "lost"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for r in sim.results:
        cpu_cost, ram_cost = sim.cost(r)
        delta = sim.acceptance_delta(r)
        broken = r.gpu_refused_while_free
        versus = "" if delta is None or r.name == "none" else f" {delta:+.1%}"
        cells = [
            r.name,
            r.promise,
            f"{r.gpu_accepted:,}/{r.gpu_requests:,}",
            f"[bold red]{broken:,}[/]" if broken else "[green]0[/]",
        ]
        if vgpus:
            cells += [vgpu_cell(r), r.vgpu_form.replace("_", " ")]
        table.add_row(
            *cells,
            f"{r.ordinary_acceptance:.1%}{versus}",
            f"{cpu_cost:.0%} CPU {ram_cost:.0%} RAM",
        )
    table.caption = (
        "GPU VMs: booted/asked (vGPU VMs included). ordinary VMs: share booted, then the "
        "difference to none. lost: ordinary vCPUs and RAM out of reach compared with none."
        + (
            " vGPU VMs: booted/asked, refused while a card had the vGPUs free (broken), refused "
            "with the vGPUs free on one host's cards but on no single card (frag.). vGPU "
            "slices: tied to each card, pooled on the host, or none (vGPU only)."
            if vgpus
            else ""
        )
    )
    table.caption_justify = "left"
    return table


def vgpu_cell(r: StrategyResult) -> str:
    """`booted/asked`, then the vGPU VMs refused while free (broken) and for fragmentation."""
    cell = f"{r.vgpu_accepted:,}/{r.vgpu_requests:,}"
    if r.vgpu_refused_while_free:
        cell += f" [bold red]{r.vgpu_refused_while_free:,} broken[/]"
    if r.vgpu_refused_fragmented:
        cell += f" [yellow]{r.vgpu_refused_fragmented:,} frag.[/]"
    return cell


def menu_table(sim: Simulation) -> Table | None:
    """Per GPU model and size: booted/asked per strategy, the promise's breaks and fragmentation.

    None when every GPU VM asked one GPU of one model (the main table says it all).
    """
    sizes = sorted({(f.alias, f.gpus, f.flavor, f.kind) for r in sim.results for f in r.by_flavor})
    if len(sizes) <= 1:
        return None
    table = Table(title="GPU VMs per model and size", title_justify="left")
    table.add_column("flavor")
    for r in sim.results:
        table.add_column(r.name, justify="right")
    for alias, gpus, flavor, kind in sizes:
        cells = []
        for r in sim.results:
            f = next((x for x in r.by_flavor if (x.alias, x.gpus) == (alias, gpus)), None)
            if f is None:
                cells.append("-")
                continue
            cell = f"{f.accepted:,}/{f.requests:,}"
            if f.refused_while_free:
                cell += f" [bold red]{f.refused_while_free:,} broken[/]"
            if f.refused_fragmented:
                cell += f" [yellow]{f.refused_fragmented:,} frag.[/]"
            cells.append(cell)
        unit = f"{gpus} vGPU" if kind == "vgpu" else f"{gpus}x"
        table.add_row(f"{flavor} ({unit} {alias})", *cells)
    table.caption = (
        "booted/asked; broken: refused while one host had the GPUs free (the promise); "
        "frag.: refused with enough GPUs free in the cloud but on no single host (no strategy "
        "can help)."
        + (
            " vGPU flavors: broken: refused while one card had the vGPUs free; frag.: refused "
            "while one host's cards had them together but no single card (a VM's vGPUs come "
            "from one card). vGPUs on VFs (one each): broken: one host had k free VFs; frag.: "
            "the cloud had k but no single host (a VM's VFs come from one host)."
            if any(kind == "vgpu" for *_, kind in sizes)
            else ""
        )
    )
    table.caption_justify = "left"
    return table


def verdict_lines(sim: Simulation) -> list[str]:
    """One line per strategy: promise kept or broken, at what cost."""
    lines: list[str] = []
    for r in sim.results:
        cpu_cost, ram_cost = sim.cost(r)
        if r.promise_kept:
            lines.append(
                f"[green]{r.name}: keeps the promise[/] "
                f"(ordinary VMs lose {cpu_cost:.1%} of vCPUs, {ram_cost:.1%} of RAM)"
            )
        else:
            lines.append(
                f"[red]{r.name}: breaks the promise[/] "
                f"({r.gpu_refused_while_free:,} GPU VMs refused while a GPU was free)"
            )
    return lines


def print_human(sim: Simulation, *, explain: bool = True) -> None:
    """Print the table, skipped strategies, verdicts and the first break of each."""
    for note in sim.workload_notes:
        console.print(f"[dim]{note}[/]")
    console.print(render_table(sim))
    per_size = menu_table(sim)
    if per_size is not None:
        console.print(per_size)
    for s in sim.skipped:
        console.print(f"[yellow]skipped {s.name}[/]: {s.reason}")
    for line in verdict_lines(sim):
        console.print(line)
    if explain:
        for r in sim.results:
            if r.first_break:
                console.print(f"[bold]{r.name}[/], first break: {r.first_break[0]}")
                for rejection in r.first_break[1:6]:
                    console.print(f"    {rejection}", highlight=False)
                if len(r.first_break) > 6:
                    console.print(f"    ... {len(r.first_break) - 6} more hosts")


def load_inputs(options: dict[str, Any]) -> tuple[Fleet, Workload]:
    """The fleet and workload the options name (fleet file or Alibaba nodes; trace or synthetic)."""
    from gpuslice.fleetfile import load_fleet

    fleet_path: str | None = options["fleet"]
    nodes: str | None = options["alibaba_nodes"]
    if fleet_path and nodes:
        raise InputError("give either FLEET or --alibaba-nodes, not both")
    trace = read_trace(options["trace"], options["trace_format"]) if options["trace"] else None
    if nodes:
        release = parse_release(options["release"] or "2025.1", source="--release")
        fleet = read_alibaba_fleet(
            nodes,
            release=release,
            slice_spec=_slice(options["slice"] or "2,16384,0"),
            per_model=trace is not None and names_models(trace),
        )
    elif fleet_path:
        fleet = load_fleet(fleet_path)
        if options["release"]:
            from dataclasses import replace

            fleet = replace(fleet, release=parse_release(options["release"], source="--release"))
    else:
        raise InputError("name a fleet file, or --alibaba-nodes NODES.csv with an Alibaba trace")
    if trace is not None:
        workload = resolve_models(trace, fleet) if names_models(trace) else trace
    else:
        workload = synthetic_for(fleet, synthetic_spec(options), options["seed"])
    return fleet, workload


def refuse_unplannable(fleet: Fleet) -> None:
    """Refuse a fleet that `gpuslice plan` refuses, with plan's own error (exit 2).

    The fleet's own strategy (`auto` resolved) must plan; the other strategies simulate may
    still skip with their reasons.
    """
    from gpuslice.plan import make_plan

    make_plan(fleet)


def chosen_strategy(fleet: Fleet) -> str:
    """The strategy `--check` judges: the fleet's own, `auto` resolved as the planner does."""
    from gpuslice.plan import choose_strategy

    return choose_strategy(fleet) if fleet.strategy == "auto" else fleet.strategy


@click.command("simulate")
@click.argument("fleet", required=False, type=click.Path(dir_okay=False))
@click.option("--trace", type=click.Path(dir_okay=False), help="replay this trace")
@click.option(
    "--trace-format",
    type=click.Choice(list(TRACE_FORMATS)),
    default="generic",
    show_default=True,
)
@click.option("--alibaba-nodes", type=click.Path(dir_okay=False), help="fleet from openb nodes")
@click.option("--release", help="release for --alibaba-nodes (default 2025.1) or to override")
@click.option("--slice", "slice_", help="slice for --alibaba-nodes: VCPUS,MEMORY_MB,DISK_GB")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--strategies",
    default=",".join(ALL_STRATEGIES),
    show_default=True,
    help="comma-separated",
)
@click.option("--workload", type=click.Path(dir_okay=False), help="synthetic workload YAML")
@click.option("--requests", type=int, help="synthetic: number of VM requests (5000)")
@click.option("--load", type=float, help="synthetic: offered load, 1.0 = full (0.9)")
@click.option("--gpu-share", type=float, help="synthetic: share of GPU VMs (0.05)")
@click.option("--lifetime-mean", type=float, help="synthetic: mean lifetime, seconds (3600)")
@click.option(
    "--lifetime-dist",
    type=click.Choice(["exponential", "lognormal", "fixed"]),
    help="synthetic: lifetime distribution (exponential)",
)
@click.option("--mix", help="synthetic flavor mix VCPUSxMEMxDISK[:WEIGHT],...")
@click.option(
    "--inflate",
    type=float,
    help="inflation mode: shuffle the trace per seed, fill to this x GPU capacity (e.g. 1.3)",
)
@click.option("--seeds", type=int, help="inflation mode: seeds from --seed on (10)")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
@click.option("--check", is_flag=True, help="exit 1 when the fleet's strategy breaks the promise")
@click.option("--report", type=click.Path(file_okay=False), help="write an HTML report here")
def simulate_command(**options: Any) -> None:
    """Run the fleet under a workload on a model of Nova and Placement, strategy by strategy.

    Without --trace a synthetic workload is drawn (Poisson arrivals, exponential lifetimes,
    a flavor mix with a GPU share, a load level), the same for every strategy.
    """
    options["slice"] = options.pop("slice_")
    if options["inflate"] is None and options["seeds"] is not None:
        raise InputError("--seeds belongs to the inflation mode: add --inflate FACTOR")
    if options["inflate"] is not None and not options["trace"]:
        raise InputError("--inflate replays a trace: add --trace PODS.csv")
    fleet, workload = load_inputs(options)
    refuse_unplannable(fleet)
    strategies = parse_strategies(options["strategies"])
    target = chosen_strategy(fleet)
    if options["check"] and target not in strategies:
        strategies = (*strategies, target)
    if options["inflate"] is not None:
        from gpuslice.cli.inflate import inflate_and_report

        inflate_and_report(fleet, workload, strategies, target, options)
        return
    bar = LazyProgress(enabled=True)
    try:
        with paused_collector():
            sim = simulate(
                fleet,
                workload,
                strategies=strategies,
                seed=options["seed"],
                progress=bar.for_strategy,
            )
    finally:
        bar.stop()
    if options["report"]:
        from gpuslice.sim.report import write_report

        path = write_report(sim, options["report"])
        console_err.print(f"report written to {path}")
    if options["as_json"]:
        print_json(to_json(sim))
    else:
        print_human(sim)
    if options["check"]:
        try:
            result = sim.result(target)
        except KeyError:
            reason = next((s.reason for s in sim.skipped if s.name == target), "not simulated")
            raise InputError(
                f"--check: strategy {target} could not be simulated: {reason}"
            ) from None
        if not result.promise_kept:
            msg = (
                f"strategy {target} breaks the promise: {result.gpu_refused_while_free:,} GPU "
                "VMs refused while a matching GPU was free"
            )
            raise PromiseBrokenError(msg)
