"""The fix renderer: every failing or warning finding's fix, merged per host, as files.

The files take the paths they have on the host, below `<host>/`, as `gpuslice render` writes:
- `etc/default/grub.d/gpuslice-doctor.cfg`: kernel arguments to add (Debian's grub-mkconfig
  sources grub.d; the file names the grubby command for other distributions);
- `etc/modprobe.d/gpuslice-vfio.conf`: `options vfio-pci ids=`, `softdep ... pre: vfio-pci` and
  `blacklist` lines (the file `render` writes, with the same ids line);
- `etc/dracut.conf.d/gpuslice-vfio.conf`: the vfio modules loaded first in the initramfs;
and at the top, `gpuslice-doctor.cmsh` (Bright's kernel parameters per node) and
`doctor-steps.txt` (what no file does: firmware, packages, commands to run, per host).
A host with nothing to fix gets no files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from gpuslice.doctor.verdict import HostReport
from gpuslice.plan.types import VFIO_MODPROBE

GRUB_FILE: Final = "etc/default/grub.d/gpuslice-doctor.cfg"
DRACUT_FILE: Final = "etc/dracut.conf.d/gpuslice-vfio.conf"
CMSH_FILE: Final = "gpuslice-doctor.cmsh"
STEPS_FILE: Final = "doctor-steps.txt"


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True)
class HostFix:
    """The fixes of one host's findings merged: each argument, id, module and step once."""

    host: str
    kernel_args: tuple[str, ...] = ()
    remove_kernel_args: tuple[str, ...] = ()
    vfio_ids: tuple[str, ...] = ()
    softdeps: tuple[str, ...] = ()
    blacklist: tuple[str, ...] = ()
    early_modules: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing to change."""
        return not (
            self.kernel_args
            or self.remove_kernel_args
            or self.vfio_ids
            or self.softdeps
            or self.blacklist
            or self.early_modules
            or self.steps
        )


def merge_fixes(report: HostReport) -> HostFix:
    """The fixes of `report`'s findings that are not ok, merged in finding order."""
    fixes = [f.fix for f in report.findings if f.fix is not None and f.status != "ok"]
    return HostFix(
        host=report.host,
        kernel_args=_unique(a for f in fixes for a in f.kernel_args),
        remove_kernel_args=_unique(a for f in fixes for a in f.remove_kernel_args),
        vfio_ids=tuple(sorted({i for f in fixes for i in f.vfio_ids})),
        softdeps=tuple(sorted({m for f in fixes for m in f.softdeps})),
        blacklist=tuple(sorted({m for f in fixes for m in f.blacklist})),
        early_modules=_unique(m for f in fixes for m in f.early_modules),
        steps=_unique(s for f in fixes for s in f.steps),
    )


def fix_files(reports: Sequence[HostReport]) -> dict[str, str]:
    """Every fix file of `reports`, keyed by its path below the fix directory."""
    files: dict[str, str] = {}
    fixes = [fix for fix in (merge_fixes(r) for r in reports) if not fix.empty]
    for fix in fixes:
        if fix.kernel_args or fix.remove_kernel_args:
            files[f"{fix.host}/{GRUB_FILE}"] = render_grub(fix)
        if fix.vfio_ids or fix.softdeps or fix.blacklist:
            files[f"{fix.host}/{VFIO_MODPROBE}"] = render_modprobe(fix)
        if fix.early_modules:
            files[f"{fix.host}/{DRACUT_FILE}"] = render_dracut(fix)
    if any(f.kernel_args or f.remove_kernel_args or f.early_modules for f in fixes):
        files[CMSH_FILE] = render_cmsh(fixes)
    if fixes:
        files[STEPS_FILE] = render_steps(fixes)
    return dict(sorted(files.items()))


def render_grub(fix: HostFix) -> str:
    """A grub.d fragment adding the kernel arguments (and saying which to remove by hand)."""
    lines = [f"# Managed by gpuslice doctor: kernel arguments {fix.host} needs for GPU VMs."]
    added = " ".join(fix.kernel_args)
    removed = " ".join(fix.remove_kernel_args)
    grubby = []
    if added:
        grubby.append(f'--args="{added}"')
    if removed:
        grubby.append(f'--remove-args="{removed}"')
        lines.append(f"# Remove from GRUB_CMDLINE_LINUX in /etc/default/grub: {removed}")
    lines.append("# Then: update-grub (Debian, Ubuntu) and reboot. Without grub.d (RHEL and the")
    lines.append(f"# like): grubby --update-kernel=ALL {' '.join(grubby)}")
    if added:
        lines.append(f'GRUB_CMDLINE_LINUX="${{GRUB_CMDLINE_LINUX}} {added}"')
    return "\n".join(lines) + "\n"


def render_modprobe(fix: HostFix) -> str:
    """modprobe.d lines: vfio-pci's ids, and vfio-pci before each host driver."""
    lines = [
        f"# Managed by gpuslice doctor: the drivers {fix.host}'s GPUs and their companion "
        "functions need, first."
    ]
    if fix.vfio_ids:
        lines.append(f"options vfio-pci ids={','.join(fix.vfio_ids)}")
    lines.extend(f"softdep {module} pre: vfio-pci" for module in fix.softdeps)
    lines.extend(f"blacklist {module}" for module in fix.blacklist)
    return "\n".join(lines) + "\n"


def render_dracut(fix: HostFix) -> str:
    """A dracut.conf.d fragment loading the vfio modules first, in this order."""
    return (
        f"# Managed by gpuslice doctor: {fix.host} loads vfio-pci before any GPU driver.\n"
        "# Then: dracut -f (update-initramfs -u on Debian, with the modules in\n"
        "# /etc/initramfs-tools/modules) and reboot.\n"
        f'force_drivers+=" {" ".join(fix.early_modules)} "\n'
    )


def render_cmsh(fixes: Sequence[HostFix]) -> str:
    """A cmsh session appending each node's kernel parameters (Bright Cluster Manager)."""
    lines = [
        "# gpuslice doctor: kernel parameters for GPU VMs, per node.",
        "# Feed to cmsh on the head node: cmsh -f gpuslice-doctor.cmsh",
    ]
    for fix in fixes:
        if not (fix.kernel_args or fix.remove_kernel_args or fix.early_modules):
            continue
        lines.append("")
        lines.append(f"# {fix.host}")
        if fix.remove_kernel_args:
            removed = " ".join(fix.remove_kernel_args)
            lines.append(f"# remove from its kernel parameters by hand: {removed}")
        if fix.kernel_args:
            lines.append(f"device use {fix.host}")
            lines.append(f'append kernelparameters " {" ".join(fix.kernel_args)}"')
            lines.append("commit")
            lines.append("exit")
        if fix.early_modules:
            modules = ", ".join(fix.early_modules)
            lines.append(
                f"# its software image must load {modules} early: softwareimage use <image>;"
            )
            lines.append(
                "# kernelmodules; add vfio_pci; commit (Bright builds the initrd from them)"
            )
    return "\n".join(lines) + "\n"


def render_steps(fixes: Sequence[HostFix]) -> str:
    """Per host, what to do by hand and which files to install."""
    lines = ["gpuslice doctor: what each host needs besides the files below it.", ""]
    for fix in fixes:
        lines.append(f"{fix.host}:")
        files = []
        if fix.kernel_args or fix.remove_kernel_args:
            files.append(f"/{GRUB_FILE}")
        if fix.vfio_ids or fix.softdeps or fix.blacklist:
            files.append(f"/{VFIO_MODPROBE}")
        if fix.early_modules:
            files.append(f"/{DRACUT_FILE}")
        if files:
            lines.append(f"  - install {', '.join(files)} from {fix.host}/")
        lines.extend(f"  - {step}" for step in fix.steps)
        lines.append("")
    return "\n".join(lines)
