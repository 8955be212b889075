"""Each fixture snapshot (a real host layout) gets its expected verdict, with evidence and fix."""

from __future__ import annotations

from gpuslice.doctor import merge_fixes
from tests.doctor.helpers import SNAPSHOTS, examine, failing, statuses

GPU = "0000:86:00.0"


def test_ready_host_passes_every_check() -> None:
    report = examine(SNAPSHOTS / "ready")
    assert report.host == "gpu-ready"
    assert report.ready
    assert {f.status for f in report.findings} == {"ok"}
    ran = {f.check for f in report.findings}
    assert {"iommu", "interrupt-remapping", "kvm", "gpu-driver", "companion-driver"} <= ran
    assert {"iommu-group", "vfio-ids", "vfio-order", "vfio-initramfs", "numa"} <= ran
    assert merge_fixes(report).empty


def test_iommu_off_fails_and_its_fix_adds_the_intel_argument() -> None:
    report = examine(SNAPSHOTS / "iommu-off")
    assert not report.ready
    assert failing(report) == {"iommu", "interrupt-remapping"}
    iommu = next(f for f in report.findings if f.check == "iommu")
    assert "sys/kernel/iommu_groups: 0 groups" in iommu.evidence
    fix = merge_fixes(report)
    # the host bridge 0000:00:00.0 is Intel's: the Intel argument only
    assert fix.kernel_args == ("intel_iommu=on", "iommu=pt")
    # the GPU has no driver (vfio-pci cannot bind without an IOMMU): a warning, not a failure
    assert statuses(report)[("gpu-driver", GPU)] == "warn"


def test_nouveau_bound_gpu_fails_with_ids_and_softdep_in_the_fix() -> None:
    report = examine(SNAPSHOTS / "nouveau-bound")
    assert failing(report) == {"gpu-driver", "companion-driver", "vfio-ids", "vfio-order"}
    gpu = next(f for f in report.findings if f.check == "gpu-driver")
    assert "nouveau" in gpu.message
    assert any("driver nouveau" in line for line in gpu.evidence)
    fix = merge_fixes(report)
    assert fix.vfio_ids == ("10de:1aef", "10de:2230")
    assert fix.softdeps == ("nouveau", "snd_hda_intel")
    assert fix.early_modules == ("vfio", "vfio_iommu_type1", "vfio_pci")


def test_audio_function_on_snd_hda_intel_fails_only_what_concerns_it() -> None:
    report = examine(SNAPSHOTS / "audio-on-snd-hda-intel")
    assert failing(report) == {"companion-driver", "vfio-ids", "vfio-order"}
    found = statuses(report)
    assert found[("gpu-driver", GPU)] == "ok"
    assert found[("vfio-order", "snd_hda_intel")] == "fail"
    assert found[("vfio-order", "nouveau")] == "ok"
    companion = next(f for f in report.findings if f.check == "companion-driver")
    assert "0000:86:00.1 on snd_hda_intel" in companion.message
    fix = merge_fixes(report)
    # the ids line replaces the host's own: it lists the GPU too, not only the missing audio id
    assert fix.vfio_ids == ("10de:1aef", "10de:2230")
    assert fix.softdeps == ("snd_hda_intel",)


def test_shared_iommu_group_with_a_nic_fails_isolation_only() -> None:
    report = examine(SNAPSHOTS / "shared-iommu-group")
    assert failing(report) == {"iommu-group"}
    finding = next(f for f in report.findings if f.check == "iommu-group")
    assert "0000:85:00.0" in finding.message
    assert any("class 0200" in line and "ixgbe" in line for line in finding.evidence)
    assert finding.fix is not None
    assert not finding.fix.kernel_args  # no pcie_acs_override: no file fixes this
    assert any("slot" in step for step in finding.fix.steps)


def test_vgpu_host_without_its_driver_fails_driver_and_mdev_types() -> None:
    report = examine(SNAPSHOTS / "vgpu-no-driver", mode="vgpu")
    assert report.mode == "vgpu"
    assert failing(report) == {"vgpu-driver", "mdev-types"}
    found = statuses(report)
    assert found[("mdevctl", None)] == "warn"  # no release known without a fleet
    assert not any(f.check.startswith("vfio") for f in report.findings)
    driver = next(f for f in report.findings if f.check == "vgpu-driver")
    assert "proc/modules: no nvidia" in driver.evidence


def test_vgpu_ready_host_offers_the_type_on_its_virtual_functions() -> None:
    report = examine(SNAPSHOTS / "vgpu-ready", mode="vgpu", mdev_type="nvidia-592")
    assert report.ready, [f for f in report.findings if f.status != "ok"]
    types = next(f for f in report.findings if f.check == "mdev-types")
    assert "nvidia-592" in types.message
    missing = examine(SNAPSHOTS / "vgpu-ready", mode="vgpu", mdev_type="nvidia-999")
    assert failing(missing) == {"mdev-types"}


def test_the_same_host_judged_for_passthrough_is_not_ready() -> None:
    """A GPU on the vendor driver is fine for vGPU and wrong for passthrough."""
    report = examine(SNAPSHOTS / "vgpu-ready", mode="passthrough")
    assert "gpu-driver" in failing(report)
