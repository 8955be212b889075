"""`gpuslice verify FLEET`: boot the rendered plan on real Nova (in-process) and check the promise.

Needs the `nova` extra; nova is imported only when the command runs.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from gpuslice.cli.common import SafeConsole, click_echo, console, console_err
from gpuslice.cli.plan import STRATEGY_CHOICES
from gpuslice.errors import InputError, PromiseBrokenError
from gpuslice.fleetfile import load_fleet
from gpuslice.twin.client import verify_in_child

NEEDS_NOVA = (
    "gpuslice verify runs real Nova in-process and needs the nova extra: "
    "pip install 'gpuslice[nova]' (nova 34.0.0, openstack-placement 16.0.0 and nova's test harness)"
)


@click.command("verify")
@click.argument("fleet", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--rendered",
    type=click.Path(file_okay=False, path_type=Path),
    help="Verify these rendered files (a `gpuslice render --out` directory) instead of "
    "rendering the plan in memory; the fleet still gives the hardware.",
)
@click.option("--strategy", type=STRATEGY_CHOICES, help="Override the fleet file's strategy.")
@click.option("--host", "hosts", multiple=True, help="Only this GPU host (repeatable).")
@click.option(
    "--compare-model",
    is_flag=True,
    help="Also replay one request sequence on nova and on the embedded model, per host.",
)
@click.option(
    "--requests",
    type=click.IntRange(1, 5000),
    default=200,
    show_default=True,
    help="With --compare-model: how many boots and deletes.",
)
@click.option(
    "--hosts",
    "multi",
    type=click.IntRange(2, 256),
    help="With --compare-model: clone the first (or --host) GPU host this many times under one "
    "nova (or, with --mix, every host in turn) and compare lock-step and free-running, host by "
    "host (instead of the per-host runs).",
)
@click.option(
    "--mix",
    is_flag=True,
    help="With --hosts: copies of every host of the fleet in turn (GPU and plain hosts, each "
    "with its own nova.conf) instead of one GPU host; requests draw every GPU flavor.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the sequence.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def verify_command(
    fleet: Path,
    rendered: Path | None,
    strategy: str | None,
    hosts: tuple[str, ...],
    compare_model: bool,
    requests: int,
    multi: int | None,
    mix: bool,
    seed: int,
    as_json: bool,
) -> None:
    """Boot the plan on real Nova 34 and check the promise on every GPU host (exit 1 if broken)."""
    if multi is not None and not compare_model:
        raise InputError("--hosts needs --compare-model", field="--hosts")
    if mix and multi is None:
        raise InputError("--mix needs --hosts N (and --compare-model)", field="--mix")
    if importlib.util.find_spec("nova") is None:
        raise InputError(NEEDS_NOVA)
    load_fleet(fleet)  # bad input fails here, before nova starts
    # nova runs in a child process that imports it first (eventlet); this one never does.
    report = verify_in_child(
        fleet,
        strategy=strategy,
        rendered=rendered,
        hosts=hosts,
        compare=requests if compare_model else 0,
        seed=seed,
        multi=multi or 0,
        mix=mix,
    )
    if as_json:
        click_echo(json.dumps(report.as_dict(), indent=2, sort_keys=True))
    else:
        table = Table(title="gpuslice verify on real nova 34 (in-process)", show_lines=True)
        for column in ("host", "strategy", "step", "expected", "seen", ""):
            table.add_column(column)
        for row in report.rows:
            mark = "[green]ok[/]" if row.ok else "[bold red]MISMATCH[/]"
            cells = (row.host, row.strategy, row.step, row.expected, row.seen)
            table.add_row(*(escape(cell) for cell in cells), mark)
        wide = SafeConsole(highlight=False, width=max(console.width, 180))
        wide.print(table)
        for note in report.notes:
            console.print(f"note: {escape(note)}", soft_wrap=True)
        for host, seconds in report.run_seconds.items():
            console_err.print(f"{host}: real-nova run took {seconds:.1f} s")
    if not report.ok:
        bad = report.mismatches
        msg = f"{len(bad)} of {len(report.rows)} steps did not see what the promise expects"
        raise PromiseBrokenError(msg)
