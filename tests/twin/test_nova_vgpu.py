"""`gpuslice verify` of a vGPU host on real nova 34: each card's slice on the card's provider,
vGPU VMs boot after ordinary VMs fill the host with VGPU and slice on one card, one more is
refused; the pooled and none forms for contrast; a wrong hypervisor hostname is caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuslice.cli import main
from tests.twin.nova import needs_nova, row, verify_json

pytestmark = [needs_nova, pytest.mark.slow]

VGPU = Path(__file__).resolve().parent / "data" / "vgpu.yaml"
CARDS = ("vgpu1.example.org_pci_0000_17_00_0", "vgpu1.example.org_pci_0000_65_00_0")


def _fleet(tmp_path: Path, old: str, new: str) -> str:
    text = VGPU.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "fleet.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return str(path)


def test_vgpu_vms_boot_tied_to_one_card_after_ordinary_vms_fill_the_host(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = verify_json(capsys, str(VGPU))
    assert code == 0, [r for r in report["rows"] if not r["ok"]]
    for card in CARDS:
        address = card.split("_pci_")[1].replace("_", ":", 2).replace("_", ".")
        seen = row(report, "vgpu1", f"card {address}: provider {card}")["seen"]
        slice_ = "CUSTOM_VGPU_VCPU 4, CUSTOM_VGPU_MEMORY_MB 8192"
        assert seen == f"VGPU 4, {slice_}; trait CUSTOM_VGPU_A10"
    fill = row(report, "vgpu1", "ordinary first: fill with ordinary VMs")["seen"]
    assert fill.startswith("1 VMs ACTIVE (8 vCPU, 15872 MB, 60 GB), then ERROR: No valid host")
    for index in range(1, 9):
        seen = row(report, "vgpu1", f"ordinary first: v1.a10 VM {index} of 8")["seen"]
        assert seen.startswith("ACTIVE, 1 mdev in guest XML; VGPU on vgpu1.example.org_pci_")
        assert seen.endswith("; slice on the same provider")
    per_card = row(report, "vgpu1", "ordinary first: vGPUs per card")["seen"]
    assert per_card == f"{CARDS[0]} 4, {CARDS[1]} 4"
    extra = row(report, "vgpu1", "ordinary first: one more v1.a10 VM (every vGPU in use)")
    assert extra["seen"].startswith("ERROR: No valid host")
    largest = row(report, "vgpu1", "ordinary first: v2.a10 VM after deleting 2 1-vGPU VMs")
    assert largest["seen"] == (
        "ACTIVE, 2 mdev in guest XML; VGPU on 1 provider(s) (2); each VGPU's slice on its provider"
    )


def test_pooled_slices_boot_too_but_the_slice_lands_on_the_root(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fleet = _fleet(tmp_path, "strategy: placement\n", "strategy: placement\nvgpu_slices: pooled\n")
    code, report = verify_json(capsys, fleet)
    assert code == 0, [r for r in report["rows"] if not r["ok"]]
    seen = row(report, "vgpu1", "ordinary first: v1.a10 VM 1 of 8")["seen"]
    assert seen.endswith("; slice on vgpu1.example.org (pooled)")


def test_none_refuses_vgpu_vms_while_every_vgpu_is_free(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = verify_json(capsys, str(VGPU), "--strategy", "none")
    assert code == 1
    assert row(report, "vgpu1", "ordinary first: fill with ordinary VMs")["ok"]
    first = row(report, "vgpu1", "ordinary first: v1.a10 VM 1 of 8")
    assert not first["ok"]
    assert first["seen"].startswith("ERROR: No valid host")


def test_a_wrong_hypervisor_hostname_is_caught(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Files rendered as if libvirt reported the short name; the host reports its FQDN.
    short = _fleet(tmp_path, "    hypervisor_hostname: vgpu1.example.org\n", "")
    out = tmp_path / "rendered"
    assert main(["render", short, "--out", str(out)]) == 0
    capsys.readouterr()
    code, report = verify_json(capsys, str(VGPU), "--rendered", str(out))
    assert code == 1
    names = row(report, "vgpu1", "provider.yaml names providers nova has (its hypervisor hostname)")
    assert not names["ok"]
    assert names["seen"] == (
        f"absent: vgpu1_pci_0000_17_00_0, vgpu1_pci_0000_65_00_0 (nova's: {CARDS[0]}, {CARDS[1]})"
    )
    # The slice went nowhere: the cards lack it and no vGPU VM boots.
    assert not row(report, "vgpu1", f"card 0000:17:00.0: provider {CARDS[0]}")["ok"]
    assert not row(report, "vgpu1", "ordinary first: v1.a10 VM 1 of 8")["ok"]


def test_the_example_fleets_vgpu_host_keeps_the_promise(
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "vgpu" / "fleet.yaml"
    code, report = verify_json(capsys, str(example), "--host", "vgpu-01")
    assert code == 0, [r for r in report["rows"] if not r["ok"]]
    per_card = row(report, "vgpu-01", "ordinary first: vGPUs per card")["seen"]
    assert per_card == (
        "vgpu-01.example.org_pci_0000_17_00_0 4, vgpu-01.example.org_pci_0000_65_00_0 4"
    )


def test_a_host_mixing_vgpu_cards_and_a_passed_through_gpu_keeps_both(
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "vgpu" / "fleet.yaml"
    code, report = verify_json(capsys, str(example), "--host", "mixed-01")
    assert code == 0, [r for r in report["rows"] if not r["ok"]]
    seen = row(report, "mixed-01", "ordinary first: passthrough GPU VM 1 of 1 beside the vGPUs")
    assert seen["seen"] == "ACTIVE, guest XML: 0000:ca:00.0"
    extra = row(
        report,
        "mixed-01",
        "ordinary first: one more passthrough GPU VM (all passed-through GPUs in use)",
    )
    assert extra["seen"].startswith("ERROR: No valid host")
