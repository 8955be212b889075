"""Variants of the fixture hosts, one file changed each: every rule says what changed."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from gpuslice.doctor import CheckContext, doctor_fleet, doctor_root, merge_fixes
from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan
from gpuslice.releases import parse_release
from tests.conftest import BRIGHT_LAB
from tests.doctor.helpers import LAB_SNAPSHOTS, copy_snapshot, examine, failing, statuses


def _cmdline(root: Path, text: str) -> None:
    (root / "proc/cmdline").write_text(text + "\n", encoding="utf-8")


def test_a_blacklist_on_the_command_line_orders_vfio_first(tmp_path: Path) -> None:
    root = copy_snapshot("audio-on-snd-hda-intel", tmp_path)
    _cmdline(root, "ro intel_iommu=on iommu=pt modprobe.blacklist=snd_hda_intel")
    found = statuses(examine(root))
    assert found[("vfio-order", "snd_hda_intel")] == "ok"


def test_a_driverctl_override_binds_by_address(tmp_path: Path) -> None:
    root = copy_snapshot("audio-on-snd-hda-intel", tmp_path)
    (root / "etc/driverctl.d").mkdir()
    (root / "etc/driverctl.d/pci-0000:86:00.1").write_text("vfio-pci\n", encoding="utf-8")
    assert statuses(examine(root))[("vfio-ids", None)] == "ok"


def test_intremap_off_fails_and_is_removed_by_the_fix(tmp_path: Path) -> None:
    root = copy_snapshot("ready", tmp_path)
    _cmdline(root, "ro intel_iommu=on iommu=pt intremap=off")
    report = examine(root)
    assert failing(report) == {"interrupt-remapping"}
    assert merge_fixes(report).remove_kernel_args == ("intremap=off",)


def test_unsafe_interrupts_without_remapping_is_a_warning(tmp_path: Path) -> None:
    root = copy_snapshot("ready", tmp_path)
    interrupts = root / "proc/interrupts"
    interrupts.write_text(interrupts.read_text().replace("IR-", ""), encoding="utf-8")
    assert statuses(examine(root))[("interrupt-remapping", None)] == "fail"
    flag = root / "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts"
    flag.write_text("Y\n", encoding="utf-8")
    assert statuses(examine(root))[("interrupt-remapping", None)] == "warn"


def test_an_amd_host_gets_no_intel_argument_and_loses_amd_iommu_off(tmp_path: Path) -> None:
    """The kernel's amd_iommu= has no `on`: on AMD the fix is the firmware, or dropping `off`."""
    root = copy_snapshot("iommu-off", tmp_path)
    (root / "sys/bus/pci/devices/0000:00:00.0/vendor").write_text("0x1022\n", encoding="utf-8")
    _cmdline(root, "ro amd_iommu=off")
    fix = merge_fixes(examine(root))
    assert fix.kernel_args == ("iommu=pt",)
    assert fix.remove_kernel_args == ("amd_iommu=off",)
    assert any("firmware" in step for step in fix.steps)


def test_no_dev_kvm_fails(tmp_path: Path) -> None:
    root = copy_snapshot("ready", tmp_path)
    (root / "dev/kvm").unlink()
    assert failing(examine(root)) == {"kvm"}


def test_unknown_numa_node_warns_on_a_two_node_host_only(tmp_path: Path) -> None:
    root = copy_snapshot("ready", tmp_path)
    (root / "sys/bus/pci/devices/0000:86:00.0/numa_node").write_text("-1\n", encoding="utf-8")
    assert statuses(examine(root))[("numa", "0000:86:00.0")] == "warn"
    (root / "sys/devices/system/node/online").write_text("0\n", encoding="utf-8")
    assert statuses(examine(root))[("numa", "0000:86:00.0")] == "ok"


def test_missing_items_are_verdicts_not_crashes(tmp_path: Path) -> None:
    root = tmp_path / "bare"
    (root / "proc").mkdir(parents=True)
    report = doctor_root(root, host="bare")
    assert failing(report) == {"gpus", "iommu", "kvm"}
    found = statuses(report)
    assert found[("iommu-pt", None)] == "warn"
    assert found[("interrupt-remapping", None)] == "warn"


def test_a_gpu_bound_now_without_boot_config_is_a_warning(tmp_path: Path) -> None:
    root = copy_snapshot("ready", tmp_path)
    (root / "etc/modprobe.d/vfio.conf").unlink()
    report = examine(root)
    assert report.ready
    found = statuses(report)
    assert found[("vfio-ids", None)] == "warn"
    assert found[("vfio-order", "nouveau")] == "warn"  # loaded, holds nothing now


def test_mdevctl_follows_the_release(tmp_path: Path) -> None:
    root = copy_snapshot("vgpu-ready", tmp_path)
    (root / "usr/sbin/mdevctl").unlink()
    for release, expected in (("2024.1", "ok"), ("2024.2", "fail")):
        context = CheckContext(mode="vgpu", release=parse_release(release))
        assert statuses(doctor_root(root, context=context))[("mdevctl", None)] == expected


def test_fleet_device_spec_mismatch(tmp_path: Path) -> None:
    fleet = load_fleet(BRIGHT_LAB / "fleet-2025.1.yaml")
    snapshots = tmp_path / "snapshots"
    shutil.copytree(LAB_SNAPSHOTS, snapshots, symlinks=True)
    device = snapshots / "hyper18/sys/bus/pci/devices/0000:86:00.0/device"
    device.write_text("0x1023\n", encoding="utf-8")  # a K40m where the fleet says K40c
    reports = {r.host: r for r in doctor_fleet(make_plan(fleet), snapshots)}
    spec = [f for f in reports["hyper18"].findings if f.check == "device-spec"]
    assert {f.status for f in spec} == {"fail", "warn"}
    assert any("10de:1024" in f.message and "10de:1023" in f.message for f in spec)


def test_vfio_pci_built_in_with_ids_on_the_command_line(tmp_path: Path) -> None:
    root = copy_snapshot("ready", tmp_path)
    modules = root / "proc/modules"
    kept = [line for line in modules.read_text().splitlines() if not line.startswith("vfio_pci ")]
    modules.write_text("\n".join(kept) + "\n", encoding="utf-8")
    (root / "sys/bus/pci/drivers/vfio-pci").mkdir(parents=True)
    (root / "etc/modprobe.d/vfio.conf").unlink()
    (root / "etc/dracut.conf.d/vfio.conf").unlink()
    _cmdline(root, "ro intel_iommu=on iommu=pt vfio-pci.ids=10de:2230,10de:1aef")
    report = examine(root)
    found = statuses(report)
    assert found[("vfio-initramfs", None)] == "ok"
    assert found[("vfio-ids", None)] == "ok"
    order = next(f for f in report.findings if f.check == "vfio-order")
    assert order.status == "ok"
    assert "built in" in order.evidence[0]


def test_a_host_without_gpus_says_so_once(tmp_path: Path) -> None:
    root = copy_snapshot("ready", tmp_path)
    for function in ("0000:86:00.0", "0000:86:00.1"):
        shutil.rmtree(root / "sys/bus/pci/devices" / function)
    report = examine(root)
    assert failing(report) == {"gpus"}
    assert {f.check for f in report.findings} == {
        "gpus",
        "iommu",
        "iommu-pt",
        "interrupt-remapping",
        "kvm",
    }


def test_a_card_function_behind_its_own_switch_is_a_companion_not_a_stranger(
    tmp_path: Path,
) -> None:
    """An NVIDIA function on another bus in the GPU's group is the card's: vfio-pci takes it."""
    root = copy_snapshot("ready", tmp_path)
    devices = root / "sys/bus/pci/devices"
    (devices / "0000:86:00.1").rename(devices / "0000:87:00.0")
    member = root / "sys/kernel/iommu_groups/40/devices"
    (member / "0000:86:00.1").unlink()
    (member / "0000:87:00.0").symlink_to("../../../../bus/pci/devices/0000:87:00.0")
    (devices / "0000:87:00.0/driver").unlink()
    (devices / "0000:87:00.0/driver").symlink_to("../../../../bus/pci/drivers/snd_hda_intel")
    report = examine(root)
    found = statuses(report)
    assert found[("iommu-group", "0000:86:00.0")] == "ok"
    assert found[("companion-driver", "0000:86:00.0")] == "fail"
    companion = next(f for f in report.findings if f.check == "companion-driver")
    assert "0000:87:00.0 on snd_hda_intel" in companion.message


def test_an_initramfs_tools_host_gets_a_step_not_a_dracut_file(tmp_path: Path) -> None:
    root = copy_snapshot("nouveau-bound", tmp_path)
    (root / "etc/dracut.conf").unlink()
    (root / "etc/initramfs-tools").mkdir(parents=True)
    (root / "etc/initramfs-tools/modules").write_text("# modules\n", encoding="utf-8")
    report = examine(root)
    finding = next(f for f in report.findings if f.check == "vfio-initramfs")
    assert "initramfs-tools" in finding.message
    fix = merge_fixes(report)
    assert fix.early_modules == ()
    assert any("/etc/initramfs-tools/modules" in step for step in fix.steps)
    (root / "etc/initramfs-tools/modules").write_text("vfio\nvfio_pci\n", encoding="utf-8")
    assert statuses(examine(root))[("vfio-initramfs", None)] == "ok"


def test_a_gpu_the_fleet_leaves_to_the_host_is_not_judged(
    tmp_path: Path, write_fleet: Callable[[str], Path]
) -> None:
    """hyper16's fleet entry lists its K40c; a T4 on nouveau beside it stays the host's."""
    snapshots = tmp_path / "snapshots"
    shutil.copytree(LAB_SNAPSHOTS / "hyper18", snapshots / "hyper16", symlinks=True)
    t4 = snapshots / "hyper16/sys/bus/pci/devices/0000:3b:00.0"
    t4.mkdir()
    for name, text in (("vendor", "0x10de"), ("device", "0x1eb8"), ("class", "0x030200")):
        (t4 / name).write_text(text + "\n", encoding="utf-8")
    (t4 / "numa_node").write_text("0\n", encoding="utf-8")
    (t4 / "driver").symlink_to("../../../../bus/pci/drivers/nouveau")
    fleet = (BRIGHT_LAB / "fleet-2025.1.yaml").read_text(encoding="utf-8")
    plan = make_plan(load_fleet(write_fleet(fleet.replace("captures/", f"{BRIGHT_LAB}/captures/"))))
    reports = {r.host: r for r in doctor_fleet(plan, snapshots)}
    hyper16 = reports["hyper16"]
    assert hyper16.ready, [f for f in hyper16.findings if f.status == "fail"]
    assert all(f.subject != "0000:3b:00.0" or f.check == "device-spec" for f in hyper16.findings)
    spec = [f for f in hyper16.findings if f.check == "device-spec"]
    assert [(f.status, f.subject) for f in spec] == [("warn", "0000:3b:00.0")]
