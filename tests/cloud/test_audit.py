"""Audit rules over hand-made snapshots of a cloud."""

from __future__ import annotations

from collections.abc import Mapping

from gpuslice.cloud.audit import (
    Expected,
    alias_count,
    audit,
    candidates_query,
    prometheus_text,
    requested_resources,
)
from gpuslice.cloud.state import (
    CloudSnapshot,
    LiveAggregate,
    LiveFlavor,
    LiveHypervisor,
    LiveInventory,
    LiveProvider,
    LiveServer,
)
from gpuslice.inventory.device import GpuDevice
from gpuslice.plan.types import Aggregate, CloudObjects, Inventory, Provider
from tests.cloud.live_specs import GPU_SPECS

G1 = LiveFlavor("f1", "g1.gpu", 2, 4096, 40, False, GPU_SPECS, "[gpuslice] x", ())
SLICE_INV = {
    "VCPU": LiveInventory(8, 2),
    "MEMORY_MB": LiveInventory(16384, 4096),
    "CUSTOM_GPU_VCPU": LiveInventory(4),
    "CUSTOM_GPU_MEMORY_MB": LiveInventory(8192),
    "CUSTOM_GPU_DISK_GB": LiveInventory(80),
}


def _host(
    name: str,
    usages: Mapping[str, int] | None = None,
    allocations: Mapping[str, Mapping[str, int]] | None = None,
    inventories: Mapping[str, LiveInventory] | None = None,
) -> LiveProvider:
    return LiveProvider(
        f"uuid-{name}",
        name,
        3,
        f"uuid-{name}",
        inventories=SLICE_INV if inventories is None else inventories,
        usages=usages or {},
        allocations=allocations or {},
    )


def _snapshot(**fields: object) -> CloudSnapshot:
    base: dict[str, object] = {
        "providers": (_host("hyper18"), _host("hyper20", inventories={"VCPU": LiveInventory(8)})),
        "hypervisors": (LiveHypervisor("hyper18", "hyper18"), LiveHypervisor("hyper20", "hyper20")),
        "flavors": (G1,),
        "aggregates": (LiveAggregate("1", "gpu", {"gpuslice:managed": "true"}, ("hyper18",)),),
        "candidates": {"g1.gpu": frozenset({"hyper18"})},
    }
    base.update(fields)
    return CloudSnapshot(**base)  # type: ignore[arg-type]


def test_requested_resources_follow_nova_overrides() -> None:
    assert requested_resources(G1) == {
        "CUSTOM_GPU_VCPU": 2,
        "CUSTOM_GPU_MEMORY_MB": 4096,
        "CUSTOM_GPU_DISK_GB": 40,
    }
    plain = LiveFlavor("f2", "m1", 4, 2048, 10, True, {"hw:cpu_policy": "dedicated"})
    assert requested_resources(plain) == {"PCPU": 4, "MEMORY_MB": 2048, "DISK_GB": 10}
    # a numbered group's MEMORY_MB replaces the flavor's RAM (nova 34), it does not add to it
    numbered = LiveFlavor("f3", "n1", 2, 1024, 10, True, {"resources1:MEMORY_MB": "512"})
    assert requested_resources(numbered) == {"VCPU": 2, "MEMORY_MB": 512, "DISK_GB": 10}


def test_candidates_query_asks_each_request_group() -> None:
    vgpu = LiveFlavor(
        "f4",
        "v1",
        4,
        8192,
        40,
        True,
        {
            "resources:VCPU": "0",
            "resources:MEMORY_MB": "0",
            "resources1:VGPU": "1",
            "resources1:CUSTOM_GPU_VCPU": "4",
            "trait1:CUSTOM_CARD": "required",
            "trait:CUSTOM_SLOW": "forbidden",
        },
    )
    assert candidates_query(vgpu) == {
        "resources": "DISK_GB:40",
        "required": "!CUSTOM_SLOW",
        "resources1": "CUSTOM_GPU_VCPU:4,VGPU:1",
        "required1": "CUSTOM_CARD",
    }
    two = LiveFlavor(
        "f5", "t", 1, 512, 0, True, {"resources1:CUSTOM_A": "1", "resources2:CUSTOM_A": "1"}
    )
    assert candidates_query(two)["group_policy"] == "none"


def test_alias_count_adds_every_alias() -> None:
    assert alias_count({"pci_passthrough:alias": "gpu:1, a100:2"}) == 3
    assert alias_count({"pci_passthrough:alias": "gpu"}) == 1
    assert alias_count({}) == 0


def test_healthy_cloud_reports_gpus_and_holds_the_promise() -> None:
    report = audit(_snapshot())
    assert not report.promise_broken
    (host,) = report.hosts  # hyper20 has no slice: not a GPU host
    assert (host.name, host.gpus_total, host.gpus_free, host.gpu_source) == (
        "hyper18",
        2,
        2,
        "slice",
    )
    assert host.slice_held == {
        "CUSTOM_GPU_DISK_GB": 80,
        "CUSTOM_GPU_MEMORY_MB": 8192,
        "CUSTOM_GPU_VCPU": 4,
    }
    assert host.bootable == {"g1.gpu": True}


def test_a_gpu_vm_uses_a_gpu_and_is_no_violation() -> None:
    vm = LiveServer("vm1", "train", "p1", "g1.gpu", 2, GPU_SPECS)
    held = {"CUSTOM_GPU_VCPU": 2, "CUSTOM_GPU_MEMORY_MB": 4096, "CUSTOM_GPU_DISK_GB": 40}
    snapshot = _snapshot(
        providers=(_host("hyper18", usages=held, allocations={"vm1": held}),),
        servers={"vm1": vm},
        quota_cores_in_use={"p1": 2},
    )
    report = audit(snapshot)
    assert report.violations == ()
    assert report.hosts[0].gpus_free == 1


def test_an_ordinary_vm_on_the_slice_breaks_the_promise() -> None:
    vm = LiveServer("vm2", "web", "p1", "m1.sneaky", 2, {"resources:CUSTOM_GPU_VCPU": "4"})
    held = {"CUSTOM_GPU_VCPU": 4}
    snapshot = _snapshot(
        providers=(_host("hyper18", usages=held, allocations={"vm2": held}),),
        servers={"vm2": vm},
        flavors=(G1, LiveFlavor("f2", "m1.sneaky", 2, 1024, 1, True, vm.extra_specs)),
        candidates={"g1.gpu": frozenset()},
        quota_cores_in_use={"p1": 0},
    )
    rules = [(v.rule, v.host) for v in audit(snapshot).violations]
    assert rules == [
        ("slice_consumer_without_gpu", "hyper18"),
        ("flavor_slice_without_alias", None),
        ("quota_from_placement", None),
        ("gpu_free_not_bootable", "hyper18"),  # its GPUs are idle, g1.gpu cannot boot
    ]


def test_a_consumer_that_is_not_a_server_is_flagged() -> None:
    snapshot = _snapshot(
        providers=(_host("hyper18", allocations={"c-1": {"CUSTOM_GPU_MEMORY_MB": 10}}),)
    )
    (violation,) = [v for v in audit(snapshot).violations if v.rule != "gpu_free_not_bootable"]
    assert violation.rule == "slice_consumer_without_gpu"
    assert "not a nova server" in violation.message


def test_quota_counting_cores_is_no_violation() -> None:
    vm = LiveServer("vm1", "train", "p1", "g1.gpu", 2, GPU_SPECS)
    held = {"CUSTOM_GPU_VCPU": 2}
    snapshot = _snapshot(
        providers=(_host("hyper18", usages=held, allocations={"vm1": held}),),
        servers={"vm1": vm},
        quota_cores_in_use={"p1": 2},
    )
    assert [v.rule for v in audit(snapshot).violations] == []
    counted_from_placement = _snapshot(
        providers=snapshot.providers, servers=snapshot.servers, quota_cores_in_use={"p1": 0}
    )
    assert [v.rule for v in audit(counted_from_placement).violations] == ["quota_from_placement"]


def test_inventory_drift_against_the_plan() -> None:
    gpu = GpuDevice(address="0000:86:00.0", vendor_id="10de", product_id="1023")
    planned = Provider(
        "hyper18",
        "hyper18",
        {"CUSTOM_GPU_VCPU": Inventory(4), "VCPU": Inventory(8, 4)},
        traits=("CUSTOM_GPU_HOST",),
        pci_devices=(gpu, gpu),
    )
    missing = Provider("hyper99", "hyper99", {"VCPU": Inventory(8)})
    # a plain host gets no file from gpuslice: nova's default reserve there is no drift
    plain = Provider("hyper20", "hyper20", {"VCPU": Inventory(8, 2)})
    report = audit(_snapshot(), Expected(providers=(planned, missing, plain)))
    drift = sorted(v.subject for v in report.violations if v.rule == "inventory_drift")
    assert drift == ["hyper18/VCPU", "hyper18/traits", "hyper99"]
    assert report.hosts[0].gpu_source == "fleet"
    assert report.hosts[0].gpus_total == 2


def test_gpu_host_outside_its_aggregate() -> None:
    plan = CloudObjects(aggregates=(Aggregate("gpu", {"gpu": "true"}, ("hyper18", "hyper19")),))
    report = audit(_snapshot(), Expected(cloud=plan))
    assert [(v.rule, v.host) for v in report.violations] == [("host_outside_aggregate", "hyper19")]
    # Without a plan: a GPU host in none of gpuslice's aggregates.
    alone = _snapshot(aggregates=(LiveAggregate("1", "gpu", {"gpuslice:managed": "true"}, ()),))
    assert [v.rule for v in audit(alone).violations] == ["host_outside_aggregate"]
    # No aggregate of gpuslice's at all: nothing to be outside of.
    assert audit(_snapshot(aggregates=())).violations == ()


def test_pci_providers_count_gpus_where_placement_reports_them() -> None:
    root = _host("hyper18")
    child = LiveProvider(
        "uuid-pci",
        "hyper18_0000:86:00.0",
        1,
        root.uuid,
        parent_uuid=root.uuid,
        inventories={"CUSTOM_PCI_10DE_1023": LiveInventory(1)},
        usages={"CUSTOM_PCI_10DE_1023": 1},
    )
    report = audit(_snapshot(providers=(root, child)))
    assert (report.hosts[0].gpus_total, report.hosts[0].gpus_free) == (1, 0)
    assert report.hosts[0].gpu_source == "placement-pci"


def test_prometheus_text_has_the_metrics_people_alert_on() -> None:
    text = prometheus_text(audit(_snapshot(candidates={"g1.gpu": frozenset()})))
    assert "gpuslice_promise_broken 1\n" in text
    assert 'gpuslice_gpus_free{host="hyper18"} 2\n' in text
    assert 'gpuslice_gpu_flavors_bootable{host="hyper18"} 0\n' in text
    assert 'gpuslice_flavor_bootable{host="hyper18",flavor="g1.gpu"} 0\n' in text
    assert 'gpuslice_violations{rule="gpu_free_not_bootable"} 1\n' in text
    for line in text.splitlines():
        assert line.startswith("#") or line.startswith("gpuslice_")
