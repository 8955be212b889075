"""`gpuslice verify` on real nova 34: placement keeps the promise, none breaks it, split fails
for the reason DESIGN.md gives. Each test boots real VMs; see docs/verify.md for the scenario."""

from __future__ import annotations

import pytest

from tests.twin.nova import LAB, needs_nova, row, verify_json

pytestmark = [needs_nova, pytest.mark.slow]


def test_placement_keeps_the_promise_on_every_gpu_host(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = verify_json(capsys, str(LAB))
    assert code == 0, [r for r in report["rows"] if not r["ok"]]
    assert {r["host"] for r in report["rows"]} == {"hyper18", "hyper16"}
    for host, gpus in (("hyper18", 1), ("hyper16", 2)):
        for order in ("ordinary first", "GPU first"):
            for index in range(1, gpus + 1):
                seen = row(report, host, f"{order}: GPU VM {index} of {gpus}")["seen"]
                assert seen.startswith("ACTIVE, guest XML: 0000:"), seen
                assert seen.endswith("2 vCPU, 4096 MB")
            extra = row(report, host, f"{order}: one more GPU VM (all GPUs in use)")
            assert extra["seen"].startswith("ERROR: No valid host")
    fill = row(report, "hyper18", "ordinary first: fill with ordinary VMs")["seen"]
    # 8 CPUs less 2 for the slice; 16384 MB less 512 reserve and 4096 slice; 100 GB less 20.
    assert fill.startswith("1 VMs ACTIVE (6 vCPU, 11776 MB, 80 GB), then ERROR: No valid host")
    inventory = row(
        report, "hyper16", "provider hyper16: inventory as planned (total, reserved, ratio)"
    )
    assert "CUSTOM_GPU_VCPU 4/0/1" in inventory["seen"]


def test_none_breaks_the_promise_on_real_nova(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = verify_json(capsys, str(LAB), "--strategy", "none", "--host", "hyper18")
    assert code == 1
    fill = row(report, "hyper18", "ordinary first: fill with ordinary VMs")
    assert fill["ok"]
    assert fill["seen"].startswith("1 VMs ACTIVE (8 vCPU, 15872 MB, 100 GB)")
    gpu = row(report, "hyper18", "ordinary first: GPU VM 1 of 1")
    assert not gpu["ok"]
    assert gpu["seen"].startswith("ERROR: No valid host")
    # GPU VM first, then an ordinary VM takes the freed GPU's CPUs and the GPU VM cannot return.
    again = row(report, "hyper18", "GPU first: then a GPU VM of the same flavor again")
    assert not again["ok"]


def test_split_fails_on_nova_34_for_the_reason_design_gives(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = verify_json(capsys, str(LAB), "--strategy", "split", "--host", "hyper18")
    assert code == 1
    own = row(
        report, "hyper18", "second service gpu18 with its own state_path registers a provider"
    )
    assert own["seen"] == (
        "placement: 409 Conflicting resource provider name: hyper18 already exists."
    )
    shared = row(report, "hyper18", "second service gpu18 sharing hyper18's state_path starts")
    assert "Possible rename detected, refusing to start!" in shared["seen"]
    # The planner's refusal text quotes what placement answered.
    assert row(report, "hyper18", "gpuslice's refusal of split quotes what nova did")["ok"]
    gpu = row(report, "hyper18", "split: GPU VM 1 of 1")
    assert gpu["seen"].startswith("ERROR: No valid host")


def test_dedicated_cpus_pin_gpu_vms_inside_the_slice(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = verify_json(capsys, str(LAB.with_name("lab-pinned.yaml")))
    assert code == 0, [r for r in report["rows"] if not r["ok"]]
    inventory = row(
        report, "hyper18", "provider hyper18: inventory as planned (total, reserved, ratio)"
    )
    assert "PCPU 2/0/1" in inventory["seen"]
    assert "VCPU 6/0/1" in inventory["seen"]
    for order in ("ordinary first", "GPU first"):
        gpu = row(report, "hyper18", f"{order}: GPU VM 1 of 1")
        assert gpu["seen"].endswith("2 vCPU, 4096 MB, pinned to 6-7"), gpu["seen"]


def test_newton_split_fleet_runs_its_own_files_and_fails_on_nova_34(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The original recipe as rendered for Newton, on nova 34: the same two refusals per host."""
    fleet = LAB.parents[3] / "examples" / "bright-lab" / "fleet.yaml"
    code, report = verify_json(capsys, str(fleet))
    assert code == 1
    assert any("files rendered for newton (14)" in note for note in report["notes"])
    for host, gpu_host in (("hyper18", "gpu18"), ("hyper16", "gpu2")):
        own = row(
            report, host, f"second service {gpu_host} with its own state_path registers a provider"
        )
        assert (
            own["seen"]
            == f"placement: 409 Conflicting resource provider name: {host} already exists."
        )
        assert row(report, host, "gpuslice's refusal of split quotes what nova did")["ok"]
        assert not row(report, host, "split: GPU VM 1 of 1")["ok"]


def test_embedded_model_agrees_with_nova_request_by_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = (str(LAB), "--host", "hyper16", "--compare-model", "--requests", "40", "--seed", "5")
    code, report = verify_json(capsys, *args)
    assert code == 0, [r for r in report["rows"] if not r["ok"]]
    compared = report["comparisons"]["hyper16"]
    assert len(compared) == 40
    assert all(c["agrees"] for c in compared)
    seen = {c["nova"] for c in compared}
    assert {"ACTIVE", "refused", "deleted"} <= seen
    assert any(c["request"].startswith("boot cmp.gpu") and c["nova"] == "ACTIVE" for c in compared)
