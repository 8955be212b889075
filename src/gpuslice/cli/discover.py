"""`gpuslice discover`: list a host's passthrough GPUs, their companions and what was left out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from gpuslice import inputs
from gpuslice.cli.common import console, print_json
from gpuslice.inventory import (
    Companion,
    Discovery,
    GpuDevice,
    discover_from_lspci,
    discover_from_sysfs,
)
from gpuslice.inventory.mdev import MdevFunction, read_mdev, vfs_by_gpu


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
    """List passthrough GPU candidates, their companion functions and what was left out.

    Reads this host's sysfs unless --lspci names a capture. Companions (a GPU's HDMI audio, USB
    and other functions in its slot or IOMMU group) must go to vfio-pci with their GPU. Exits 2
    when the input cannot be read, naming the file and line.
    """
    if lspci_file is not None and sysfs_root is not None:
        msg = "give --lspci or --sysfs, not both"
        raise click.UsageError(msg)
    if lspci_file is not None:
        source = "<stdin>" if lspci_file == "-" else lspci_file
        result = discover_from_lspci(_read_text(lspci_file), source)
    mdev: tuple[MdevFunction, ...] = ()
    if lspci_file is None:
        root = sysfs_root or Path("/")
        result = discover_from_sysfs(root)
        mdev = read_mdev(root)
    if as_json:
        print_json({**result.to_json(), "mdev": [item.to_json() for item in mdev]})
    else:
        _print_tables(result)
        if mdev:
            console.print(_mdev_table(mdev))
        for gpu, vfs in vfs_by_gpu(mdev).items():
            listed = ", ".join(f'"{vf}"' for vf in vfs)
            console.print(
                f"GPU {gpu} offers its vGPU types on its virtual functions: in the fleet file, "
                f"list it under gpus: with vfs: [{listed}] and give its model vgpu_on: vfs",
                markup=False,
            )


def _mdev_table(functions: Sequence[MdevFunction]) -> Table:
    """One row per vGPU type per function: what `mode: vgpu` models may name as mdev_type."""
    table = Table(title="vGPU (mdev) types", title_justify="left")
    table.add_column("function", no_wrap=True)
    table.add_column("GPU", no_wrap=True)
    table.add_column("mdev_type", no_wrap=True)
    table.add_column("name", ratio=1)
    table.add_column("available", justify="right")
    table.add_column("api", no_wrap=True)
    for item in functions:
        for t in item.types:
            table.add_row(
                _cell(item.address + (" (VF)" if item.function == "virtual" else "")),
                _cell(item.gpu),
                _cell(t.type_id),
                _cell(t.name),
                _cell(t.available_instances),
                _cell(t.device_api),
            )
    return table


def _read_text(name: str) -> str:
    """The capture named on the command line (`-`: standard input), bounded and UTF-8."""
    if name == "-":
        return inputs.read_stdin(inputs.CAPTURE)
    return inputs.read_text(name, inputs.CAPTURE)


def _cell(value: object) -> Text:
    return Text("-" if value is None else str(value))


def _names(vendor: str | None, device: str | None) -> Text:
    return _cell(" ".join(name for name in (vendor, device) if name) or None)


def _gpu_table(gpus: Sequence[GpuDevice]) -> Table:
    table = Table(title=f"GPUs ({len(gpus)})", title_justify="left")
    table.add_column("address", no_wrap=True)
    table.add_column("ids", no_wrap=True)
    table.add_column("device", ratio=1, min_width=16)
    table.add_column("driver")
    table.add_column("IOMMU", justify="right")
    table.add_column("NUMA", justify="right")
    table.add_column("type", no_wrap=True)
    for gpu in gpus:
        table.add_row(
            _cell(gpu.address),
            _cell(gpu.vendor_product),
            _cell(gpu.device or gpu.vendor),
            _cell(gpu.driver),
            _cell(gpu.iommu_group),
            _cell(gpu.numa_node),
            _nova_type(gpu),
        )
    return table


def _nova_type(gpu: GpuDevice) -> Text:
    """nova's device type without its `type-` prefix; `PCI/PF?` when the source cannot tell."""
    if gpu.device_type is not None:
        return Text(gpu.device_type.removeprefix("type-"))
    return Text("VF" if gpu.function == "virtual" else "PCI/PF?")


def _companion_table(companions: Sequence[Companion]) -> Table:
    table = Table(title="Companions (go to vfio-pci with their GPU)", title_justify="left")
    table.add_column("address", no_wrap=True)
    table.add_column("ids", no_wrap=True)
    table.add_column("class", no_wrap=True)
    table.add_column("device", ratio=1, min_width=16)
    table.add_column("driver")
    table.add_column("with GPU", no_wrap=True)
    for item in companions:
        device = item.device
        table.add_row(
            _cell(device.address),
            _cell(device.vendor_product),
            _cell(device.class_id),
            _cell(device.device or device.vendor),
            _cell(device.driver),
            _cell(item.companion_of),
        )
    return table


def _print_tables(result: Discovery) -> None:
    console.print(_gpu_table(result.gpus))
    if result.companions:
        console.print(_companion_table(result.companions))
    if result.excluded:
        table = Table(title="Left out", title_justify="left")
        table.add_column("address", no_wrap=True)
        table.add_column("class", no_wrap=True)
        table.add_column("vendor and device", ratio=1)
        table.add_column("reason", ratio=1)
        for item in result.excluded:
            table.add_row(
                _cell(item.address),
                _cell(item.class_id),
                _names(item.vendor, item.device),
                _cell(item.reason),
            )
        console.print(table)
    for warning in result.warnings:
        console.print(Text.assemble(("warning: ", "bold yellow"), warning), soft_wrap=True)
