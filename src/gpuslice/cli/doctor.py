"""`gpuslice doctor`: is each GPU host ready for passthrough or vGPU, and what to change."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table
from rich.text import Text

from gpuslice.cli.common import console, print_json

if TYPE_CHECKING:
    from gpuslice.doctor import HostReport, Mode

_STYLE = {"ok": ("ok", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "bold red")}


@click.command("doctor")
@click.argument("fleet", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--root",
    type=click.Path(path_type=Path),
    help="A snapshot to examine: a directory or a .tar.gz (default: this host, /).",
)
@click.option(
    "--snapshots",
    type=click.Path(file_okay=False, path_type=Path),
    help="With FLEET: DIR/<host>/ or DIR/<host>.tar.gz for every GPU host.",
)
@click.option(
    "--collect",
    "collect_to",
    type=click.Path(path_type=Path),
    help="Write a snapshot of --root (default /) here instead of checking: a .tar.gz when "
    "the name ends so, else a directory.",
)
@click.option("--host", "host_name", help="The host's name (default: the snapshot's hostname).")
@click.option(
    "--mode",
    type=click.Choice(["passthrough", "vgpu"]),
    help="What the GPUs are for: whole-GPU passthrough or vGPU (mdev). Default: with a FLEET, "
    "what its GPU models say per host; else passthrough.",
)
@click.option("--mdev-type", help="vgpu: the mdev type each GPU must offer (nvidia-592).")
@click.option(
    "--fix",
    "fix_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the fixes here, per host, in the tree `render` writes (a new or empty "
    "directory, or an earlier render or fix, replaced whole).",
)
@click.option("--check", "check_names", multiple=True, help="Run only this check (repeatable).")
@click.option("--all", "show_all", is_flag=True, help="List the checks that pass too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def doctor_command(
    fleet: Path | None,
    root: Path | None,
    snapshots: Path | None,
    collect_to: Path | None,
    host_name: str | None,
    mode: str | None,
    mdev_type: str | None,
    fix_dir: Path | None,
    check_names: Sequence[str],
    show_all: bool,
    as_json: bool,
) -> None:
    """Say per GPU host whether a GPU VM can boot there, with the evidence and the fix.

    Checks the IOMMU, interrupt remapping, /dev/kvm, who holds each GPU and its companion
    functions, IOMMU group isolation, vfio-pci at boot (ids, order, initramfs), vGPU drivers and
    mdev types, the fleet's device_spec and NUMA nodes. Exits 1 when a host is not ready and
    2 on a bad snapshot.
    """
    from gpuslice.doctor import (
        CheckContext,
        collect,
        doctor_fleet,
        doctor_root,
        fix_files,
        report_json,
        select_checks,
    )
    from gpuslice.errors import InputError, PromiseBrokenError
    from gpuslice.render.tree import write_files

    doctor_mode: Mode | None = (
        None if mode is None else ("vgpu" if mode == "vgpu" else "passthrough")
    )
    if collect_to is not None:
        if fleet is not None or snapshots is not None or fix_dir is not None:
            raise InputError("--collect takes only --root", field="--collect")
        count = collect(root or Path("/"), collect_to)
        console.print(f"wrote a snapshot of {count} entries to {collect_to}")
        return
    checks = select_checks(list(check_names))
    if fleet is not None:
        if snapshots is None or root is not None or host_name is not None:
            raise InputError(
                "FLEET goes with --snapshots DIR (not --root or --host)", field="FLEET"
            )
        from gpuslice.fleetfile import load_fleet
        from gpuslice.plan import make_plan

        plan = make_plan(load_fleet(fleet))
        reports = doctor_fleet(
            plan, snapshots, mode=doctor_mode, mdev_type=mdev_type, checks=checks
        )
    else:
        if snapshots is not None:
            raise InputError("--snapshots needs a FLEET file", field="--snapshots")
        context = CheckContext(mode=doctor_mode or "passthrough", mdev_type=mdev_type)
        reports = (doctor_root(root or Path("/"), host=host_name, context=context, checks=checks),)
    if as_json:
        print_json(report_json(reports))
    else:
        for report in reports:
            _print_report(report, show_all=show_all)
    if fix_dir is not None:
        files = fix_files(reports)
        if files:
            try:
                write_files(files, fix_dir)
            except InputError as error:  # render's writer names its own option
                raise InputError(error.detail, source=error.source, field="--fix") from None
            if not as_json:
                console.print(f"wrote {len(files)} fix files below {fix_dir}")
        elif not as_json:
            console.print("nothing to fix: no file written")
    not_ready = [r.host for r in reports if not r.ready]
    if not_ready:
        raise PromiseBrokenError(f"not ready: {', '.join(not_ready)}")


def _print_report(report: HostReport, *, show_all: bool) -> None:
    """The host's line, its warnings and failures (every finding with `show_all`), its fix."""
    from gpuslice.doctor import merge_fixes

    fails, warns, oks = report.count("fail"), report.count("warn"), report.count("ok")
    state = Text("ready", style="green") if report.ready else Text("NOT READY", style="bold red")
    title = Text.assemble(
        (report.host, "bold"),
        f" ({report.mode}): ",
        state,
        f", {fails} fail, {warns} warn, {oks} ok",
    )
    shown = [f for f in report.findings if show_all or f.status != "ok"]
    if not shown:
        console.print(title)
        return
    table = Table(title=title, title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("subject", no_wrap=True)
    table.add_column("finding", ratio=1)
    for finding in shown:
        word, style = _STYLE[finding.status]
        text = Text(finding.message)
        if finding.status != "ok":
            for line in finding.evidence:
                text.append(f"\n  {line}", style="dim")
        table.add_row(finding.check, Text(word, style=style), finding.subject or "", text)
    console.print(table)
    fix = merge_fixes(report)
    if fix.empty:
        return
    console.print(Text("fix:", style="bold"))
    if fix.kernel_args:
        console.print(f"  kernel arguments: add {' '.join(fix.kernel_args)}", soft_wrap=True)
    if fix.remove_kernel_args:
        removed = " ".join(fix.remove_kernel_args)
        console.print(f"  kernel arguments: remove {removed}", soft_wrap=True)
    if fix.vfio_ids:
        console.print(
            f"  modprobe.d: options vfio-pci ids={','.join(fix.vfio_ids)}", soft_wrap=True
        )
    for module in fix.softdeps:
        console.print(f"  modprobe.d: softdep {module} pre: vfio-pci", soft_wrap=True)
    for module in fix.blacklist:
        console.print(f"  modprobe.d: blacklist {module}", soft_wrap=True)
    if fix.early_modules:
        console.print(f"  initramfs: load {' '.join(fix.early_modules)} first", soft_wrap=True)
    for step in fix.steps:
        console.print(f"  - {step}", soft_wrap=True, markup=False)
