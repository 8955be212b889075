"""The registry of checks (one id -> class map, in the order they run) and the runner."""

from __future__ import annotations

from typing import Final

from gpuslice.doctor.checks.base import Check
from gpuslice.doctor.checks.binding import CompanionDrivers, GpuDriver, GroupIsolation
from gpuslice.doctor.checks.host import GpusPresent, KvmDevice, NumaNodeKnown
from gpuslice.doctor.checks.iommu import InterruptRemapping, IommuEnabled, IommuPassThrough
from gpuslice.doctor.checks.spec import DeviceSpecMatches
from gpuslice.doctor.checks.sriov import VariantDriver, VgpuVfs
from gpuslice.doctor.checks.vfio import VfioFirst, VfioIds, VfioInInitramfs
from gpuslice.doctor.checks.vgpu import MdevctlPresent, MdevTypes, VgpuHostDriver
from gpuslice.doctor.snapshot import HostSnapshot
from gpuslice.doctor.verdict import CheckContext, Finding, HostReport
from gpuslice.errors import InputError

CHECKS: Final[dict[str, type[Check]]] = {
    check.id: check
    for check in (
        GpusPresent,
        IommuEnabled,
        IommuPassThrough,
        InterruptRemapping,
        KvmDevice,
        GpuDriver,
        VariantDriver,
        CompanionDrivers,
        GroupIsolation,
        VfioIds,
        VfioFirst,
        VfioInInitramfs,
        VgpuHostDriver,
        MdevTypes,
        VgpuVfs,
        MdevctlPresent,
        DeviceSpecMatches,
        NumaNodeKnown,
    )
}


def select_checks(names: list[str] | None = None) -> tuple[Check, ...]:
    """The checks named (all of them, in registry order, when `names` is None or empty).

    An unknown name is an InputError listing the known ones.
    """
    if not names:
        return tuple(check() for check in CHECKS.values())
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        msg = f"unknown check {', '.join(unknown)}; known: {', '.join(CHECKS)}"
        raise InputError(msg, field="--check")
    return tuple(CHECKS[n]() for n in CHECKS if n in names)


def examine(
    host: HostSnapshot, context: CheckContext, checks: tuple[Check, ...] | None = None
) -> HostReport:
    """Run every check that applies to `context.mode` on `host`, in registry order."""
    findings: list[Finding] = []
    for check in checks if checks is not None else select_checks():
        if context.mode in check.modes:
            findings.extend(check.run(host, context))
    return HostReport(host.host, context.mode, tuple(findings))
