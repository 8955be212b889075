"""Rendered files merged into an operator's own: which lines are gpuslice's, which a run applies.

`gpuslice verify --rendered DIR` may be pointed at the nova.conf files a host really has:
gpuslice's options merged into the operator's (`[DEFAULT] debug`, `transport_url`,
`[database] connection`, `[keystone_authtoken]`, an SR-IOV NIC's `[pci] device_spec`, ...).
Pure: the keys gpuslice wrote come from rendering the same plan in memory.

Rules:
- an option (section, name) that gpuslice's own render of that file sets is gpuslice's; every
  other is the operator's;
- findings on gpuslice's options keep their weight (an unknown option or a bad value is an
  error); findings on the operator's are warnings: nova ignores options it does not know, and
  verify judges the plan, not the operator's other settings;
- a run applies gpuslice's options, and of the operator's those that shape scheduling and
  PCI passthrough (`APPLIED_SECTIONS`, `APPLIED_DEFAULTS`); connections, credentials, logging
  and paths stay as written and are listed, since the in-process nova has its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Final

from gpuslice.twin.confcheck import ConfFinding
from gpuslice.twin.ini import ConfEntry

Key = tuple[str, str]

APPLIED_SECTIONS: Final = frozenset(
    {"pci", "filter_scheduler", "scheduler", "compute", "workarounds"}
)
APPLIED_DEFAULTS: Final = frozenset(
    {
        "cpu_allocation_ratio",
        "ram_allocation_ratio",
        "disk_allocation_ratio",
        "initial_cpu_allocation_ratio",
        "initial_ram_allocation_ratio",
        "initial_disk_allocation_ratio",
        "reserved_host_cpus",
        "reserved_host_memory_mb",
        "reserved_host_disk_mb",
        "reserved_huge_pages",
        "vcpu_pin_set",
    }
)
_SHOWN: Final = 12


def keys_of(entries: Iterable[ConfEntry]) -> frozenset[Key]:
    """The (section, option) pairs `entries` set."""
    return frozenset((entry.section, entry.name) for entry in entries)


def weigh_findings(findings: Sequence[ConfFinding], own: frozenset[Key]) -> list[ConfFinding]:
    """`findings` with those on options gpuslice did not write (`own`) made warnings."""
    out: list[ConfFinding] = []
    for finding in findings:
        entry = finding.entry
        if finding.fatal and (entry.section, entry.name) not in own:
            finding = dataclasses.replace(
                finding,
                text=f"{finding.text} (not written by gpuslice: nova ignores or reads it as the "
                "operator left it)",
                fatal=False,
            )
        out.append(finding)
    return out


def is_applied(entry: ConfEntry, own: frozenset[Key]) -> bool:
    """Whether a run applies `entry`: gpuslice's, or the operator's in a scheduling section."""
    key = (entry.section, entry.name)
    if key in own:
        return True
    if entry.section == "DEFAULT":
        return entry.name in APPLIED_DEFAULTS
    return entry.section in APPLIED_SECTIONS


def split_applied(
    entries: Sequence[ConfEntry], own: frozenset[Key]
) -> tuple[list[ConfEntry], list[ConfEntry]]:
    """(applied, kept as written): `entries` split by `is_applied`, each in file order."""
    applied = [entry for entry in entries if is_applied(entry, own)]
    kept = [entry for entry in entries if not is_applied(entry, own)]
    return applied, kept


def kept_note(path: str, kept: Sequence[ConfEntry]) -> str | None:
    """One line naming the operator's options a run leaves out of `path`, or None if none."""
    if not kept:
        return None
    names = list(dict.fromkeys(f"[{e.section}] {e.name}" for e in kept))
    shown = ", ".join(names[:_SHOWN]) + (
        f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    )
    return (
        f"{path}: {len(names)} option(s) gpuslice did not write kept as written, not applied "
        f"in the run (connections, credentials, logging, paths): {shown}"
    )
