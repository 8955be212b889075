"""`gpuslice doctor`: is each GPU host ready for passthrough or vGPU, and the fix when not.

A snapshot (`/` on the host, or a copy `--collect` makes) is read once into a `HostSnapshot`;
the checks in `registry.CHECKS` turn it into findings (verdicts with evidence and a fix, as
data); `fix.fix_files` renders the fixes into the tree layout `gpuslice render` uses.
"""

from gpuslice.doctor.collect import collect, opened
from gpuslice.doctor.fix import HostFix, fix_files, merge_fixes
from gpuslice.doctor.registry import CHECKS, examine, select_checks
from gpuslice.doctor.run import doctor_fleet, doctor_root
from gpuslice.doctor.snapshot import HostSnapshot, read_snapshot
from gpuslice.doctor.verdict import (
    MODES,
    CheckContext,
    Finding,
    Fix,
    HostReport,
    Mode,
    report_json,
)

__all__ = [
    "CHECKS",
    "MODES",
    "CheckContext",
    "Finding",
    "Fix",
    "HostFix",
    "HostReport",
    "HostSnapshot",
    "Mode",
    "collect",
    "doctor_fleet",
    "doctor_root",
    "examine",
    "fix_files",
    "merge_fixes",
    "opened",
    "read_snapshot",
    "report_json",
    "select_checks",
]
