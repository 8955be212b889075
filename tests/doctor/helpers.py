"""Fixture snapshots and a copy helper for tests that change one file of a snapshot."""

from __future__ import annotations

import shutil
from pathlib import Path

from gpuslice.doctor import CheckContext, HostReport, Mode, doctor_root
from tests.conftest import BRIGHT_LAB, TEST_DATA

SNAPSHOTS = TEST_DATA / "doctor"
LAB_SNAPSHOTS = BRIGHT_LAB / "snapshots"


def copy_snapshot(name: str, into: Path) -> Path:
    """A writable copy of fixture snapshot `name` (symlinks kept as symlinks)."""
    target = into / name
    shutil.copytree(SNAPSHOTS / name, target, symlinks=True)
    return target


def examine(root: Path, mode: Mode = "passthrough", mdev_type: str | None = None) -> HostReport:
    """The doctor's report on the snapshot at `root`."""
    return doctor_root(root, context=CheckContext(mode=mode, mdev_type=mdev_type))


def statuses(report: HostReport) -> dict[tuple[str, str | None], str]:
    """(check, subject) -> status of every finding."""
    return {(f.check, f.subject): f.status for f in report.findings}


def failing(report: HostReport) -> set[str]:
    """The ids of the checks with a failing finding."""
    return {f.check for f in report.findings if f.status == "fail"}
