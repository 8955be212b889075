"""What the operator already has (issue 10 §4): split's own paths, unified limits, filter option
names, PCI in Placement only where the release has it, node names that cannot be confused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gpuslice.cloud.objects import parse_cloud_objects
from gpuslice.errors import InputError
from gpuslice.fleet import Host
from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan
from gpuslice.plan.types import NOVA_CONF, NOVA_GPU_CONF, Plan
from gpuslice.render.tree import CLOUD_OBJECTS, render_files
from tests.core.fleets import k40c, lab_fleet

STRATEGIES = ("none", "weigher", "dedicated", "placement")


def options(plan: Plan, node: str, path: str = NOVA_CONF) -> dict[tuple[str, str], Any]:
    return {(o.section, o.name): o.value for o in plan.node(node).options if o.path == path}


def notes(plan: Plan, topic: str) -> str:
    return " ".join(n.text for n in plan.notes if n.topic == topic)


# split: the second service's paths


def test_split_gpu_service_has_its_own_instances_and_lock_paths() -> None:
    plan = make_plan(lab_fleet(14, "split"))
    gpu = options(plan, "hyper18", NOVA_GPU_CONF)
    state = gpu[("DEFAULT", "state_path")]
    assert gpu[("DEFAULT", "instances_path")] == f"{state}/instances"
    assert gpu[("oslo_concurrency", "lock_path")] == f"{state}/tmp"
    # The first service keeps the operator's own paths: gpuslice sets none in nova.conf.
    general = options(plan, "hyper18")
    assert ("DEFAULT", "instances_path") not in general
    assert ("oslo_concurrency", "lock_path") not in general
    assert "/instances" in notes(plan, "state")


def test_a_derived_gpu_service_host_that_is_another_hosts_name_is_refused() -> None:
    fleet = lab_fleet(
        14,
        "split",
        hosts=(
            Host("hyper18", tuple(range(24)), 131072, 2000, (k40c(),)),
            Host("gpu18", tuple(range(24)), 131072, 2000),
        ),
    )
    with pytest.raises(InputError, match="'gpu18' is already the name of host gpu18"):
        make_plan(fleet)


def test_two_hosts_deriving_the_same_gpu_service_host_are_refused() -> None:
    fleet = lab_fleet(
        14,
        "split",
        hosts=(
            Host("hyper18", tuple(range(24)), 131072, 2000, (k40c(),)),
            Host("node18", tuple(range(24)), 131072, 2000, (k40c(),)),
        ),
    )
    with pytest.raises(InputError, match=r"the GPU service of hyper18.*gpu_service_host"):
        make_plan(fleet)


# node names in the fleet file

FLEET = """\
release: newton
strategy: split
slice: {vcpus: 2, memory_mb: 4096, disk_gb: 40}
controllers: [ctl1]
hosts:
  - name: hyper18
    cpus: 24
    memory_mb: 131072
    disk_gb: 2000
    gpus: [{address: "86:00.0", vendor_id: "10de", product_id: "1024"}]
  - {name: hyper20, cpus: 24, memory_mb: 131072, disk_gb: 2000}
"""


@pytest.mark.parametrize("name", ["ctl1", "CTL1"])
def test_a_host_named_like_a_controller_is_refused(write_fleet: Any, name: str) -> None:
    path: Path = write_fleet(FLEET.replace("name: hyper20", f"name: {name}"))
    with pytest.raises(InputError) as caught:
        load_fleet(path)
    message = str(caught.value)
    assert f"host {name!r} is also the name of a controller" in message
    assert "hosts.1.name" in message
    assert ":11:" in message  # the line of the second host


def test_a_gpu_service_host_equal_to_another_hosts_name_is_refused(write_fleet: Any) -> None:
    text = FLEET.replace(
        '    gpus: [{address: "86:00.0", vendor_id: "10de", product_id: "1024"}]\n',
        '    gpus: [{address: "86:00.0", vendor_id: "10de", product_id: "1024"}]\n'
        "    gpu_service_host: Hyper20\n",
    )
    with pytest.raises(InputError) as caught:
        load_fleet(write_fleet(text))
    assert "gpu_service_host 'Hyper20' is already the name of a host" in str(caught.value)
    assert "hosts.0.gpu_service_host" in str(caught.value)


# scheduler filters: only Newton uses the DEFAULT name


@pytest.mark.parametrize(
    ("number", "strategy", "where"),
    [
        (14, "split", ("DEFAULT", "scheduler_default_filters")),
        (15, "dedicated", ("filter_scheduler", "enabled_filters")),
        (16, "dedicated", ("filter_scheduler", "enabled_filters")),
    ],
)
def test_only_newton_uses_scheduler_default_filters(
    number: int, strategy: str, where: tuple[str, str]
) -> None:
    controller = options(make_plan(lab_fleet(number), strategy), "ctl1")
    filters = [key for key in controller if key[1].endswith("filters")]
    assert filters == [where]
    assert "PciPassthroughFilter" in str(controller[where]).split(",")


# PCI in Placement


def test_pci_in_placement_before_zed_is_refused() -> None:
    with pytest.raises(InputError, match=r"report_in_placement.*Zed \(26\)"):
        make_plan(lab_fleet(25, "placement", pci_in_placement=True))


def test_zed_reports_pci_in_placement_but_cannot_schedule_with_it() -> None:
    plan = make_plan(lab_fleet(26, "placement", pci_in_placement=True))
    assert options(plan, "hyper18")[("pci", "report_in_placement")] == "True"
    assert ("filter_scheduler", "pci_in_placement") not in options(plan, "ctl1")
    assert not plan.scheduler.pci_in_placement


@pytest.mark.parametrize("number", [27, 31, 34])
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("cpu_mode", ["accounted", "dedicated"])
def test_from_2023_1_every_strategy_schedules_pci_in_placement_when_asked(
    number: int, strategy: str, cpu_mode: str
) -> None:
    plan = make_plan(lab_fleet(number, strategy, pci_in_placement=True, cpu_mode=cpu_mode))
    assert plan.scheduler.pci_in_placement
    assert options(plan, "ctl1")[("filter_scheduler", "pci_in_placement")] == "True"
    for host in ("hyper18", "hyper16"):
        assert options(plan, host)[("pci", "report_in_placement")] == "True"
    unasked = make_plan(lab_fleet(number, strategy, cpu_mode=cpu_mode))
    assert ("filter_scheduler", "pci_in_placement") not in options(unasked, "ctl1")
    assert ("pci", "report_in_placement") not in options(unasked, "hyper18")


# unified limits


def limits_of(plan: Plan) -> dict[str, int]:
    return {limit.resource_name: limit.default_limit for limit in plan.cloud.registered_limits}


def test_unified_limits_register_every_custom_class_the_gpu_flavor_asks_for() -> None:
    plan = make_plan(lab_fleet(30, "placement", unified_limits=True))
    # Two GPU hosts with one K40c each: two slices of 2 vCPU, 4096 MiB, 40 GiB.
    assert limits_of(plan) == {
        "class:CUSTOM_GPU_DISK_GB": 80,
        "class:CUSTOM_GPU_MEMORY_MB": 8192,
        "class:CUSTOM_GPU_VCPU": 4,
    }
    text = notes(plan, "unified-limits")
    assert "limit 0" in text
    assert "class:CUSTOM_GPU_VCPU" in text


def test_unified_limits_with_dedicated_cpus_register_pcpu() -> None:
    fleet = lab_fleet(
        28,
        "placement",
        unified_limits=True,
        cpu_mode="dedicated",
    )
    assert limits_of(make_plan(fleet)) == {
        "class:CUSTOM_GPU_DISK_GB": 80,
        "class:CUSTOM_GPU_MEMORY_MB": 8192,
        "class:PCPU": 4,
    }


@pytest.mark.parametrize(("number", "experimental"), [(25, True), (27, True), (28, False)])
def test_before_2023_2_the_note_says_nova_calls_the_driver_unfinished(
    number: int, experimental: bool
) -> None:
    plan = make_plan(lab_fleet(number, "placement", unified_limits=True))
    assert ("Still being developed" in notes(plan, "unified-limits")) == experimental


def test_from_2025_1_the_note_names_the_resource_list_settings() -> None:
    plan = make_plan(lab_fleet(31, "placement", unified_limits=True))
    assert "class:CUSTOM_GPU_VCPU" in limits_of(plan)
    text = notes(plan, "unified-limits")
    assert "unified_limits_resource_list" in text
    assert "limit 0" not in text


def test_strategies_without_custom_classes_need_no_registered_limits() -> None:
    plan = make_plan(lab_fleet(29, "dedicated", unified_limits=True))
    assert plan.cloud.registered_limits == ()
    assert "nothing more to register" in notes(plan, "unified-limits")


def test_unified_limits_before_yoga_are_refused() -> None:
    with pytest.raises(InputError, match=r"UnifiedLimitsDriver from Yoga \(25\)"):
        make_plan(lab_fleet(24, "placement", unified_limits=True))


def test_registered_limits_reach_cloud_objects_json_and_read_back() -> None:
    plan = make_plan(lab_fleet(30, "placement", unified_limits=True))
    data = json.loads(render_files(plan)[CLOUD_OBJECTS])
    assert [item["resource_name"] for item in data["registered_limits"]] == [
        "class:CUSTOM_GPU_DISK_GB",
        "class:CUSTOM_GPU_MEMORY_MB",
        "class:CUSTOM_GPU_VCPU",
    ]
    assert parse_cloud_objects(data, "cloud-objects.json") == plan.cloud
    without = json.loads(render_files(make_plan(lab_fleet(30, "placement")))[CLOUD_OBJECTS])
    assert "registered_limits" not in without


def test_a_registered_limit_without_its_count_is_refused() -> None:
    data = {"registered_limits": [{"resource_name": "class:CUSTOM_GPU_VCPU"}]}
    with pytest.raises(InputError, match="default_limit"):
        parse_cloud_objects(data, "cloud-objects.json")


def test_the_fleet_file_says_the_cloud_uses_unified_limits(write_fleet: Any) -> None:
    text = FLEET.replace("release: newton", 'release: "2024.1"').replace(
        "strategy: split", "strategy: placement\nunified_limits: true"
    )
    plan = make_plan(load_fleet(write_fleet(text)))
    assert "class:CUSTOM_GPU_VCPU" in limits_of(plan)
