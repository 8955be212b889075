"""`gpuslice verify` of SR-IOV based vGPU on real nova 34: the type on each card's virtual
functions, a provider per VF holding one vGPU and one slice, VMs tied to one VF."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.twin.nova import needs_nova, row, verify_json

pytestmark = [needs_nova, pytest.mark.slow]

FLEET = Path(__file__).resolve().parent / "data" / "vgpu_vfs.yaml"
VFS = [f"0000:{bus}:00.{n}" for bus in ("17", "65") for n in range(4, 8)]


def provider(vf: str) -> str:
    return "vgpu1.example.org_pci_" + vf.replace(":", "_").replace(".", "_")


def test_each_vf_is_a_provider_with_one_vgpu_and_its_slice_and_vms_stay_tied(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = verify_json(capsys, str(FLEET))
    assert code == 0, [r for r in report["rows"] if not r["ok"]]
    for vf in VFS:
        card = vf[:-1] + "0"
        seen = row(report, "vgpu1", f"VF {vf} of {card}: provider {provider(vf)}")["seen"]
        assert (
            seen == "VGPU 1, CUSTOM_VGPU_VCPU 1, CUSTOM_VGPU_MEMORY_MB 2048; trait CUSTOM_VGPU_A10"
        )
    for index in range(1, 9):
        seen = row(report, "vgpu1", f"ordinary first: v1.a10 VM {index} of 8")["seen"]
        assert seen.startswith("ACTIVE, 1 mdev in guest XML; VGPU on vgpu1.example.org_pci_")
        assert seen.endswith("; slice on the same provider")
    per_vf = row(report, "vgpu1", "ordinary first: vGPUs per card")["seen"]
    assert per_vf == ", ".join(f"{provider(vf)} 1" for vf in sorted(VFS))
    extra = row(report, "vgpu1", "ordinary first: one more v1.a10 VM (every vGPU in use)")
    assert extra["seen"].startswith("ERROR: No valid host")
    # The 2-vGPU flavor asks two isolated groups: two VFs, each with its own slice.
    largest = row(report, "vgpu1", "ordinary first: v2.a10 VM after deleting 2 1-vGPU VMs")
    assert largest["seen"] == (
        "ACTIVE, 2 mdev in guest XML; VGPU on 2 provider(s) (1, 1); "
        "each VGPU's slice on its provider"
    )
    # The fifth VF listed for 17:00.0 is not in device_addresses: nova made no provider for it.
    assert not [r for r in report["rows"] if "0000_17_01_0" in r["seen"] + r["step"]]


@pytest.mark.parametrize("host", ["sriov-01", "vf-01"])
def test_the_example_fleets_sriov_vgpu_hosts_keep_the_promise(
    capsys: pytest.CaptureFixture[str], host: str
) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "vgpu-sriov" / "fleet.yaml"
    code, report = verify_json(capsys, str(example), "--host", host)
    assert code == 0, [r for r in report["rows"] if not r["ok"]]
    if host == "sriov-01":
        per_vf = row(report, host, "ordinary first: vGPUs per card")["seen"]
        assert per_vf.count(" 1") == 8
    else:
        vm = row(report, host, "ordinary first: GPU VM 4 of 4")["seen"]
        assert vm.endswith(", managed=no")


def test_pooled_slices_on_vfs_boot_with_the_slice_on_the_root(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = FLEET.read_text(encoding="utf-8").replace(
        "strategy: placement\n", "strategy: placement\nvgpu_slices: pooled\n"
    )
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(text, encoding="utf-8")
    code, report = verify_json(capsys, str(fleet))
    assert code == 0, [r for r in report["rows"] if not r["ok"]]
    seen = row(report, "vgpu1", "ordinary first: v1.a10 VM 1 of 8")["seen"]
    assert seen.endswith("; slice on vgpu1.example.org (pooled)")
    largest = row(report, "vgpu1", "ordinary first: v2.a10 VM after deleting 2 1-vGPU VMs")
    assert largest["seen"] == "ACTIVE, 2 mdev in guest XML; VGPU on 2 provider(s) (1, 1)"


def test_the_model_takes_2_vgpu_vms_on_two_vfs_as_real_nova_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--compare-model on sriov-01: 1- and 2-vGPU boots (k isolated groups, one VF each),
    ordinary boots and deletes; the model accepts and refuses what nova does."""
    example = Path(__file__).resolve().parents[2] / "examples" / "vgpu-sriov" / "fleet.yaml"
    code, report = verify_json(
        capsys, str(example), "--host", "sriov-01", "--compare-model", "--requests", "120"
    )
    assert code == 0, [r for r in report["rows"] if not r["ok"]]
    comparisons = report["comparisons"]["sriov-01"]
    two = [c for c in comparisons if "v2.a10" in c["request"]]
    assert {c["nova"] for c in two} == {"ACTIVE", "refused"}  # both outcomes are exercised
    assert all(c["agrees"] for c in comparisons)
