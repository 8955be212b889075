"""Audit on a cloud with a GPU menu (1/2/4-GPU flavors, two models, a mixed host) and an SR-IOV
NIC flavor: judged per model and size, no false alarm, fragmentation reported."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from gpuslice.cloud.audit import Expected, audit, prometheus_text, requested_resources
from gpuslice.cloud.state import (
    CloudSnapshot,
    LiveAggregate,
    LiveFlavor,
    LiveHypervisor,
    LiveInventory,
    LiveProvider,
    LiveServer,
)
from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan
from gpuslice.plan.types import Plan
from tests.conftest import Writer

FLEET = """\
release: "2025.1"
strategy: placement
slice: {vcpus: 2, memory_mb: 4096, disk_gb: 40}
controllers: [ctl1]
gpu_models:
  - vendor_id: "10de"
    product_id: "20f1"
    alias: a100
    slice: {vcpus: 12, memory_mb: 98304, disk_gb: 200}
    flavors:
      - {name: g1.a100, gpus: 1}
      - {name: g2.a100, gpus: 2}
      - {name: g4.a100, gpus: 4}
  - vendor_id: "10de"
    product_id: "26b5"
    alias: l40s
    slice: {vcpus: 8, memory_mb: 65536, disk_gb: 100}
    flavors: [{name: g1.l40s, gpus: 1}, {name: g2.l40s, gpus: 2}]
hosts:
  - name: quad
    cpus: 128
    memory_mb: 1048576
    disk_gb: 3840
    gpus:
      - {address: "17:00.0", vendor_id: "10de", product_id: "20f1"}
      - {address: "31:00.0", vendor_id: "10de", product_id: "20f1"}
      - {address: "b1:00.0", vendor_id: "10de", product_id: "20f1"}
      - {address: "ca:00.0", vendor_id: "10de", product_id: "20f1"}
  - name: duo
    cpus: 64
    memory_mb: 524288
    disk_gb: 1920
    gpus:
      - {address: "41:00.0", vendor_id: "10de", product_id: "26b5"}
      - {address: "c1:00.0", vendor_id: "10de", product_id: "26b5"}
  - name: mixed
    cpus: 96
    memory_mb: 786432
    disk_gb: 3840
    gpus:
      - {address: "17:00.0", vendor_id: "10de", product_id: "20f1"}
      - {address: "31:00.0", vendor_id: "10de", product_id: "20f1"}
      - {address: "41:00.0", vendor_id: "10de", product_id: "26b5"}
"""

NIC = LiveFlavor(
    "nic", "m1.sriov", 4, 8192, 20, True, {"pci_passthrough:alias": "mlx-vf:1"}, None, None
)

Snap = Callable[..., CloudSnapshot]


@pytest.fixture
def plan(write_fleet: Writer) -> Plan:
    return make_plan(load_fleet(write_fleet(FLEET)))


def _fits(flavor: LiveFlavor, provider: LiveProvider) -> bool:
    """Placement's answer for the flavor's resources (slice only, as the audit's query asks)."""
    return all(
        rc in provider.inventories
        and provider.inventories[rc].capacity - provider.usages.get(rc, 0) >= n
        for rc, n in requested_resources(flavor).items()
    )


@pytest.fixture
def snapshot(plan: Plan) -> Snap:
    flavors = tuple(
        LiveFlavor(
            f.name, f.name, f.vcpus, f.ram, f.disk, False, dict(f.extra_specs), "[gpuslice] menu"
        )
        for f in plan.cloud.flavors
    )

    def make(
        gpu_vms: Mapping[str, tuple[str, ...]] = {},
        extra: tuple[LiveFlavor, ...] = (NIC,),
    ) -> CloudSnapshot:
        by_name = {f.name: f for f in (*flavors, *extra)}
        providers = []
        servers = {}
        for host in plan.hosts:
            (planned,) = host.providers
            allocations: dict[str, dict[str, int]] = {}
            for index, name in enumerate(gpu_vms.get(host.host.name, ())):
                vm = f"{host.host.name}-vm{index}"
                allocations[vm] = requested_resources(by_name[name])
                servers[vm] = LiveServer(
                    vm, vm, "p1", name, by_name[name].vcpus, by_name[name].extra_specs
                )
            usages: dict[str, int] = {}
            for held in allocations.values():
                for rc, n in held.items():
                    usages[rc] = usages.get(rc, 0) + n
            providers.append(
                LiveProvider(
                    f"uuid-{host.host.name}",
                    host.host.name,
                    1,
                    f"uuid-{host.host.name}",
                    inventories={
                        rc: LiveInventory(inv.total, inv.reserved, inv.allocation_ratio)
                        for rc, inv in planned.inventories.items()
                    },
                    usages=usages,
                    traits=planned.traits,
                    allocations=allocations,
                )
            )
        all_flavors = (*flavors, *extra)
        candidates = {
            f.name: frozenset(p.name for p in providers if _fits(f, p)) for f in all_flavors
        }
        return CloudSnapshot(
            providers=tuple(providers),
            hypervisors=tuple(LiveHypervisor(p.name, p.name) for p in providers),
            flavors=all_flavors,
            aggregates=tuple(
                LiveAggregate(a.name, a.name, dict(a.metadata), a.hosts)
                for a in plan.cloud.aggregates
            ),
            servers=servers,
            candidates=candidates,
        )

    return make


def _expected(plan: Plan) -> Expected:
    return Expected(plan.providers, plan.cloud, plan.aliases)


@pytest.mark.parametrize("with_fleet", [True, False])
def test_menu_cloud_with_a_nic_flavor_has_no_false_alarm(
    plan: Plan, snapshot: Snap, with_fleet: bool
) -> None:
    report = audit(snapshot(), _expected(plan) if with_fleet else None)
    assert report.violations == ()
    assert "m1.sriov" not in report.gpu_flavors
    assert report.gpu_flavors == ("g1.a100", "g2.a100", "g4.a100", "g1.l40s", "g2.l40s")
    hosts = {h.name: h for h in report.hosts}
    assert hosts["duo"].bootable["g2.l40s"] is True
    assert hosts["quad"].bootable["g4.a100"] is True
    if with_fleet:
        # the L40S host cannot take an A100 flavor even though its slice pool would fit g1.a100
        assert hosts["duo"].bootable["g1.a100"] is False
        assert {m: (c.total, c.free) for m, c in hosts["mixed"].models.items()} == {
            "a100": (2, 2),
            "l40s": (1, 1),
        }
    else:
        # without the fleet (and PCI outside Placement) the models on a host are unknown
        assert set(hosts["mixed"].models) == {"?"}


def test_nic_vm_on_a_gpu_host_uses_no_gpu(plan: Plan, snapshot: Snap) -> None:
    snap = snapshot({"quad": ("m1.sriov",)})
    report = audit(snap, _expected(plan))
    quad = next(h for h in report.hosts if h.name == "quad")
    assert quad.models["a100"].free == 4
    assert report.violations == ()


def test_nic_flavor_asking_the_slice_is_flagged() -> None:
    nic = LiveFlavor(
        "n",
        "m1.sneaky",
        4,
        8192,
        20,
        True,
        {"pci_passthrough:alias": "mlx-vf:1", "resources:CUSTOM_GPU_VCPU": "4"},
    )
    gpu = LiveFlavor(
        "g", "g1.gpu", 2, 4096, 0, False, {"pci_passthrough:alias": "gpu:1"}, "[gpuslice] x"
    )
    report = audit(CloudSnapshot(flavors=(nic, gpu)))
    assert [v.rule for v in report.violations] == ["flavor_slice_without_alias"]
    assert report.gpu_flavors == ("g1.gpu",)


def test_fragmentation_is_reported_per_model_and_size(plan: Plan, snapshot: Snap) -> None:
    # quad: 1 A100 free; mixed: 1 A100 free (and its L40S taken): 2 free, none has 2 on one host
    snap = snapshot(
        {"quad": ("g2.a100", "g1.a100"), "mixed": ("g1.a100", "g1.l40s"), "duo": ("g1.l40s",)}
    )
    report = audit(snap, _expected(plan))
    assert report.violations == ()
    states = {f.name: f for f in report.flavors}
    assert states["g2.a100"].message == "2 a100 free, but no host has 2 free: g2.a100 cannot boot"
    assert states["g2.a100"].fragmented
    assert states["g4.a100"].message == "2 a100 free in the cloud: g4.a100 (4) cannot boot"
    assert not states["g4.a100"].fragmented
    assert states["g1.a100"].bootable_hosts == ("mixed", "quad")
    assert states["g1.l40s"].bootable_hosts == ("duo",)
    assert not states["g2.l40s"].can_boot
    metrics = prometheus_text(report)
    assert 'gpuslice_flavor_fragmented{flavor="g2.a100"} 1' in metrics
    assert 'gpuslice_model_gpus_free{host="mixed",model="l40s"} 0' in metrics
    data = report.as_json()
    assert data["flavors"][1]["fragmented"] is True  # type: ignore[index]


def test_free_gpus_of_the_right_model_without_a_candidate_break_the_promise(
    plan: Plan, snapshot: Snap
) -> None:
    snap = snapshot()
    candidates = dict(snap.candidates)
    candidates["g2.a100"] = frozenset({"quad"})  # mixed has 2 A100 free but is not offered
    from dataclasses import replace

    report = audit(replace(snap, candidates=candidates), _expected(plan))
    assert [(v.rule, v.subject) for v in report.violations] == [
        ("gpu_free_not_bootable", "mixed/g2.a100")
    ]
    assert "2 a100 GPU(s) free" in report.violations[0].message
