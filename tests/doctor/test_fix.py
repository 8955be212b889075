"""The fix tree: what it holds, and that installing it clears the findings it addresses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gpuslice.doctor import HostReport, fix_files, merge_fixes
from gpuslice.doctor.fix import GRUB_FILE, STEPS_FILE
from gpuslice.plan.types import VFIO_MODPROBE
from tests.doctor.helpers import SNAPSHOTS, copy_snapshot, examine

#: What the files and a reboot's new command line settle (the binding itself needs the reboot).
BOOT_CONFIG = {"vfio-ids", "vfio-order", "vfio-initramfs", "iommu-pt"}


def _install(report: HostReport, root: Path) -> None:
    """Copy the host's fix files into the snapshot, and add the grub arguments to its cmdline."""
    prefix = f"{report.host}/"
    for name, text in fix_files([report]).items():
        if not name.startswith(prefix):
            continue
        relative = name.removeprefix(prefix)
        if relative == GRUB_FILE:
            added = re.search(r'GRUB_CMDLINE_LINUX="\$\{GRUB_CMDLINE_LINUX\} (.*)"', text)
            assert added is not None
            cmdline = root / "proc/cmdline"
            cmdline.write_text(f"{cmdline.read_text().strip()} {added[1]}\n", encoding="utf-8")
            continue
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    "name", ["iommu-off", "nouveau-bound", "audio-on-snd-hda-intel", "shared-iommu-group"]
)
def test_installing_the_fix_clears_every_boot_configuration_finding(
    tmp_path: Path, name: str
) -> None:
    root = copy_snapshot(name, tmp_path)
    before = examine(root)
    _install(before, root)
    after = examine(root)
    left = [f for f in after.findings if f.check in BOOT_CONFIG and f.status != "ok"]
    assert left == []
    assert all(f.status == "ok" for f in after.findings if f.check == "vfio-order")


def test_the_vfio_ids_line_keeps_ids_the_host_had(tmp_path: Path) -> None:
    """The rendered `options vfio-pci ids=` replaces the host's: it lists every device."""
    report = examine(copy_snapshot("audio-on-snd-hda-intel", tmp_path))
    text = fix_files([report])[f"gpu-audio/{VFIO_MODPROBE}"]
    assert "options vfio-pci ids=10de:1aef,10de:2230\n" in text
    assert "softdep snd_hda_intel pre: vfio-pci\n" in text


def test_vgpu_fix_blacklists_nouveau_and_names_the_driver_to_install(tmp_path: Path) -> None:
    report = examine(copy_snapshot("vgpu-no-driver", tmp_path), mode="vgpu")
    fix = merge_fixes(report)
    assert fix.blacklist == ("nouveau",)
    assert not fix.vfio_ids
    files = fix_files([report])
    assert "blacklist nouveau\n" in files[f"vgpu-01/{VFIO_MODPROBE}"]
    assert "vGPU Manager" in files[STEPS_FILE]


def test_a_ready_host_gets_no_files() -> None:
    assert fix_files([examine(SNAPSHOTS / "ready")]) == {}
