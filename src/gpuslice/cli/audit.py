"""`gpuslice audit --cloud NAME`: is the promise holding in a live cloud right now?"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gpuslice.cli.apply import cloud_option
from gpuslice.cli.common import console, print_json

if TYPE_CHECKING:
    from gpuslice.cloud.audit import AuditReport


@click.command("audit")
@cloud_option
@click.option(
    "--fleet",
    type=click.Path(path_type=Path, dir_okay=False),
    help="fleet file (or cloud-objects.json) to check inventories and aggregates against",
)
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option(
    "--prometheus",
    type=click.Path(path_type=Path, dir_okay=False),
    help="write node-exporter textfile metrics to this file (atomically, keeping its owner "
    "and mode; marked gpuslice_audit_success 0 when the audit cannot run)",
)
def audit_command(
    cloud: str | None, fleet: Path | None, as_json: bool, prometheus: Path | None
) -> None:
    """Report per GPU host: GPUs free, slice held and used, GPU flavors bootable, violations.

    Exits 1 when the promise is broken now.
    """
    from gpuslice.cloud import textfile
    from gpuslice.cloud.audit import prometheus_text
    from gpuslice.errors import GpusliceError, PromiseBrokenError

    if prometheus is not None:
        textfile.check_target(prometheus)
    try:
        report = _run_audit(cloud, fleet)
    except GpusliceError as error:
        if prometheus is not None:  # stale figures must not pass for current ones
            textfile.write_textfile(prometheus, textfile.failed_audit_text(str(error), time.time()))
        raise
    if prometheus is not None:
        metrics = textfile.succeeded_audit_text(prometheus_text(report), time.time())
        textfile.write_textfile(prometheus, metrics)
    if as_json:
        print_json(report.as_json())
    else:
        _print_report(report)
    if report.promise_broken:
        raise PromiseBrokenError(f"the promise is broken: {len(report.violations)} violation(s)")


def _run_audit(cloud: str | None, fleet: Path | None) -> AuditReport:
    from gpuslice.cloud.audit import Expected, audit
    from gpuslice.cloud.objects import load_desired
    from gpuslice.cloud.sdk import connect, read_snapshot

    expected = Expected()
    if fleet is not None:
        desired = load_desired(fleet)
        expected = Expected(desired.providers, desired.cloud, desired.aliases)
    return audit(read_snapshot(connect(cloud), for_audit=True), expected)


def _print_report(report: AuditReport) -> None:
    from rich.table import Table

    table = Table(title="GPU hosts")
    for column in (
        "host",
        "service",
        "GPUs",
        "free",
        "free per model",
        "slice held / used",
        "bootable",
    ):
        table.add_column(column)
    for h in report.hosts:
        held = ", ".join(
            f"{rc.removeprefix('CUSTOM_GPU_')} {h.slice_used.get(rc, 0)}/{n}"
            for rc, n in h.slice_held.items()
        )
        bootable = ", ".join(f"{f} {'yes' if ok else 'NO'}" for f, ok in h.bootable.items())
        table.add_row(
            h.name,
            h.service_host,
            "?" if h.gpus_total is None else str(h.gpus_total),
            "?" if h.gpus_free is None else str(h.gpus_free),
            ", ".join(f"{m} {c.free}/{c.total}" for m, c in h.models.items()) or "-",
            held or "-",
            bootable or "-",
        )
    console.print(table)
    if report.vgpu_cards:
        cards = Table(title="vGPU cards")
        for column in ("host", "card provider", "vGPUs used/all", "slice used/held", "bootable"):
            cards.add_column(column)
        for c in report.vgpu_cards:
            cards.add_row(
                c.host,
                c.provider,
                f"{c.vgpus_used}/{c.vgpus_total}",
                ", ".join(
                    f"{rc.removeprefix('CUSTOM_GPU_')} {c.slice_used.get(rc, 0)}/{n}"
                    for rc, n in c.slice_held.items()
                )
                or "none (slice missing)",
                ", ".join(f"{f} {'yes' if ok else 'NO'}" for f, ok in c.bootable.items()) or "-",
            )
        console.print(cards)
    if not report.gpu_flavors and not report.vgpu_cards:
        console.print("no GPU flavor (none asks for a pci_passthrough:alias)")
    for state in report.flavors:
        if not state.can_boot:
            console.print(f"  {state.message}", markup=False, soft_wrap=True)
    if report.violations:
        console.print(f"{len(report.violations)} violation(s):")
        for v in report.violations:
            where = f"{v.host}: " if v.host else ""
            console.print(f"  [{v.rule}] {where}{v.message}", markup=False, soft_wrap=True)
    else:
        console.print("the promise holds: no violation")
