"""`gpuslice plan FLEET`: show how each host is carved, every option and why, cloud objects."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from gpuslice.cli.common import click_echo, console, print_json
from gpuslice.cpuset import format_cpuset
from gpuslice.fleet import STRATEGIES
from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan
from gpuslice.plan.serialize import plan_data
from gpuslice.plan.types import HostPlan, NodePlan, Plan

# Past this many hosts the hosts table is printed as plain aligned text (bench/bench_plan.py).
PLAIN_ROWS = 200
STRATEGY_CHOICES = click.Choice(list(STRATEGIES))


@click.command("plan")
@click.argument("fleet", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--strategy", type=STRATEGY_CHOICES, help="Override the fleet file's strategy.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan_command(fleet: Path, strategy: str | None, as_json: bool) -> None:
    """Show how each GPU host is carved and every setting gpuslice will make, with its rule."""
    plan = make_plan(load_fleet(fleet), strategy)
    if as_json:
        print_json(plan_data(plan))
        return
    show_plan(plan)


def show_plan(plan: Plan) -> None:
    """Print the plan as tables: hosts, options per node, cloud objects, notes."""
    console.print(
        f"[bold]Strategy {plan.strategy}[/] on {plan.release}: the promise [bold]{plan.promise}[/]."
    )
    title = "Hosts: total = host reserve + general part + GPU slice"
    columns = ("host", "GPUs", "vCPUs", "RAM MiB", "disk GiB", "general CPUs", "GPU CPUs")
    rows = [
        (
            h.host.name,
            "\n".join(
                f"{g.address} {g.vendor_product or '?'} {g.device or ''}".rstrip()
                for g in h.host.gpus
            )
            or "-",
            _carving(h, "vcpus"),
            _carving(h, "memory_mb"),
            _carving(h, "disk_gb"),
            format_cpuset(h.general_cpus) or "-",
            format_cpuset(h.gpu_cpus) or "-",
        )
        for h in plan.hosts
    ]
    if len(rows) > PLAIN_ROWS:
        click_echo(plain_table(title, columns, rows))
    else:
        hosts = Table(title=title)
        for column in columns:
            hosts.add_column(column)
        for row in rows:
            hosts.add_row(*row)
        console.print(hosts)
    for names, node in _alike(plan.nodes):
        table = Table(title=f"{_names(names)} ({node.role})", show_lines=False)
        for column in ("file", "option", "value", "why"):
            table.add_column(column, overflow="fold")
        for o in node.options:
            value = "\n".join(o.value) if isinstance(o.value, tuple) else o.value
            table.add_row(o.path, escape(f"[{o.section}] {o.name}"), escape(value), o.rule)
        for d in node.documents:
            table.add_row(d.path, "(whole file)", "", d.rule)
        console.print(table)
    cloud = Table(title="Cloud objects")
    cloud.add_column("kind")
    cloud.add_column("name")
    cloud.add_column("details", overflow="fold")
    for a in plan.cloud.aggregates:
        meta = ", ".join(f"{k}={v}" for k, v in a.metadata.items())
        cloud.add_row("aggregate", a.name, f"{meta}; hosts {_names(list(a.hosts))}")
    for f in plan.cloud.flavors:
        specs = ", ".join(f"{k}={v}" for k, v in f.extra_specs.items())
        access = "public" if f.is_public else "private"
        cloud.add_row(
            "flavor", f.name, f"{f.vcpus} vCPU, {f.ram} MiB, {f.disk} GiB, {access}; {specs}"
        )
    for rc in plan.cloud.resource_classes:
        cloud.add_row("resource class", rc, "")
    for trait in plan.cloud.traits:
        cloud.add_row("trait", trait, "")
    console.print(cloud)
    for note in plan.notes:
        console.print(f"[bold yellow]{note.topic}:[/] {note.text}")


def plain_table(title: str, columns: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    """`rows` as plain aligned text under `title` (a cell's lines joined by `; `): what the
    hosts table becomes past PLAIN_ROWS rows, where a drawn table takes seconds per thousand."""
    cells = [tuple(cell.replace("\n", "; ") for cell in row) for row in rows]
    widths = [
        max([len(column), *(len(row[i]) for row in cells)]) for i, column in enumerate(columns)
    ]

    def line(values: tuple[str, ...]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([title, line(columns), rule, *(line(row) for row in cells)])


def _alike(nodes: tuple[NodePlan, ...]) -> list[tuple[list[str], NodePlan]]:
    """Nodes with the same role, options and documents, shown once: (their names, the first).

    A fleet of thousands of like hosts gets one options table, not thousands of equal ones.
    """
    groups: dict[tuple[object, ...], tuple[list[str], NodePlan]] = {}
    for node in nodes:
        key = (node.role, node.options, _documents_key(node))
        if key in groups:
            groups[key][0].append(node.name)
        else:
            groups[key] = ([node.name], node)
    return list(groups.values())


def _documents_key(node: NodePlan) -> tuple[tuple[str, str, str], ...]:
    return tuple(
        (d.path, json.dumps(d.content, sort_keys=True, default=str), d.rule) for d in node.documents
    )


def _names(names: list[str]) -> str:
    if len(names) <= 5:
        return ", ".join(names)
    return f"{names[0]}, {names[1]} ... {names[-1]} ({len(names)} in all)"


def _carving(h: HostPlan, field: str) -> str:
    total, reserve, general, gpu = (
        getattr(r, field) for r in (h.total, h.reserve, h.general, h.gpu_slice)
    )
    return f"{total} = {reserve} + {general} + {gpu}"
