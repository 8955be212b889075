"""Run the doctor on one snapshot or on every GPU host of a fleet (reads files, decides nothing).

With a fleet, each GPU host's snapshot is `SNAPSHOTS/<host>/` (a directory) or
`SNAPSHOTS/<host>.tar.gz`/`.tgz`; its context carries the fleet's release, the host's GPUs and
the passthrough specs the plan renders for it. Hosts without GPUs are not examined.
"""

from __future__ import annotations

import json
from pathlib import Path

from gpuslice.doctor.checks.base import Check
from gpuslice.doctor.collect import opened
from gpuslice.doctor.registry import examine
from gpuslice.doctor.snapshot import host_name, read_snapshot
from gpuslice.doctor.verdict import CardVfs, CheckContext, Finding, Fix, HostReport, Mode
from gpuslice.fleet import Fleet, Host
from gpuslice.plan.types import Plan


def doctor_root(
    root: Path,
    *,
    host: str | None = None,
    context: CheckContext | None = None,
    checks: tuple[Check, ...] | None = None,
) -> HostReport:
    """Examine the snapshot at `root` (a directory or a tar.gz; `/` is this host).

    The host's name is `host`, else the snapshot's etc/hostname, else the root's name.
    """
    with opened(root) as directory:
        default = root.name.removesuffix(".tar.gz").removesuffix(".tgz") or "localhost"
        name = host or host_name(directory, default)
        snapshot = read_snapshot(directory, name)
        return examine(snapshot, context or CheckContext(), checks)


def snapshot_path(snapshots: Path, host: str) -> Path | None:
    """Where the snapshot of `host` is below `snapshots`, or None when there is none."""
    for candidate in (host, f"{host}.tar.gz", f"{host}.tgz"):
        path = snapshots / candidate
        if path.exists():
            return path
    return None


def device_specs(plan: Plan, host: str) -> tuple[dict[str, str], ...]:
    """The passthrough specs the plan renders for `host`, parsed (any file of that node)."""
    section, name = plan.release.fact("passthrough_spec")
    specs: list[dict[str, str]] = []
    for node in plan.nodes:
        if node.name != host:
            continue
        for option in node.options:
            if (option.section, option.name) != (section, name):
                continue
            values = option.value if isinstance(option.value, tuple) else (option.value,)
            for value in values:
                parsed = json.loads(value)
                for item in parsed if isinstance(parsed, list) else [parsed]:
                    specs.append({str(k): str(v) for k, v in item.items()})
    return tuple(specs)


def host_context(plan: Plan, host: Host, mode: Mode | None, mdev_type: str | None) -> CheckContext:
    """The context of a fleet host: release, listed GPUs, rendered specs and what the GPUs are for.

    Without an explicit `mode`, a host with a GPU of a vGPU model (`mode: vgpu` in the fleet) is
    checked as a vGPU host, offering that model's mdev type unless `mdev_type` is given; any
    other host as a passthrough host. A host mixing both is checked as a vGPU host.
    """
    fleet: Fleet = plan.fleet
    vgpu_types = [
        model.vgpu.mdev_type for gpu in host.gpus if (model := fleet.model_of(gpu)).vgpu is not None
    ]
    host_mode: Mode = mode or ("vgpu" if vgpu_types else "passthrough")
    if host_mode == "vgpu" and mdev_type is None and vgpu_types:
        mdev_type = vgpu_types[0]
    variant = tuple(g.address for g in host.gpus if fleet.model_of(g).vfio_variant)
    return CheckContext(
        mode=host_mode,
        release=fleet.release,
        device_spec=device_specs(plan, host.name),
        fleet_gpus=tuple((g.address, g.vendor_product) for g in host.gpus),
        mdev_type=mdev_type,
        variant_vfs=variant,
        card_vfs=card_vfs(fleet, host),
    )


def card_vfs(fleet: Fleet, host: Host) -> tuple[CardVfs, ...]:
    """The host's cards whose model puts its vGPU type on the VFs, with their listed VFs."""
    found = []
    for gpu in host.gpus:
        spec = fleet.model_of(gpu).vgpu
        if spec is not None and spec.on == "vfs":
            vfs = host.vfs_of(gpu)
            found.append(CardVfs(gpu.address, vfs, spec.vgpus_per_gpu, spec.mdev_type))
    return tuple(found)


def doctor_fleet(
    plan: Plan,
    snapshots: Path,
    *,
    mode: Mode | None = None,
    mdev_type: str | None = None,
    checks: tuple[Check, ...] | None = None,
) -> tuple[HostReport, ...]:
    """Examine every GPU host of the plan's fleet from its snapshot below `snapshots`.

    `mode` None lets the fleet say per host (see `host_context`).

    A host without a snapshot is not ready (a finding saying where it was looked for).
    """
    reports = []
    for host in plan.fleet.gpu_hosts:
        context = host_context(plan, host, mode, mdev_type)
        path = snapshot_path(snapshots, host.name)
        if path is None:
            reports.append(_missing(host.name, context.mode, snapshots))
            continue
        reports.append(doctor_root(path, host=host.name, context=context, checks=checks))
    return tuple(reports)


def _missing(host: str, mode: Mode, snapshots: Path) -> HostReport:
    steps = (f"on {host}: gpuslice doctor --collect {host}.tar.gz, then copy it to {snapshots}/",)
    finding = Finding(
        "snapshot",
        "fail",
        f"no snapshot: neither {snapshots}/{host}/ nor {snapshots}/{host}.tar.gz",
        fix=Fix(steps=steps),
    )
    return HostReport(host, mode, (finding,))
