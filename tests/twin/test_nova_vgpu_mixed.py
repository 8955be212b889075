"""A host mixing tied vGPU cards with a passed-through GPU, on real nova 34 / placement 16:
Placement offers the passthrough flavor's slice from the vGPU cards (the model follows it).

The passthrough flavor asks its slice unnumbered (`resources:CUSTOM_GPU_VCPU=8`, ...); the
tied cards hold the same classes, and Placement takes each class of the unnumbered group from
any provider of the tree. nova boots with the first candidate, in an order that follows
Python's string hashing: with the L40S VM first, its slice landed on an A10 card in 7 runs of
7 (PYTHONHASHSEED 1 to 7), and a 4-vGPU VM was then refused with a card's 4 vGPUs free.
Which candidate comes first varies by process, so only the candidates are asserted here.
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


def test_placement_offers_the_passthrough_slice_from_the_vgpu_cards(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gpuslice.twin import verify

    seen: dict[str, Any] = {}

    def look(twin: Any, *_: Any) -> None:
        names = {p["uuid"]: p["name"] for p in twin.providers()}
        body = twin.placement.get(
            f"/allocation_candidates?resources={L40S_SLICE}", version="1.36"
        ).body
        seen["candidates"] = [
            {names[rp]: dict(a["resources"]) for rp, a in request["allocations"].items()}
            for request in body["allocation_requests"]
        ]

    monkeypatch.setattr(verify, "run_vgpu_scenario", look)
    verify.verify(load_fleet(EXAMPLE), hosts=["mixed-01"])
    candidates = seen["candidates"]
    cards = ("mixed-01_pci_0000_17_00_0", "mixed-01_pci_0000_65_00_0")
    # vCPUs from the root or either card, RAM likewise: 3 x 3 combinations, disk on the root
    assert len(candidates) == 9
    vcpu_from = {next(p for p, r in c.items() if "CUSTOM_GPU_VCPU" in r) for c in candidates}
    assert vcpu_from == {"mixed-01", *cards}
    assert {
        "mixed-01": {"CUSTOM_GPU_VCPU": 8, "CUSTOM_GPU_MEMORY_MB": 65536, "CUSTOM_GPU_DISK_GB": 100}
    } in candidates
