"""gpuslice's flavor reader asks Placement what nova 34's own `ResourceRequest` asks.

For each flavor of the table, nova builds its request (`ResourceRequest.from_request_spec`,
`nova/scheduler/utils.py`) from a real `RequestSpec`; its request groups (suffix, resources,
required and forbidden traits) and merged amounts must be what `request_from_flavor` reads.
"""

from __future__ import annotations

from typing import Any

import pytest

from gpuslice.model import request_from_flavor
from gpuslice.model.request import RequestSpec
from tests.model.builders import flavor
from tests.twin.nova import needs_nova

FLAVORS = {
    "plain": flavor("m1", 2, 2048, 20),
    "no disk": flavor("m0", 1, 512, 0),
    "numbered memory": flavor("n1", 2, 1024, 10, resources1__MEMORY_MB="512"),
    "dedicated": flavor("d", 4, 4096, 10, hw__cpu_policy="dedicated"),
    "dedicated with VCPU": flavor(
        "dv", 4, 4096, 10, hw__cpu_policy="dedicated", resources__VCPU="2"
    ),
    "dedicated, VCPU 0, isolated emulator": flavor(
        "de",
        4,
        4096,
        10,
        hw__cpu_policy="dedicated",
        hw__emulator_threads_policy="isolate",
        resources__VCPU="0",
    ),
    "thread policy": flavor(
        "t", 2, 1024, 10, hw__cpu_policy="dedicated", hw__cpu_thread_policy="isolate"
    ),
    "gpu slice": flavor(
        "g1",
        2,
        4096,
        40,
        resources__VCPU="0",
        resources__MEMORY_MB="0",
        resources__DISK_GB="0",
        resources__CUSTOM_GPU_VCPU="2",
        resources__CUSTOM_GPU_MEMORY_MB="4096",
        resources__CUSTOM_GPU_DISK_GB="40",
        trait__CUSTOM_GPU_HOST="required",
        pci_passthrough__alias="gpu:1",
    ),
    "vgpu group": flavor(
        "v2",
        4,
        8192,
        40,
        resources__VCPU="0",
        resources__MEMORY_MB="0",
        resources1__VGPU="2",
        resources1__CUSTOM_GPU_VCPU="4",
        resources1__CUSTOM_GPU_MEMORY_MB="8192",
        trait1__CUSTOM_VGPU_CARD="required",
        trait__CUSTOM_SLOW="forbidden",
    ),
    "two groups": flavor(
        "two",
        2,
        2048,
        10,
        resources1__CUSTOM_A="1",
        resources2__CUSTOM_A="1",
        resources_x__CUSTOM_B="3",
        group_policy="isolate",
    ),
    "zero custom": flavor("z", 2, 2048, 10, resources__CUSTOM_X="0", resources3__DISK_GB="5"),
}


def nova_groups(
    name: str,
) -> tuple[list[tuple[str, dict[str, int], set[str], set[str]]], Any]:
    """nova 34's request groups for `FLAVORS[name]`, and its ResourceRequest."""
    import nova.tests.functional  # noqa: F401 (eventlet first, as every nova test here)
    from nova import objects
    from nova.scheduler import utils

    objects.register_all()
    mine = FLAVORS[name]
    nova_flavor = objects.Flavor(
        name=mine.name,
        vcpus=mine.vcpus,
        memory_mb=mine.ram,
        root_gb=mine.disk,
        ephemeral_gb=0,
        swap=0,
        extra_specs=dict(mine.extra_specs),
    )
    spec = objects.RequestSpec(
        flavor=nova_flavor, is_bfv=False, image=objects.ImageMeta.from_dict({})
    )
    request = utils.ResourceRequest.from_request_spec(spec)
    # nova's unnumbered group has requester_id None; gpuslice's has suffix ""
    groups = [
        (g.requester_id or "", dict(g.resources), set(g.required_traits), set(g.forbidden_traits))
        for g in request._rg_by_id.values()
    ]
    return sorted(groups, key=lambda g: (g[0] != "", len(g[0]), g[0])), request


def ours(spec: RequestSpec) -> list[tuple[str, dict[str, int], set[str], set[str]]]:
    return [
        (g.suffix, dict(g.resources), set(g.required_traits), set(g.forbidden_traits))
        for g in spec.groups
    ]


@needs_nova
@pytest.mark.parametrize("name", list(FLAVORS))
def test_the_reader_builds_nova_34s_request_groups(name: str) -> None:
    groups, request = nova_groups(name)
    spec = request_from_flavor(FLAVORS[name])
    assert ours(spec) == groups
    assert dict(spec.resources) == request.merged_resources()
    assert spec.group_policy == request.group_policy


def test_a_numbered_memory_group_replaces_the_flavors_ram() -> None:
    """Pinned from nova 34 (above): `resources1:MEMORY_MB=512` asks 512 in group 1, not
    512 + the flavor's 1,024 (what the audit once read) and not in the unnumbered group."""
    spec = request_from_flavor(FLAVORS["numbered memory"])
    assert spec.amount("MEMORY_MB") == 512
    assert ours(spec) == [
        ("", {"VCPU": 2, "DISK_GB": 10}, set(), set()),
        ("1", {"MEMORY_MB": 512}, set(), set()),
    ]


def test_dedicated_with_an_explicit_vcpu_asks_both() -> None:
    """nova 34 adds PCPU = vcpus for `hw:cpu_policy=dedicated` beside an explicit
    `resources:VCPU` (its API refuses to boot the combination; the scheduler's reading is
    this)."""
    spec = request_from_flavor(FLAVORS["dedicated with VCPU"])
    assert dict(spec.resources) == {"VCPU": 2, "PCPU": 4, "MEMORY_MB": 4096, "DISK_GB": 10}
