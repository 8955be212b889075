"""The placement strategy: what DESIGN.md reports as seen working on real nova."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gpuslice.errors import InputError
from gpuslice.plan import make_plan
from gpuslice.plan.types import NOVA_CONF, PROVIDER_YAML, Plan
from gpuslice.releases import RELEASE_NAMES
from tests.core.fleets import k40c, lab_fleet
from tests.core.test_plan_split import option


@pytest.fixture
def accounted() -> Plan:
    return make_plan(lab_fleet(31, "placement"))


@pytest.fixture
def dedicated() -> Plan:
    fleet = lab_fleet(31, "placement", cpu_mode="dedicated")
    numa = ((0, tuple(range(12))), (1, tuple(range(12, 24))))
    hosts = tuple(
        replace(h, gpus=(k40c(numa_node=1),), cpu_numa=numa) if h.gpus else h for h in fleet.hosts
    )
    return make_plan(replace(fleet, hosts=hosts))


def test_slice_leaves_standard_inventory(accounted: Plan) -> None:
    assert option(accounted, "hyper18", NOVA_CONF, "DEFAULT", "reserved_host_cpus") == "2"
    assert option(accounted, "hyper18", NOVA_CONF, "DEFAULT", "reserved_host_memory_mb") == str(
        512 + 4096
    )
    assert option(accounted, "hyper18", NOVA_CONF, "DEFAULT", "reserved_host_disk_mb") == str(
        40 * 1024
    )


def test_slice_comes_back_as_custom_inventory_with_the_trait(accounted: Plan) -> None:
    (document,) = [d for d in accounted.node("hyper18").documents if d.path == PROVIDER_YAML]
    (provider,) = document.content["providers"]
    assert provider["identification"] == {"uuid": "$COMPUTE_NODE"}
    assert provider["inventories"]["additional"] == [
        {"CUSTOM_GPU_VCPU": {"total": 2}},
        {"CUSTOM_GPU_MEMORY_MB": {"total": 4096}},
        {"CUSTOM_GPU_DISK_GB": {"total": 40}},
    ]
    assert provider["traits"]["additional"] == ["CUSTOM_GPU_HOST"]


def test_gpu_flavor_zeroes_standard_resources_and_asks_for_the_slice(accounted: Plan) -> None:
    (flavor,) = accounted.cloud.flavors
    assert dict(flavor.extra_specs) == {
        "pci_passthrough:alias": "gpu:1",
        "resources:VCPU": "0",
        "resources:MEMORY_MB": "0",
        "resources:DISK_GB": "0",
        "resources:CUSTOM_GPU_VCPU": "2",
        "resources:CUSTOM_GPU_MEMORY_MB": "4096",
        "resources:CUSTOM_GPU_DISK_GB": "40",
    }


def test_ordinary_vms_cannot_reach_the_slice(accounted: Plan) -> None:
    provider = accounted.hosts[0].providers[0]
    assert provider.inventories["VCPU"].capacity == 22
    assert provider.inventories["MEMORY_MB"].capacity == 131072 - 512 - 4096
    assert provider.inventories["CUSTOM_GPU_VCPU"].capacity == 2
    assert provider.inventories["CUSTOM_GPU_MEMORY_MB"].capacity == 4096


def test_no_host_without_gpus_gets_files(accounted: Plan) -> None:
    assert "hyper20" not in {n.name for n in accounted.nodes}


def test_dedicated_cpus_pin_gpu_vms_numa_local(dedicated: Plan) -> None:
    assert option(dedicated, "hyper18", NOVA_CONF, "compute", "cpu_dedicated_set") == "22-23"
    assert option(dedicated, "hyper18", NOVA_CONF, "compute", "cpu_shared_set") == "0-21"
    names = {o.name for o in dedicated.node("hyper18").options}
    assert "reserved_host_cpus" not in names  # cannot be combined with CPU sets
    (flavor,) = dedicated.cloud.flavors
    assert flavor.extra_specs["hw:cpu_policy"] == "dedicated"
    assert "resources:VCPU" not in flavor.extra_specs  # an error together with hw:cpu_policy
    assert "resources:PCPU" not in flavor.extra_specs
    assert flavor.extra_specs["resources:MEMORY_MB"] == "0"
    assert "NUMATopologyFilter" in dedicated.scheduler.filters
    assert (
        option(dedicated, "ctl1", NOVA_CONF, "workarounds", "disable_fallback_pcpu_query") == "True"
    )
    inventories = dedicated.hosts[0].providers[0].inventories
    assert inventories["PCPU"].total == 2
    assert "CUSTOM_GPU_VCPU" not in inventories


def test_dedicated_cpus_on_a_node_too_small_are_refused() -> None:
    fleet = lab_fleet(31, "placement", cpu_mode="dedicated")
    numa = ((0, (0,)), (1, tuple(range(1, 24))))
    hosts = tuple(
        replace(h, gpus=(k40c(numa_node=0),), cpu_numa=numa) if h.gpus else h for h in fleet.hosts
    )
    with pytest.raises(InputError, match="NUMA"):
        make_plan(replace(fleet, hosts=hosts))


@pytest.mark.parametrize("number", [n for n in RELEASE_NAMES if n < 22])
def test_placement_before_victoria_is_refused_with_what_works(number: int) -> None:
    with pytest.raises(InputError, match=r"provider\.yaml") as caught:
        make_plan(lab_fleet(number, "placement"))
    assert ("Use split" in str(caught.value)) == (number == 14)


def test_pci_in_placement_is_rendered_on_both_sides() -> None:
    plan = make_plan(lab_fleet(31, "placement", pci_in_placement=True))
    assert option(plan, "hyper18", NOVA_CONF, "pci", "report_in_placement") == "True"
    assert option(plan, "ctl1", NOVA_CONF, "filter_scheduler", "pci_in_placement") == "True"


def test_the_quota_caveat_is_said(accounted: Plan) -> None:
    assert any("count_usage_from_placement" in n.text for n in accounted.notes)
