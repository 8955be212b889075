"""The model weighs as nova 34's default weighers do, on nova's own raw values.

nova's host state takes its numbers from the resource tracker, which starts `vcpus_used` at
`reserved_host_cpus`, `local_gb_used` at `reserved_host_disk_mb` / 1024 and `memory_mb_used`
at `reserved_host_memory_mb` (nova 34 `compute/resource_tracker.py`,
`_update_usage_from_instances`). Each scenario gives nova's weighers (every class of
`all_weighers()`, default multipliers) host states built that way from the plan's
inventories, and checks that nova's best host is the model's choice.
"""

from __future__ import annotations

from typing import Any

import pytest

from gpuslice.model import Scheduler, from_plan, request_from_flavor
from gpuslice.plan.types import Inventory, Provider
from tests.model.builders import flavor, plan, provider
from tests.twin.nova import needs_nova


def nova_best(providers: list[Provider]) -> str:
    """The host nova 34's default weighers rank first, from host states made as nova makes them."""
    import nova.tests.functional  # noqa: F401 (eventlet first, as every nova test here)
    from nova import conf, objects
    from nova.scheduler import host_manager
    from nova.scheduler import weights as host_weights

    objects.register_all()
    conf.CONF([], project="nova", default_config_files=[])
    states: list[Any] = []
    for p in providers:
        vcpu, ram, disk = (
            p.inventories["VCPU"],
            p.inventories["MEMORY_MB"],
            p.inventories["DISK_GB"],
        )
        state = host_manager.HostState(p.name, p.name, "cell1")
        state.vcpus_total = vcpu.total
        state.vcpus_used = vcpu.reserved  # reserved_host_cpus counts as used
        state.cpu_allocation_ratio = vcpu.allocation_ratio
        state.free_ram_mb = ram.total - ram.reserved
        state.free_disk_mb = (disk.total - disk.reserved) * 1024
        state.hypervisor_version = 1
        states.append(state)
    handler = host_weights.HostWeightHandler()
    spec = objects.RequestSpec(
        num_instances=1, instance_group=None, image=None, requested_destination=None
    )
    weighers = [cls() for cls in host_weights.all_weighers()]
    weighed = handler.get_weighed_objects(weighers, states, spec)
    return str(weighed[0].obj.host)


def model_best(providers: list[Provider]) -> str:
    scheduler = Scheduler(from_plan(plan(providers, release="2026.2")))
    claim = scheduler.schedule(scheduler.prepare(request_from_flavor(flavor("m"))))
    assert claim is not None
    return scheduler.names[claim.provider]


SCENARIOS = {
    # equal CPU and RAM: the host with more free disk wins (DiskWeigher)
    "disk": [provider("h1", disk=100), provider("h2", disk=400)],
    # 10 CPUs at ratio 4.0 each; h1 reserves 4 (36 free for nova), h2 reserves 2 (38 free)
    "reserved CPUs": [
        provider("h1", vcpu=10, extra={"VCPU": Inventory(10, 4, allocation_ratio=4.0)}),
        provider("h2", vcpu=10, extra={"VCPU": Inventory(10, 2, allocation_ratio=4.0)}),
    ],
}


@needs_nova
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_nova_34s_weighers_and_the_model_pick_the_same_host(name: str) -> None:
    providers = SCENARIOS[name]
    assert nova_best(providers) == "h2"
    assert model_best(providers) == "h2"


def test_the_model_counts_reserved_cpus_as_used_and_weighs_disk() -> None:
    model = from_plan(plan(SCENARIOS["reserved CPUs"], release="2026.2"))
    assert [p.vcpu_total for p in model.providers] == [36.0, 38.0]
    assert "DiskWeigher" in [w.name for w in model.config.weighers]
    disk = from_plan(plan(SCENARIOS["disk"], release="2026.2"))
    assert [p.disk_total for p in disk.providers] == [100, 400]
