"""`gpuslice discover`: list a host's passthrough GPUs, their companions and what was left out."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from gpuslice.cli.common import console, print_json
from gpuslice.errors import InputError
from gpuslice.inventory import Discovery, GpuDevice, discover_from_lspci, discover_from_sysfs


@click.command("discover")
@click.option(
    "--lspci",
    "lspci_file",
    metavar="FILE|-",
    help="Read an lspci capture (any form: plain, -nn, -nnk, -D, -v, -vmm, IOMMU group "
    "listings); `-` reads standard input.",
)
@click.option(
    "--sysfs",
    "sysfs_root",
    metavar="ROOT",
    type=click.Path(file_okay=False, path_type=Path),
    help="Read ROOT/sys/bus/pci/devices (default: this host, /).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def discover(lspci_file: str | None, sysfs_root: Path | None, as_json: bool) -> None:
    """List passthrough GPU candidates, their companion functions and what was left out."""
    if lspci_file is not None and sysfs_root is not None:
        msg = "give --lspci or --sysfs, not both"
        raise click.UsageError(msg)
    if lspci_file is not None:
        source = "<stdin>" if lspci_file == "-" else lspci_file
        result = discover_from_lspci(_read_text(lspci_file), source)
    else:
        result = discover_from_sysfs(sysfs_root or Path("/"))
    if as_json:
        print_json(result.to_json())
    else:
        _print_tables(result)


def _read_text(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        with open(name, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError as error:
        msg = f"cannot read the lspci capture: {error.strerror or error}"
        raise InputError(msg, source=name) from None


def _cell(value: object) -> Text:
    return Text("-" if value is None else str(value))


def _ids(device: GpuDevice) -> Text:
    return _cell(device.vendor_product)


def _device_table(
    title: str, devices: Sequence[tuple[GpuDevice, str | None]], with_gpu: bool
) -> Table:
    table = Table(title=title, title_justify="left")
    for header in ("address", "ids", "class", "vendor", "device", "driver", "group", "NUMA", "fn"):
        table.add_column(header)
    if with_gpu:
        table.add_column("with GPU")
    for device, gpu in devices:
        row = [
            _cell(device.address),
            _ids(device),
            _cell(device.class_id),
            _cell(device.vendor),
            _cell(device.device),
            _cell(device.driver),
            _cell(device.iommu_group),
            _cell(device.numa_node),
            _cell(device.function),
        ]
        if with_gpu:
            row.append(_cell(gpu))
        table.add_row(*row)
    return table


def _print_tables(result: Discovery) -> None:
    gpus = [(gpu, None) for gpu in result.gpus]
    console.print(_device_table(f"GPUs ({len(gpus)})", gpus, with_gpu=False))
    if result.companions:
        companions = [(item.device, item.companion_of) for item in result.companions]
        console.print(_device_table("Companions (go to vfio-pci with their GPU)", companions, True))
    if result.excluded:
        table = Table(title="Left out", title_justify="left")
        for header in ("address", "class", "vendor", "device", "reason"):
            table.add_column(header)
        for item in result.excluded:
            table.add_row(
                _cell(item.address),
                _cell(item.class_id),
                _cell(item.vendor),
                _cell(item.device),
                _cell(item.reason),
            )
        console.print(table)
    for warning in result.warnings:
        console.print(Text.assemble(("warning: ", "bold yellow"), warning), soft_wrap=True)
