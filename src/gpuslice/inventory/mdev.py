"""The vGPU (mdev) types a host's GPUs offer, read from sysfs (the thin edge that touches files).

For every entry of `sys/bus/pci/devices/` below `root` with a `mdev_supported_types/` directory,
each `<type>/` holds `name` (NVIDIA A10-4Q), `available_instances` (how many more the function
can create now), `device_api` (vfio-pci) and, on some drivers, `description`. A function with a
`physfn` link is a virtual function: from Ampere on NVIDIA offers vGPU types on the card's SR-IOV
VFs, one vGPU per VF, rather than on the card itself. The GPU a type belongs to is then the VF's
physical function.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from gpuslice import inputs
from gpuslice.errors import InputError
from gpuslice.inputs import link_name


@dataclass(frozen=True)
class MdevType:
    """One mdev type a function offers; values sysfs does not show are None."""

    type_id: str
    name: str | None = None
    available_instances: int | None = None
    device_api: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class MdevFunction:
    """A PCI function that offers mdev types: the GPU itself or one of its virtual functions.

    `gpu` is the physical GPU's address (the function itself, or its `physfn`).
    """

    address: str
    gpu: str
    function: Literal["physical", "virtual"]
    types: tuple[MdevType, ...]

    def to_json(self) -> dict[str, Any]:
        """The function as `gpuslice discover --json` lists it under `mdev`."""
        return {
            "address": self.address,
            "gpu": self.gpu,
            "function": self.function,
            "types": [asdict(t) for t in self.types],
        }


def read_mdev(root: Path) -> tuple[MdevFunction, ...]:
    """Every function below `root`/sys/bus/pci/devices that offers mdev types, by address.

    A missing devices directory is no functions (discover reports that elsewhere); a type file
    that is not text, too large, or a count that is not a number is an InputError naming it.
    """
    devices = root / "sys" / "bus" / "pci" / "devices"
    if not devices.is_dir():
        return ()
    found: list[MdevFunction] = []
    for entry in sorted(devices.iterdir()):
        types = read_mdev_types(entry)
        if not types:
            continue
        physfn = entry / "physfn"
        parent = link_name(physfn)
        found.append(
            MdevFunction(
                address=entry.name,
                gpu=parent or entry.name,
                function="virtual" if parent else "physical",
                types=types,
            )
        )
    return tuple(found)


def read_mdev_types(function_dir: Path) -> tuple[MdevType, ...]:
    """The mdev types under `function_dir`/mdev_supported_types, in name order (none: empty)."""
    types_dir = function_dir / "mdev_supported_types"
    if not types_dir.is_dir():
        return ()
    out: list[MdevType] = []
    for type_dir in sorted(p for p in types_dir.iterdir() if p.is_dir()):
        count = _read(type_dir / "available_instances")
        if count is not None and not count.isdigit():
            msg = f"expected a count of instances such as 4, found {count!r}"
            raise InputError(msg, source=str(type_dir / "available_instances"))
        out.append(
            MdevType(
                type_id=type_dir.name,
                name=_read(type_dir / "name"),
                available_instances=int(count) if count is not None else None,
                device_api=_read(type_dir / "device_api"),
                description=_read(type_dir / "description"),
            )
        )
    return tuple(out)


def vfs_by_gpu(functions: tuple[MdevFunction, ...]) -> dict[str, tuple[str, ...]]:
    """Per physical GPU, the virtual functions that offer mdev types, in address order: what
    a fleet lists under that GPU's `vfs:` for a model with `vgpu_on: vfs`."""
    found: dict[str, list[str]] = {}
    for item in functions:
        if item.function == "virtual":
            found.setdefault(item.gpu, []).append(item.address)
    return {gpu: tuple(sorted(vfs)) for gpu, vfs in sorted(found.items())}


def _read(path: Path) -> str | None:
    text = inputs.read_optional(path, inputs.SYSFS)
    return text.strip() or None if text is not None else None
