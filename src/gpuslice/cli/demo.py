"""`gpuslice demo`: the seed scenario end to end, with no arguments."""

from __future__ import annotations

from pathlib import Path

import click

from gpuslice.cli.common import console
from gpuslice.cli.simulate import LazyProgress, menu_table, render_table, verdict_lines
from gpuslice.collector import paused_collector


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-out"),
    show_default=True,
    help="where the rendered files and the report go",
)
@click.option("--lab", type=click.Path(file_okay=False), help="the bright-lab example directory")
@click.option("--seed", type=int, default=1, show_default=True)
def demo_command(out: Path, lab: str | None, seed: int) -> None:
    """Discover, plan, render and simulate the bright-lab example; say which strategies hold."""
    from gpuslice.sim.demo import run_demo

    bar = LazyProgress(enabled=True)
    try:
        with paused_collector():
            result = run_demo(out, lab=lab, seed=seed, progress=bar.for_strategy)
    finally:
        bar.stop()
    console.print(f"[bold]1. discover[/] {result.lab / 'captures' / 'hyper18.txt'}")
    for gpu in result.gpus:
        name = gpu.device or "GPU"
        console.print(f"   {gpu.address} {gpu.vendor_product} {name} (driver {gpu.driver})")
    console.print("[bold]2. plan and render[/]")
    for r in result.rendered:
        console.print(f"   {r.fleet}: {r.strategy} on {r.release} -> {r.out_dir} ({r.files} files)")
    console.print("[bold]3. simulate[/] a stress workload that fills the cloud")
    for sim in result.simulations:
        console.print(render_table(sim))
        for s in sim.skipped:
            reason = s.reason.split(":")[0]
            console.print(f"   [yellow]{s.name} not possible[/]: {reason}")
    if result.menu is not None:
        console.print("[bold]3b. a GPU menu[/]: A100 hosts with 1, 2 and 4-GPU flavors, L40S hosts")
        table = menu_table(result.menu)
        if table is not None:
            console.print(table)
    console.print("[bold]4. verdict[/]")
    labelled = [(f"on {sim.release}", sim) for sim in result.simulations]
    if result.menu:
        labelled.append((f"the GPU menu fleet on {result.menu.release}", result.menu))
    for label, sim in labelled:
        console.print(f"   {label}:")
        for line in verdict_lines(sim):
            console.print(f"     {line}")
    console.print(f"report: [bold]{result.report}[/] (open it in a browser)")
    doctor = (
        f"gpuslice doctor {result.lab / 'fleet-2025.1.yaml'} --snapshots {result.lab / 'snapshots'}"
    )
    console.print(f"hosts ready for GPU VMs? {doctor}", soft_wrap=True)
