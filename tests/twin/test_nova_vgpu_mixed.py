"""A host mixing tied vGPU cards with a passed-through GPU, on real nova 34 / placement 16:
the passthrough flavor's slice comes from the root alone.

The passthrough flavor asks its slice unnumbered (`resources:CUSTOM_GPU_VCPU=8`, ...), and
Placement takes each class of the unnumbered group from any provider of the tree that has it.
When the tied cards held their slice in the same classes, Placement offered the L40S's slice
from the A10 cards (9 candidates: vCPUs and RAM each from the root or either card); nova boots
with the first candidate, in an order that follows Python's string hashing, and with the L40S
VM first its slice landed on an A10 card in 7 runs of 7 (PYTHONHASHSEED 1 to 7), so a 4-vGPU VM
was then refused with a card's 4 vGPUs free. gpuslice now gives the cards classes of their
own (`CUSTOM_VGPU_VCPU`, `CUSTOM_VGPU_MEMORY_MB`): the candidates below are the root's alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gpuslice.fleetfile import load_fleet
from tests.twin.nova import needs_nova

pytestmark = [needs_nova, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "vgpu" / "fleet.yaml"
L40S_SLICE = "CUSTOM_GPU_VCPU:8,CUSTOM_GPU_MEMORY_MB:65536,CUSTOM_GPU_DISK_GB:100"
A10_SLICE = "VGPU:1,CUSTOM_VGPU_VCPU:4,CUSTOM_VGPU_MEMORY_MB:16384"


def test_the_passthrough_slice_comes_from_the_root_and_the_cards_slice_from_a_card(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gpuslice.twin import verify

    seen: dict[str, Any] = {}

    def candidates(twin: Any, names: dict[str, str], query: str) -> list[dict[str, Any]]:
        body = twin.placement.get(f"/allocation_candidates?{query}", version="1.36").body
        return [
            {names[rp]: dict(a["resources"]) for rp, a in request["allocations"].items()}
            for request in body["allocation_requests"]
        ]

    def look(twin: Any, *_: Any) -> None:
        names = {p["uuid"]: p["name"] for p in twin.providers()}
        seen["passthrough"] = candidates(twin, names, f"resources={L40S_SLICE}")
        seen["vgpu"] = candidates(twin, names, f"resources1={A10_SLICE}")

    monkeypatch.setattr(verify, "run_vgpu_scenario", look)
    verify.verify(load_fleet(EXAMPLE), hosts=["mixed-01"])
    root_slice = {"CUSTOM_GPU_VCPU": 8, "CUSTOM_GPU_MEMORY_MB": 65536, "CUSTOM_GPU_DISK_GB": 100}
    assert seen["passthrough"] == [{"mixed-01": root_slice}]
    cards = ("mixed-01_pci_0000_17_00_0", "mixed-01_pci_0000_65_00_0")
    assert sorted(next(iter(c)) for c in seen["vgpu"]) == sorted(cards)
    assert all(len(c) == 1 for c in seen["vgpu"])
