"""Verdicts as data: what a check found on a host, its evidence and its fix.

A host is ready when no finding of any check fails; warnings are worth reading but do not stop
a GPU VM from booting today.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from gpuslice.releases import Release

Status = Literal["ok", "warn", "fail"]
Mode = Literal["passthrough", "vgpu"]
MODES: tuple[Mode, ...] = ("passthrough", "vgpu")


@dataclass(frozen=True)
class Fix:
    """What to change on a host, as data the fix renderer turns into files.

    `kernel_args` are added to the kernel command line and `remove_kernel_args` taken off it;
    `vfio_ids` go into `options vfio-pci ids=`; `softdeps` are modules that get
    `softdep <module> pre: vfio-pci`; `blacklist` are modules that must not load at all (nouveau
    on a vGPU host); `early_modules` go into the initramfs; `steps` are what no file can do
    (firmware settings, moving a card, installing a package).
    """

    kernel_args: tuple[str, ...] = ()
    remove_kernel_args: tuple[str, ...] = ()
    vfio_ids: tuple[str, ...] = ()
    softdeps: tuple[str, ...] = ()
    blacklist: tuple[str, ...] = ()
    early_modules: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The fix as JSON, without empty fields."""
        return {key: list(value) for key, value in asdict(self).items() if value}


@dataclass(frozen=True)
class Finding:
    """One verdict of one check: `subject` is what it is about (a GPU's address, or None)."""

    check: str
    status: Status
    message: str
    subject: str | None = None
    evidence: tuple[str, ...] = ()
    fix: Fix | None = None

    def to_json(self) -> dict[str, Any]:
        """The finding as JSON."""
        return {
            "check": self.check,
            "status": self.status,
            "subject": self.subject,
            "message": self.message,
            "evidence": list(self.evidence),
            "fix": None if self.fix is None else self.fix.to_json(),
        }


@dataclass(frozen=True)
class CardVfs:
    """A vGPU card whose type sits on its virtual functions (`vgpu_on: vfs`), as the fleet
    lists it: its address, its `vfs:` in order, how many of them the plan uses (the model's
    `vgpus_per_gpu`, one vGPU per VF) and the mdev type each must offer."""

    card: str
    vfs: tuple[str, ...]
    used: int
    mdev_type: str


@dataclass(frozen=True)
class CheckContext:
    """What the checks are told besides the snapshot (frozen; no check reads global state).

    `release` and `device_spec` come from a fleet file and its plan (None without one);
    `device_spec` holds the plan's passthrough specs for this host as parsed JSON objects;
    `fleet_gpus` the host's GPU addresses and `vendor:product` ids as the fleet lists them;
    `mdev_type` the vGPU type the host must offer; `variant_vfs` the listed GPUs that are VFs
    of a vendor vfio variant driver (`vfio_variant: true`); `card_vfs` the cards whose vGPUs
    sit on their VFs.
    """

    mode: Mode = "passthrough"
    release: Release | None = None
    device_spec: tuple[dict[str, str], ...] | None = None
    fleet_gpus: tuple[tuple[str, str | None], ...] | None = None
    mdev_type: str | None = None
    variant_vfs: tuple[str, ...] = ()
    card_vfs: tuple[CardVfs, ...] = ()


@dataclass(frozen=True)
class HostReport:
    """Every finding on one host, in check order."""

    host: str
    mode: Mode
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def ready(self) -> bool:
        """No finding fails."""
        return not any(f.status == "fail" for f in self.findings)

    def count(self, status: Status) -> int:
        """How many findings have `status`."""
        return sum(1 for f in self.findings if f.status == status)

    def to_json(self) -> dict[str, Any]:
        """The host's report as JSON."""
        return {
            "host": self.host,
            "mode": self.mode,
            "ready": self.ready,
            "findings": [f.to_json() for f in self.findings],
        }


def report_json(reports: tuple[HostReport, ...]) -> dict[str, Any]:
    """The `gpuslice doctor --json` document: every host, and whether all are ready."""
    return {
        "ready": all(r.ready for r in reports),
        "hosts": [r.to_json() for r in reports],
    }
