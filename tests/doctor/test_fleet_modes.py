"""In fleet mode each host is checked for what its GPU models are for (passthrough or vGPU)."""

from __future__ import annotations

import shutil
from pathlib import Path

from gpuslice.doctor import doctor_fleet
from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan
from tests.doctor.helpers import SNAPSHOTS, failing

_FLEET = """\
release: "2025.1"
strategy: placement
slice: {vcpus: 4, memory_mb: 16384, disk_gb: 40}
controllers: [ctl1]
gpu_models:
  - vendor_id: "10de"
    product_id: "2236"
    alias: a10
    mode: vgpu
    mdev_type: nvidia-592
    vgpus_per_gpu: 4
    slice: {vcpus: 4, memory_mb: 16384, disk_gb: 40}
    flavors: [{name: v1.a10, vgpus: 1}]
  - vendor_id: "10de"
    product_id: "2230"
    alias: a6000
    slice: {vcpus: 8, memory_mb: 32768, disk_gb: 100}
hosts:
  - name: vgpu-01
    cpus: 64
    memory_mb: 524288
    disk_gb: 1920
    gpus: [{address: "0000:86:00.0", vendor_id: "10de", product_id: "2236"}]
  - name: vgpu-02
    cpus: 64
    memory_mb: 524288
    disk_gb: 1920
    gpus: [{address: "0000:86:00.0", vendor_id: "10de", product_id: "2236"}]
  - name: gpu-ready
    cpus: 64
    memory_mb: 524288
    disk_gb: 1920
    gpus: [{address: "0000:86:00.0", vendor_id: "10de", product_id: "2230"}]
"""


def _fleet_and_snapshots(tmp_path: Path) -> tuple[Path, Path]:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(_FLEET, encoding="utf-8")
    snapshots = tmp_path / "snapshots"
    for host, fixture in (
        ("vgpu-01", "vgpu-no-driver"),
        ("vgpu-02", "vgpu-ready"),
        ("gpu-ready", "ready"),
    ):
        shutil.copytree(SNAPSHOTS / fixture, snapshots / host, symlinks=True)
    return fleet, snapshots


def test_each_host_is_checked_for_what_its_models_are_for(tmp_path: Path) -> None:
    fleet, snapshots = _fleet_and_snapshots(tmp_path)
    reports = {r.host: r for r in doctor_fleet(make_plan(load_fleet(fleet)), snapshots)}
    assert {name: r.mode for name, r in reports.items()} == {
        "vgpu-01": "vgpu",
        "vgpu-02": "vgpu",
        "gpu-ready": "passthrough",
    }
    assert reports["vgpu-02"].ready
    assert reports["gpu-ready"].ready
    assert {"vgpu-driver", "mdev-types"} <= failing(reports["vgpu-01"])


def test_the_vgpu_model_names_the_mdev_type_the_host_must_offer(tmp_path: Path) -> None:
    fleet_path, snapshots = _fleet_and_snapshots(tmp_path)
    text = fleet_path.read_text(encoding="utf-8").replace("nvidia-592", "nvidia-999")
    fleet_path.write_text(text, encoding="utf-8")
    reports = {r.host: r for r in doctor_fleet(make_plan(load_fleet(fleet_path)), snapshots)}
    assert "mdev-types" in failing(reports["vgpu-02"])
    assert any("nvidia-999" in f.message for f in reports["vgpu-02"].findings)


def test_an_explicit_mode_overrides_the_fleet(tmp_path: Path) -> None:
    fleet, snapshots = _fleet_and_snapshots(tmp_path)
    plan = make_plan(load_fleet(fleet))
    reports = {r.host: r for r in doctor_fleet(plan, snapshots, mode="passthrough")}
    assert reports["vgpu-02"].mode == "passthrough"
