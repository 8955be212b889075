"""`gpuslice doctor` as a user runs it: tables, JSON, exit codes, --fix, --collect, fleets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gpuslice.cli import main
from tests.conftest import BRIGHT_LAB
from tests.doctor.helpers import LAB_SNAPSHOTS, SNAPSHOTS, copy_snapshot

FLEET = str(BRIGHT_LAB / "fleet-2025.1.yaml")


def test_ready_snapshot_exits_0_in_one_line_unless_all(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["doctor", "--root", str(SNAPSHOTS / "ready")]) == 0
    out = capsys.readouterr().out
    assert out.strip() == "gpu-ready (passthrough): ready, 0 fail, 0 warn, 12 ok"
    assert main(["doctor", "--root", str(SNAPSHOTS / "ready"), "--all"]) == 0
    out = capsys.readouterr().out
    assert "interrupt remapping on" in out
    assert "iommu-group" in out


def test_not_ready_exits_1_with_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--root", str(SNAPSHOTS / "nouveau-bound")]) == 1
    captured = capsys.readouterr()
    assert "NOT READY" in captured.out
    assert "softdep nouveau pre: vfio-pci" in captured.out
    assert "not ready: gpu-nouveau" in captured.err


def test_json_lists_findings(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor", "--root", str(SNAPSHOTS / "vgpu-no-driver"), "--mode", "vgpu", "--json"])
    assert code == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ready"] is False
    (host,) = data["hosts"]
    assert host["host"] == "vgpu-01"
    assert host["mode"] == "vgpu"
    driver = next(f for f in host["findings"] if f["check"] == "vgpu-driver")
    assert driver["status"] == "fail"
    assert driver["subject"] == "0000:86:00.0"
    assert driver["fix"]["steps"]


def test_a_bad_snapshot_exits_2_naming_file_and_offset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_snapshot("ready", tmp_path)
    (root / "etc/modprobe.d/vfio.conf").write_bytes(b"options vfio-pci ids=\xfe\n")
    assert main(["doctor", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "vfio.conf" in err
    assert "byte offset 21" in err
    (root / "etc/modprobe.d/vfio.conf").write_text("", encoding="utf-8")
    (root / "sys/bus/pci/devices/0000:86:00.0/class").write_text("VGA\n", encoding="utf-8")
    assert main(["doctor", "--root", str(root)]) == 2
    assert "class" in capsys.readouterr().err


def test_fleet_with_snapshots_writes_the_fix_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fix"
    code = main(["doctor", FLEET, "--snapshots", str(LAB_SNAPSHOTS), "--fix", str(out)])
    assert code == 1
    text = capsys.readouterr().out
    assert "hyper18 (passthrough): ready" in text
    assert "hyper16 (passthrough): NOT READY" in text
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == [
        ".gpuslice-render",  # the marker that lets the next --fix (or render) replace it
        "doctor-steps.txt",
        "gpuslice-doctor.cmsh",
        "hyper16/etc/default/grub.d/gpuslice-doctor.cfg",
        "hyper16/etc/dracut.conf.d/gpuslice-vfio.conf",
        "hyper16/etc/modprobe.d/gpuslice-vfio.conf",
    ]
    grub = (out / "hyper16/etc/default/grub.d/gpuslice-doctor.cfg").read_text()
    assert 'GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX} intel_iommu=on iommu=pt"' in grub
    modprobe = (out / "hyper16/etc/modprobe.d/gpuslice-vfio.conf").read_text()
    assert "options vfio-pci ids=10de:1024\nsoftdep nouveau pre: vfio-pci\n" in modprobe
    dracut = (out / "hyper16/etc/dracut.conf.d/gpuslice-vfio.conf").read_text()
    assert 'force_drivers+=" vfio vfio_iommu_type1 vfio_pci "' in dracut
    cmsh = (out / "gpuslice-doctor.cmsh").read_text()
    assert 'device use hyper16\nappend kernelparameters " intel_iommu=on iommu=pt"' in cmsh
    assert "hyper18" not in cmsh


def test_the_fix_file_uses_the_path_render_writes(tmp_path: Path) -> None:
    """render and doctor --fix put vfio-pci's options in the same file of the same tree."""
    rendered, fixed = tmp_path / "render", tmp_path / "fix"
    assert main(["render", FLEET, "--out", str(rendered)]) == 0
    main(["doctor", FLEET, "--snapshots", str(LAB_SNAPSHOTS), "--fix", str(fixed)])
    path = "hyper16/etc/modprobe.d/gpuslice-vfio.conf"
    assert (rendered / path).is_file()
    assert (fixed / path).is_file()
    ids = "options vfio-pci ids=10de:1024"
    assert ids in (rendered / path).read_text()
    assert ids in (fixed / path).read_text()


def test_a_fleet_host_without_snapshot_is_not_ready(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshots = tmp_path / "snaps"
    snapshots.mkdir()
    shutil.copytree(LAB_SNAPSHOTS / "hyper18", snapshots / "hyper18", symlinks=True)
    assert main(["doctor", FLEET, "--snapshots", str(snapshots), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    hosts = {h["host"]: h for h in data["hosts"]}
    assert set(hosts) == {"hyper18", "hyper16"}  # hyper20 has no GPU
    assert hosts["hyper18"]["ready"] is True
    assert hosts["hyper16"]["findings"][0]["check"] == "snapshot"


def test_collect_then_check_the_tarball(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "hyper16.tar.gz"
    assert main(["doctor", "--root", str(LAB_SNAPSHOTS / "hyper16"), "--collect", str(target)]) == 0
    assert "wrote a snapshot" in capsys.readouterr().out
    assert main(["doctor", "--root", str(target)]) == 1
    assert "hyper16 (passthrough): NOT READY" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--snapshots", "x"], "--snapshots needs a FLEET"),
        ([FLEET], "FLEET goes with --snapshots"),
        (["--check", "nope"], "unknown check nope"),
        (["--collect", "x", "--fix", "y"], "--collect takes only --root"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", *argv]) == 2
    assert message in capsys.readouterr().err


def test_only_the_named_checks_run(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["doctor", "--root", str(SNAPSHOTS / "iommu-off"), "--check", "kvm", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert [f["check"] for f in data["hosts"][0]["findings"]] == ["kvm"]


def test_fix_refuses_a_directory_it_did_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("keep me\n", encoding="utf-8")
    code = main(["doctor", "--root", str(SNAPSHOTS / "nouveau-bound"), "--fix", str(keep)])
    assert code == 2
    assert "--fix" in capsys.readouterr().err
    assert (keep / "notes.txt").read_text(encoding="utf-8") == "keep me\n"
    assert sorted(p.name for p in keep.iterdir()) == ["notes.txt"]
