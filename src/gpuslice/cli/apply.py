"""`gpuslice apply SOURCE --cloud NAME`: make the cloud hold the plan's cloud objects."""

from __future__ import annotations

from pathlib import Path

import click

from gpuslice.cli.common import console, print_json

CLOUD_HELP = "cloud name in clouds.yaml (default: $OS_CLOUD)"


def cloud_option(function: click.decorators.FC) -> click.decorators.FC:
    """The `--cloud/--os-cloud NAME` option every cloud command takes."""
    return click.option("--cloud", "--os-cloud", "cloud", envvar="OS_CLOUD", help=CLOUD_HELP)(
        function
    )


@click.command("apply")
@click.argument("source", type=click.Path(path_type=Path, dir_okay=False))
@cloud_option
@click.option("--dry-run", is_flag=True, help="show the changes and stop")
@click.option("--json", "as_json", is_flag=True, help="print the outcome as JSON")
def apply_command(source: Path, cloud: str | None, dry_run: bool, as_json: bool) -> None:
    """Create the plan's resource classes, traits, aggregates and GPU flavors in a cloud.

    SOURCE is a fleet file (planned first) or the cloud-objects.json `gpuslice render` writes.
    The diff is always shown first; only what differs changes; objects gpuslice did not create
    are never altered or deleted.
    """
    from gpuslice.cloud.diff import diff
    from gpuslice.cloud.objects import load_desired
    from gpuslice.cloud.sdk import apply_diff, connect, read_snapshot
    from gpuslice.errors import InputError, ServiceUnreachableError

    desired = load_desired(source)
    opened = connect(cloud)
    changes = diff(desired.cloud, read_snapshot(opened))
    if not as_json:
        if changes.empty:
            console.print("no change: the cloud already holds the plan's cloud objects")
        else:
            console.print(f"{len(changes.changes)} change(s):")
            for change in changes.changes:
                console.print(f"  {change.text}", markup=False, soft_wrap=True)
        for conflict in changes.conflicts:
            console.print(f"  {conflict.text}", markup=False, soft_wrap=True)
    if dry_run or changes.empty:
        if as_json:
            print_json(
                {
                    "changes": [c.text for c in changes.changes],
                    "conflicts": [c.text for c in changes.conflicts],
                    "done": [],
                    "failed": None,
                    "not_done": [c.text for c in changes.changes],
                }
            )
        if dry_run and not as_json:
            console.print("dry run: nothing changed")
        if changes.conflicts:
            raise InputError(_conflicts_message(len(changes.conflicts)))
        return
    result = apply_diff(opened, changes)
    if as_json:
        print_json(
            {
                "changes": [c.text for c in changes.changes],
                "conflicts": [c.text for c in changes.conflicts],
                "done": [c.text for c in result.done],
                "failed": None
                if result.failed is None
                else {"change": result.failed[0].text, "error": result.failed[1]},
                "not_done": [c.text for c in result.not_done],
            }
        )
    elif result.failed is None:
        console.print(f"done: {len(result.done)} change(s) made")
    else:
        console.print(f"done ({len(result.done)}):")
        for change in result.done:
            console.print(f"  {change.text}", markup=False, soft_wrap=True)
        console.print("failed:")
        console.print(f"  {result.failed[0].text}", markup=False, soft_wrap=True)
        console.print(f"    {result.failed[1]}", markup=False, soft_wrap=True)
        console.print(f"not done ({len(result.not_done)}):")
        for change in result.not_done:
            console.print(f"  {change.text}", markup=False, soft_wrap=True)
    if result.failed is not None:
        msg = (
            f"apply stopped after {len(result.done)} of {len(changes.changes)} change(s); fix "
            "the cause and run `gpuslice apply` again to complete it"
        )
        raise ServiceUnreachableError(msg)
    if changes.conflicts:
        raise InputError(_conflicts_message(len(changes.conflicts)))


def _conflicts_message(count: int) -> str:
    return f"{count} conflict(s) left alone (marked ! above); resolve them and run apply again"
