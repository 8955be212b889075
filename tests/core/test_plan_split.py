"""The split strategy: the original recipe, with its mistakes fixed."""

from __future__ import annotations

import pytest

from gpuslice.errors import InputError
from gpuslice.plan import make_plan
from gpuslice.plan.types import GPU_UNIT, ML2_CONF, NOVA_CONF, NOVA_GPU_CONF, Option, Plan
from gpuslice.releases import RELEASE_NAMES
from tests.core.fleets import lab_fleet


def option(plan: Plan, node: str, path: str, section: str, name: str) -> str | tuple[str, ...]:
    for o in plan.node(node).options:
        if (o.path, o.section, o.name) == (path, section, name):
            return o.value
    raise AssertionError(f"{node} {path} [{section}] {name} not planned")


def options_of(plan: Plan, node: str, path: str) -> list[Option]:
    return [o for o in plan.node(node).options if o.path == path]


@pytest.fixture
def newton() -> Plan:
    return make_plan(lab_fleet(14, "split"))


def test_cpu_sets_split_24_cpus_into_22_and_2(newton: Plan) -> None:
    assert option(newton, "hyper18", NOVA_CONF, "DEFAULT", "vcpu_pin_set") == "0-21"
    assert option(newton, "hyper18", NOVA_GPU_CONF, "DEFAULT", "vcpu_pin_set") == "22-23"
    host = newton.hosts[0]
    assert len(host.general_cpus) == 22
    assert host.gpu_cpus == (22, 23)


def test_the_two_services_never_count_the_same_memory_or_disk_twice(newton: Plan) -> None:
    general_memory = int(option(newton, "hyper18", NOVA_CONF, "DEFAULT", "reserved_host_memory_mb"))  # type: ignore[arg-type]
    gpu_memory = int(option(newton, "hyper18", NOVA_GPU_CONF, "DEFAULT", "reserved_host_memory_mb"))  # type: ignore[arg-type]
    total = 131072
    # What each service may hand out, plus the host's own 512, is the whole host.
    assert (total - general_memory) + (total - gpu_memory) + 512 == total
    assert total - gpu_memory == 4096
    general_disk = int(option(newton, "hyper18", NOVA_CONF, "DEFAULT", "reserved_host_disk_mb"))  # type: ignore[arg-type]
    gpu_disk = int(option(newton, "hyper18", NOVA_GPU_CONF, "DEFAULT", "reserved_host_disk_mb"))  # type: ignore[arg-type]
    assert (2000 * 1024 - general_disk) + (2000 * 1024 - gpu_disk) == 2000 * 1024
    assert 2000 * 1024 - gpu_disk == 40 * 1024


def test_gpu_service_has_its_own_host_state_and_the_only_whitelist(newton: Plan) -> None:
    assert option(newton, "hyper18", NOVA_GPU_CONF, "DEFAULT", "host") == "gpu18"
    assert option(newton, "hyper16", NOVA_GPU_CONF, "DEFAULT", "host") == "gpu2"
    assert option(newton, "hyper18", NOVA_GPU_CONF, "DEFAULT", "state_path") != ""
    whitelist = option(newton, "hyper18", NOVA_GPU_CONF, "DEFAULT", "pci_passthrough_whitelist")
    assert whitelist == ('{"vendor_id": "10de", "product_id": "1024"}',)
    assert not [
        o for o in options_of(newton, "hyper18", NOVA_CONF) if o.name == "pci_passthrough_whitelist"
    ]


def test_alias_on_controllers_and_computes_once(newton: Plan) -> None:
    alias = (
        '{"vendor_id": "10de", "product_id": "1024", "name": "gpu", "device_type": "type-PCI"}',
    )
    assert option(newton, "ctl1", NOVA_CONF, "DEFAULT", "pci_alias") == alias
    assert option(newton, "hyper18", NOVA_CONF, "DEFAULT", "pci_alias") == alias
    assert not [o for o in options_of(newton, "hyper18", NOVA_GPU_CONF) if o.name == "pci_alias"]


def test_scheduler_filters_under_newtons_name(newton: Plan) -> None:
    filters = str(option(newton, "ctl2", NOVA_CONF, "DEFAULT", "scheduler_default_filters"))
    assert {
        "PciPassthroughFilter",
        "AggregateInstanceExtraSpecsFilter",
        "AggregateTypeAffinityFilter",
    } <= set(filters.split(","))


def test_systemd_unit_is_complete(newton: Plan) -> None:
    unit = {(o.section, o.name): o.value for o in options_of(newton, "hyper18", GPU_UNIT)}
    assert unit[("Service", "ExecStart")] == (
        "/usr/bin/nova-compute --config-file /etc/nova/nova.conf "
        "--config-file /etc/nova/nova-gpu.conf"
    )
    assert unit[("Service", "Restart")] == "always"
    assert unit[("Install", "WantedBy")] == "multi-user.target"
    assert ("Unit", "Description") in unit


def test_neutron_host_aliases_on_controllers(newton: Plan) -> None:
    assert option(newton, "ctl1", ML2_CONF, "ml2_gpuslice", "host_aliases") == (
        "gpu18:hyper18,gpu2:hyper16"
    )
    drivers = str(option(newton, "ctl1", ML2_CONF, "ml2", "mechanism_drivers")).split(",")
    assert drivers.index("gpuslice_host_alias") < drivers.index("openvswitch")


def test_cloud_objects_are_the_recipes(newton: Plan) -> None:
    (aggregate,) = newton.cloud.aggregates
    assert aggregate.name == "gpu"
    assert aggregate.metadata["gpu"] == "true"
    assert aggregate.metadata["instance_type"] == "g1.gpu"
    assert aggregate.hosts == ("gpu18", "gpu2")
    (flavor,) = newton.cloud.flavors
    assert (flavor.name, flavor.vcpus, flavor.ram, flavor.disk, flavor.is_public) == (
        "g1.gpu",
        2,
        4096,
        40,
        False,
    )
    assert flavor.extra_specs["pci_passthrough:alias"] == "gpu:1"


def test_providers_hold_exactly_the_slice_on_the_gpu_service(newton: Plan) -> None:
    general, gpu = newton.hosts[0].providers
    assert (gpu.name, gpu.service_host) == ("gpu18", "gpu18")
    assert gpu.inventories["VCPU"].capacity == 2
    assert gpu.inventories["MEMORY_MB"].capacity == 4096
    assert gpu.inventories["DISK_GB"].capacity == 40
    assert general.inventories["VCPU"].capacity == 22
    assert general.inventories["MEMORY_MB"].capacity == 131072 - 512 - 4096
    assert gpu.pci_devices
    assert not general.pci_devices


@pytest.mark.parametrize("number", [n for n in RELEASE_NAMES if n > 14])
def test_split_is_refused_after_newton_with_the_reason(number: int) -> None:
    with pytest.raises(InputError) as caught:
        make_plan(lab_fleet(number, "split"))
    message = str(caught.value)
    assert "409 Conflicting resource provider name" in message
    assert "uniq_resource_providers0name" in message
    assert "hypervisor_hostname" in message
    assert "Use strategy placement" in message
    assert ("compute_id" in message) == (number >= 27)


def test_auto_picks_split_on_newton() -> None:
    assert make_plan(lab_fleet(14, "auto")).strategy == "split"


def test_gpu_cpus_are_numa_local_when_the_fleet_says_where() -> None:
    from dataclasses import replace

    from tests.core.fleets import k40c

    fleet = lab_fleet(14, "split")
    host = replace(
        fleet.hosts[0],
        gpus=(k40c(numa_node=0),),
        cpu_numa=((0, tuple(range(12))), (1, tuple(range(12, 24)))),
    )
    plan = make_plan(replace(fleet, hosts=(host, *fleet.hosts[1:])))
    assert plan.hosts[0].gpu_cpus == (10, 11)
    assert option(plan, "hyper18", NOVA_CONF, "DEFAULT", "vcpu_pin_set") == "0-9,12-23"
