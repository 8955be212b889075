"""SR-IOV vGPU hosts in fleet mode: variant VFs (`vfio_variant`) and `vgpu_on: vfs` cards.

Snapshots: `vfio-variant-ready` (an A10's four VFs on nvidia_vgpu_vfio, the card on nvidia,
sriov_numvfs 4) and `vgpu-ready` (the same card's VFs offering nvidia-592), changed per test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gpuslice.doctor import HostReport, doctor_fleet
from gpuslice.errors import InputError
from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan
from tests.doctor.helpers import SNAPSHOTS, examine, failing

DEVICES = "sys/bus/pci/devices"
_HOST = "    cpus: 64\n    memory_mb: 524288\n    disk_gb: 1920\n"
_VARIANT = f"""\
release: "2025.1"
strategy: placement
slice: {{vcpus: 4, memory_mb: 16384, disk_gb: 40}}
controllers: [ctl1]
gpu_models:
  - {{vendor_id: "10de", product_id: "2236", alias: a10-vf, device_type: type-VF,
     vfio_variant: true, slice: {{vcpus: 4, memory_mb: 16384, disk_gb: 40}}}}
hosts:
  - name: vf-01
{_HOST}    gpus:
GPUS
"""
_ON_VFS = f"""\
release: "2025.1"
strategy: placement
slice: {{vcpus: 4, memory_mb: 16384, disk_gb: 40}}
controllers: [ctl1]
gpu_models:
  - {{vendor_id: "10de", product_id: "2236", alias: a10, mode: vgpu, vgpu_on: vfs,
     mdev_type: nvidia-592, vgpus_per_gpu: 4, slice: {{vcpus: 4, memory_mb: 16384, disk_gb: 40}},
     flavors: [{{name: v1.a10, vgpus: 1}}]}}
hosts:
  - name: vgpu-02
{_HOST}    gpus:
      - address: "0000:86:00.0"
        vendor_id: "10de"
        product_id: "2236"
        vfs: [VFS]
"""
FOUR_VFS = ", ".join(f'"0000:86:00.{n}"' for n in range(4, 8))


def _variant_fleet(tmp_path: Path, functions: range = range(4, 8)) -> Path:
    lines = "\n".join(
        f'      - {{address: "0000:86:00.{n}", vendor_id: "10de", product_id: "2236"}}'
        for n in functions
    )
    path = tmp_path / "variant.yaml"
    path.write_text(_VARIANT.replace("GPUS", lines), encoding="utf-8")
    return path


def _on_vfs_fleet(tmp_path: Path, vfs: str = FOUR_VFS) -> Path:
    path = tmp_path / "on-vfs.yaml"
    path.write_text(_ON_VFS.replace("VFS", vfs), encoding="utf-8")
    return path


def _snapshot(tmp_path: Path, fixture: str, host: str) -> Path:
    shutil.copytree(SNAPSHOTS / fixture, tmp_path / "snapshots" / host, symlinks=True)
    return tmp_path / "snapshots" / host


def _report(tmp_path: Path, fleet: Path) -> HostReport:
    (report,) = doctor_fleet(make_plan(load_fleet(fleet)), tmp_path / "snapshots")
    return report


def _bind(root: Path, address: str, driver: str | None) -> None:
    link = root / DEVICES / address / "driver"
    link.unlink()
    if driver is not None:
        link.symlink_to(f"../../../../bus/pci/drivers/{driver}")


def _remove_vf(root: Path, address: str) -> None:
    shutil.rmtree(root / DEVICES / address)
    for group in (root / "sys/kernel/iommu_groups").iterdir():
        member = group / "devices" / address
        if member.is_symlink():
            member.unlink()


def _on(report: HostReport, check: str, subject: str | None = None) -> list[str]:
    return [
        f.status
        for f in report.findings
        if f.check == check and (subject is None or f.subject == subject)
    ]


def _steps(report: HostReport, check: str) -> list[str]:
    return [s for f in report.findings if f.check == check and f.fix for s in f.fix.steps]


# --- variant VFs (vfio_variant: true) ------------------------------------------------------------


def test_variant_vfs_on_their_driver_are_ready_and_get_no_vfio_pci_fix(tmp_path: Path) -> None:
    _snapshot(tmp_path, "vfio-variant-ready", "vf-01")
    report = _report(tmp_path, _variant_fleet(tmp_path))
    assert report.ready, [f for f in report.findings if f.status != "ok"]
    assert _on(report, "variant-driver") == ["ok"] * 4
    # vfio-pci is not their driver: no binding, ids, order or initramfs verdicts about them
    assert not {"gpu-driver", "vfio-ids", "vfio-order", "vfio-initramfs"} & {
        f.check for f in report.findings
    }
    assert not any(f.fix and (f.fix.vfio_ids or f.fix.softdeps) for f in report.findings)


def test_without_a_fleet_vfs_on_a_variant_driver_are_taken_for_variant_vfs(
    tmp_path: Path,
) -> None:
    # No fleet says vfio_variant: the VFs' variant driver does; the card is judged as a GPU.
    root = _snapshot(tmp_path, "vfio-variant-ready", "vf-01")
    report = examine(root)
    assert _on(report, "variant-driver") == ["ok"] * 4
    assert [f.subject for f in report.findings if f.check == "gpu-driver"] == ["0000:86:00.0"]
    fixes = [f.fix for f in report.findings if f.fix and f.fix.vfio_ids]
    assert fixes  # the card on nvidia is a passthrough candidate without a fleet
    _bind(root, "0000:86:00.5", "vfio-pci")
    report = examine(root)
    assert _on(report, "variant-driver") == ["ok"] * 3
    assert _on(report, "gpu-driver", "0000:86:00.5") == ["ok"]


@pytest.mark.parametrize(
    ("driver", "words"), [("vfio-pci", "plain vfio-pci"), (None, "no driver"), ("nvidia", "nvidia")]
)
def test_a_variant_vf_on_another_driver_fails_with_the_variant_driver_named(
    tmp_path: Path, driver: str | None, words: str
) -> None:
    root = _snapshot(tmp_path, "vfio-variant-ready", "vf-01")
    _bind(root, "0000:86:00.5", driver)
    report = _report(tmp_path, _variant_fleet(tmp_path))
    assert failing(report) == {"variant-driver"}
    (bad,) = [f for f in report.findings if f.status == "fail"]
    assert bad.subject == "0000:86:00.5"
    assert words in bad.message
    assert bad.fix is not None
    assert bad.fix.steps == ("driverctl set-override 0000:86:00.5 nvidia_vgpu_vfio",)
    assert not bad.fix.vfio_ids


def test_with_no_variant_driver_anywhere_the_fix_says_to_install_one(tmp_path: Path) -> None:
    root = _snapshot(tmp_path, "vfio-variant-ready", "vf-01")
    for n in range(4, 8):
        _bind(root, f"0000:86:00.{n}", "vfio-pci")
    report = _report(tmp_path, _variant_fleet(tmp_path))
    assert _on(report, "variant-driver") == ["fail"] * 4
    assert all(
        "install the vendor's vfio variant driver" in s for s in _steps(report, "variant-driver")
    )


def test_missing_variant_vfs_fail_with_how_to_create_them(tmp_path: Path) -> None:
    root = _snapshot(tmp_path, "vfio-variant-ready", "vf-01")
    for n in range(4, 8):
        _remove_vf(root, f"0000:86:00.{n}")
    (root / DEVICES / "0000:86:00.0/sriov_numvfs").write_text("0\n")
    report = _report(tmp_path, _variant_fleet(tmp_path))
    assert _on(report, "variant-driver") == ["fail"] * 4
    finding = next(f for f in report.findings if f.subject == "0000:86:00.6")
    assert "no such VF" in finding.message
    assert f"{DEVICES}/0000:86:00.0/sriov_numvfs: 0" in finding.evidence
    assert finding.fix is not None
    assert finding.fix.steps == (
        "/usr/lib/nvidia/sriov-manage -e 0000:86:00.0",
        "or, without it: echo 16 > /sys/bus/pci/devices/0000:86:00.0/sriov_numvfs",
    )


def test_a_card_listed_as_a_variant_vf_is_not_a_vf(tmp_path: Path) -> None:
    _snapshot(tmp_path, "vfio-variant-ready", "vf-01")
    report = _report(tmp_path, _variant_fleet(tmp_path, range(0, 1)))
    (bad,) = [f for f in report.findings if f.check == "variant-driver"]
    assert (bad.status, bad.subject) == ("fail", "0000:86:00.0")
    assert "not a virtual function" in bad.message


def test_vfio_pci_ids_naming_the_vfs_ids_fail_for_taking_the_card(tmp_path: Path) -> None:
    root = _snapshot(tmp_path, "vfio-variant-ready", "vf-01")
    (root / "etc/modprobe.d/vfio.conf").write_text("options vfio-pci ids=10de:2236\n")
    report = _report(tmp_path, _variant_fleet(tmp_path))
    (claim,) = [f for f in report.findings if "and of its card" in f.message]
    assert claim.status == "fail"
    assert "0000:86:00.4, 0000:86:00.5, 0000:86:00.6, 0000:86:00.7" in claim.message
    assert claim.fix is not None
    assert claim.fix.steps == ("remove 10de:2236 from vfio-pci's ids (etc/modprobe.d/vfio.conf:1)",)


# --- vgpu_on: vfs cards ---------------------------------------------------------------------------


def test_a_card_whose_vfs_offer_the_type_is_ready(tmp_path: Path) -> None:
    _snapshot(tmp_path, "vgpu-ready", "vgpu-02")
    report = _report(tmp_path, _on_vfs_fleet(tmp_path))
    assert report.mode == "vgpu"
    assert report.ready, [f for f in report.findings if f.status != "ok"]
    (ok,) = [f for f in report.findings if f.check == "vgpu-vfs"]
    assert (ok.status, ok.subject) == ("ok", "0000:86:00.0")
    assert "4 VF(s)" in ok.message


def test_too_few_vfs_made_fails_with_the_reset_then_count_step(tmp_path: Path) -> None:
    root = _snapshot(tmp_path, "vgpu-ready", "vgpu-02")
    (root / DEVICES / "0000:86:00.0/sriov_numvfs").write_text("2\n")
    report = _report(tmp_path, _on_vfs_fleet(tmp_path))
    bad = [f for f in report.findings if f.check == "vgpu-vfs" and f.subject == "0000:86:00.0"]
    assert [f.status for f in bad] == ["fail"]
    assert "sriov_numvfs is 2" in bad[0].message
    assert "at least 4" in bad[0].message
    assert bad[0].fix is not None
    assert bad[0].fix.steps[-1] == (
        "or, without it: echo 0 > /sys/bus/pci/devices/0000:86:00.0/sriov_numvfs; "
        "echo 16 > /sys/bus/pci/devices/0000:86:00.0/sriov_numvfs"
    )


def test_a_listed_vf_of_another_card_is_reported(tmp_path: Path) -> None:
    root = _snapshot(tmp_path, "vgpu-ready", "vgpu-02")
    link = root / DEVICES / "0000:86:00.7/physfn"
    link.unlink()
    link.symlink_to("../0000:3b:00.0")
    report = _report(tmp_path, _on_vfs_fleet(tmp_path))
    assert failing(report) == {"vgpu-vfs"}
    (bad,) = [f for f in report.findings if f.status == "fail"]
    assert bad.subject == "0000:86:00.7"
    assert "VF 0000:86:00.7 of card 0000:86:00.0: not a VF of that card" in bad.message
    assert "its physfn is 0000:3b:00.0" in bad.message


def test_a_listed_vf_without_physfn_is_not_a_vf(tmp_path: Path) -> None:
    root = _snapshot(tmp_path, "vgpu-ready", "vgpu-02")
    (root / DEVICES / "0000:86:00.4/physfn").unlink()
    report = _report(tmp_path, _on_vfs_fleet(tmp_path))
    bad = [f for f in report.findings if f.check == "vgpu-vfs" and f.status == "fail"]
    assert [f.subject for f in bad] == ["0000:86:00.4"]
    assert "no physfn link" in bad[0].message


def test_a_vf_without_the_type_or_missing_fails_naming_vf_and_card(tmp_path: Path) -> None:
    root = _snapshot(tmp_path, "vgpu-ready", "vgpu-02")
    shutil.rmtree(root / DEVICES / "0000:86:00.6/mdev_supported_types/nvidia-592")
    _remove_vf(root, "0000:86:00.5")
    report = _report(tmp_path, _on_vfs_fleet(tmp_path))
    bad = {f.subject: f for f in report.findings if f.check == "vgpu-vfs" and f.status == "fail"}
    assert set(bad) == {"0000:86:00.5", "0000:86:00.6"}
    assert "VF 0000:86:00.5 of card 0000:86:00.0: no such VF" in bad["0000:86:00.5"].message
    assert "nvidia-592 not offered" in bad["0000:86:00.6"].message
    assert bad["0000:86:00.6"].evidence == (
        f"{DEVICES}/0000:86:00.6/mdev_supported_types: nvidia-593",
    )


def test_a_listed_vf_the_plan_leaves_out_only_warns(tmp_path: Path) -> None:
    _snapshot(tmp_path, "vgpu-ready", "vgpu-02")
    report = _report(tmp_path, _on_vfs_fleet(tmp_path, FOUR_VFS + ', "0000:86:01.0"'))
    assert report.ready
    assert _on(report, "vgpu-vfs", "0000:86:01.0") == ["warn"]


def test_a_bad_sriov_numvfs_is_a_bad_snapshot(tmp_path: Path) -> None:
    root = _snapshot(tmp_path, "vgpu-ready", "vgpu-02")
    (root / DEVICES / "0000:86:00.0/sriov_numvfs").write_text("four\n")
    with pytest.raises(InputError, match="sriov_numvfs"):
        _report(tmp_path, _on_vfs_fleet(tmp_path))
