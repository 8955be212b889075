"""`gpuslice render FLEET`: write the files every host needs, or merge them into existing ones."""

from __future__ import annotations

from pathlib import Path

import click

from gpuslice.cli.common import click_echo, console, console_err
from gpuslice.cli.plan import STRATEGY_CHOICES
from gpuslice.errors import InputError
from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan
from gpuslice.render import write_tree
from gpuslice.render.apply_tree import bom_warnings, diff_merged, merged_files, write_merged
from gpuslice.render.atomic import JOURNAL, recover
from gpuslice.render.cmsh import render_cmsh


@click.command("render")
@click.argument("fleet", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write a fresh tree here: DIR/<host>/etc/... and DIR/cloud-objects.json. DIR must be "
    "new, empty or an earlier render.",
)
@click.option(
    "--merge-into",
    type=click.Path(file_okay=False, path_type=Path),
    help="Merge the options into existing files below this directory, keeping every "
    "other line and comment (see docs/brownfield.md).",
)
@click.option("--node", help="With --merge-into: the directory is this node's root (e.g. /).")
@click.option(
    "--diff",
    "show_diff",
    is_flag=True,
    help="With --merge-into: print a unified diff of what would change and write nothing.",
)
@click.option(
    "--target",
    type=click.Choice(["tree", "cmsh"]),
    default="tree",
    show_default=True,
    help="tree: files; cmsh: print a Bright Cluster Manager cmsh session.",
)
@click.option("--strategy", type=STRATEGY_CHOICES, help="Override the fleet file's strategy.")
def render_command(
    fleet: Path,
    out: Path | None,
    merge_into: Path | None,
    node: str | None,
    show_diff: bool,
    target: str,
    strategy: str | None,
) -> None:
    """Render the plan into files per host (nova.conf, nova-gpu.conf, provider.yaml, units)."""
    plan = make_plan(load_fleet(fleet), strategy)
    if target == "cmsh":
        click_echo(render_cmsh(plan))
        return
    if (out is None) == (merge_into is None):
        raise InputError("give exactly one of --out DIR or --merge-into DIR", field="render")
    if node is not None and merge_into is None:
        raise InputError("--node only goes with --merge-into", field="--node")
    if show_diff and merge_into is None:
        raise InputError("--diff only goes with --merge-into", field="--diff")
    if out is not None:
        written = write_tree(plan, out)
        console.print(
            f"wrote {len(written)} files below {out} (strategy {plan.strategy}, {plan.release})"
        )
        return
    assert merge_into is not None
    if node is not None and node not in {n.name for n in plan.nodes}:
        names = ", ".join(n.name for n in plan.nodes)
        raise InputError(f"no node {node!r} in the plan; nodes with files: {names}", field="--node")
    journal = merge_into / JOURNAL
    if show_diff and journal.exists():
        console_err.print(
            f"warning: {journal}: an interrupted merge is pending; the diff is against the "
            "files as they are now; a run without --diff completes it first"
        )
    elif not show_diff:
        for path in recover(merge_into, []):
            console.print(f"completed an interrupted merge: {path}")
    files = merged_files(plan, merge_into, node)
    for warning in bom_warnings(files):
        console_err.print(f"warning: {warning}")
    if show_diff:
        click_echo(diff_merged(files).rstrip("\n"))
        return
    changed = write_merged(files, merge_into)
    if changed:
        for path in changed:
            console.print(f"updated {path}")
    else:
        console.print("nothing to change: the files already hold the plan")
