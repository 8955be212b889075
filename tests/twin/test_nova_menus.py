"""`gpuslice verify` on real nova 34 for a GPU menu: a mixed host (2x A100 + 1x L40S) takes a
2-GPU A100 VM and a 1-GPU L40S VM after ordinary VMs filled it, and in the other order, with the
devices in the guest XML; one more GPU VM is refused. See docs/menus.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.twin.nova import needs_nova, row, verify_json

pytestmark = [needs_nova, pytest.mark.slow]

MENU_FLEET = Path(__file__).resolve().parents[1] / "live" / "data" / "menu-fleet.yaml"


def test_multi_gpu_and_mixed_models_boot_in_both_orders_on_a_mixed_host(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = verify_json(capsys, str(MENU_FLEET), "--host", "mixed")
    assert code == 0, [r for r in report["rows"] if not r["ok"]]
    for order in ("menu, ordinary first", "menu, GPU first"):
        two = row(report, "mixed", f"{order}: g2.a100 (2 GPU(s))")["seen"]
        assert two == "ACTIVE, guest XML: 0000:17:00.0, 0000:31:00.0, 16 vCPU, 65536 MB"
        one = row(report, "mixed", f"{order}: g1.l40s (1 GPU(s))")["seen"]
        assert one == "ACTIVE, guest XML: 0000:41:00.0, 4 vCPU, 16384 MB"
        extra = row(report, "mixed", f"{order}: one more GPU VM (all GPUs in use)")
        assert extra["seen"].startswith("ERROR: No valid host")
    # the mixed pool: 2 A100 slices (8 vCPU each) and 1 L40S slice (4 vCPU)
    inventory = row(
        report, "mixed", "provider mixed: inventory as planned (total, reserved, ratio)"
    )
    assert "CUSTOM_GPU_VCPU 20/0/1" in inventory["seen"]
    fill = row(report, "mixed", "menu, GPU first: fill with ordinary VMs")
    assert fill["ok"], fill["seen"]
