"""Audit per vGPU card: vGPUs and slice used and free, which vGPU flavors can boot there now."""

from __future__ import annotations

from pathlib import Path

from gpuslice.cloud.audit import audit
from gpuslice.cloud.state import CloudSnapshot, LiveFlavor, LiveInventory, LiveProvider
from gpuslice.cloud.vgpu_audit import vgpu_ask, vgpus_asked
from gpuslice.fleetfile import parse_fleet
from gpuslice.plan import make_plan
from tests.core.test_plan_vgpu import FLEET

CARD_A = "vg1.example.org_pci_0000_17_00_0"
CARD_B = "vg1.example.org_pci_0000_65_00_0"


def _flavors() -> tuple[LiveFlavor, ...]:
    fleet = parse_fleet(
        FLEET.format(release="2025.1", strategy="placement"), source="f.yaml", base_dir=Path()
    )
    return tuple(
        LiveFlavor(f"id-{f.name}", f.name, f.vcpus, f.ram, f.disk, False, f.extra_specs)
        for f in make_plan(fleet).cloud.flavors
    )


def _card(name: str, used: dict[str, int], slice_on_card: bool = True) -> LiveProvider:
    inventories = {"VGPU": LiveInventory(4)}
    if slice_on_card:
        inventories["CUSTOM_VGPU_VCPU"] = LiveInventory(8)
        inventories["CUSTOM_VGPU_MEMORY_MB"] = LiveInventory(32768)
    return LiveProvider(
        uuid=name,
        name=name,
        generation=1,
        root_uuid="root",
        parent_uuid="root",
        inventories=inventories,
        usages=used,
        traits=("CUSTOM_VGPU_A10",) if slice_on_card else (),
    )


def _snapshot(card_a: LiveProvider, card_b: LiveProvider) -> CloudSnapshot:
    root = LiveProvider(
        uuid="root",
        name="vg1.example.org",
        generation=1,
        root_uuid="root",
        inventories={
            "VCPU": LiveInventory(32, 16),
            "MEMORY_MB": LiveInventory(131072, 66560),
            "DISK_GB": LiveInventory(1000, 80),
            "CUSTOM_GPU_DISK_GB": LiveInventory(80),
        },
        usages={"CUSTOM_GPU_DISK_GB": 10},
    )
    return CloudSnapshot(providers=(root, card_a, card_b), flavors=_flavors())


def test_each_card_reports_vgpus_and_slice_and_what_boots() -> None:
    used = {"VGPU": 1, "CUSTOM_VGPU_VCPU": 2, "CUSTOM_VGPU_MEMORY_MB": 8192}
    report = audit(_snapshot(_card(CARD_A, used), _card(CARD_B, {})))
    assert not report.violations
    a, b = report.as_json()["vgpu_cards"]  # type: ignore[misc]
    assert a == {
        "host": "vg1.example.org",
        "provider": CARD_A,
        "vgpus_total": 4,
        "vgpus_used": 1,
        "vgpus_free": 3,
        "slice_held": {"CUSTOM_VGPU_MEMORY_MB": 32768, "CUSTOM_VGPU_VCPU": 8},
        "slice_used": {"CUSTOM_VGPU_MEMORY_MB": 8192, "CUSTOM_VGPU_VCPU": 2},
        "bootable": {"v1.a10": True, "v2.a10": True},
    }
    assert b["vgpus_free"] == 4


def test_a_card_whose_slice_is_taken_breaks_the_promise() -> None:
    taken = {"CUSTOM_VGPU_VCPU": 8, "CUSTOM_VGPU_MEMORY_MB": 32768}
    report = audit(_snapshot(_card(CARD_A, {}), _card(CARD_B, taken)))
    rules = {(v.rule, v.subject) for v in report.violations}
    assert rules == {
        ("vgpu_card_free_not_bootable", f"{CARD_B}/v1.a10"),
        ("vgpu_card_free_not_bootable", f"{CARD_B}/v2.a10"),
    }
    message = next(v.message for v in report.violations if v.subject.endswith("v1.a10"))
    assert "4 vGPU(s) free" in message
    assert "CUSTOM_VGPU_VCPU 0 free < 2" in message


def test_cards_without_their_slice_are_caught() -> None:
    # provider.yaml named other providers (a wrong hypervisor hostname): the cards lack the slice.
    report = audit(_snapshot(_card(CARD_A, {}, False), _card(CARD_B, {}, False)))
    assert len(report.violations) == 4
    assert all(v.rule == "vgpu_card_free_not_bootable" for v in report.violations)


def test_vgpu_flavors_asking_slice_classes_are_no_slice_thieves() -> None:
    report = audit(_snapshot(_card(CARD_A, {}), _card(CARD_B, {})))
    assert not [v for v in report.violations if v.rule == "flavor_slice_without_alias"]


def test_the_vgpu_ask_is_read_as_nova_reads_the_flavor() -> None:
    """The root is asked the unnumbered group as nova 34 builds it: the flavor's own disk
    where no `resources:DISK_GB` override zeroes it (not only the keys written out)."""
    flavor = LiveFlavor(
        "id",
        "v1",
        4,
        16384,
        20,
        False,
        {
            "resources:VCPU": "0",
            "resources:MEMORY_MB": "0",
            "resources1:VGPU": "1",
            "resources1:CUSTOM_VGPU_VCPU": "4",
            "trait1:CUSTOM_VGPU_A10": "required",
        },
    )
    ask = vgpu_ask(flavor)
    assert ask is not None
    assert dict(ask.group) == {"VGPU": 1, "CUSTOM_VGPU_VCPU": 4}
    assert ask.group_traits == ("CUSTOM_VGPU_A10",)
    assert dict(ask.root) == {"DISK_GB": 20}
    assert vgpus_asked({"resources1:VGPU": "2", "resources:VGPU": "1"}) == 3
