"""Simulating a GPU menu: every model and size exercised, results per size, fragmentation apart,
and the pooled slice never short for a free GPU on a mixed host."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuslice.fleet import Fleet, GpuFlavor, GpuModel, Host, SliceSpec
from gpuslice.fleetfile import load_fleet
from gpuslice.inventory.device import GpuDevice
from gpuslice.plan import make_plan
from gpuslice.releases import parse_release
from gpuslice.sim.engine import run
from gpuslice.sim.runner import menu_choices, simulate, synthetic_for
from gpuslice.sim.workload import SyntheticSpec, VmRequest, Workload
from tests.conftest import EXAMPLES

A100 = ("10de", "20f1")
L40S = ("10de", "26b5")


def _gpu(bus: int, ids: tuple[str, str]) -> GpuDevice:
    return GpuDevice(address=f"0000:{bus:02x}:00.0", vendor_id=ids[0], product_id=ids[1])


def mixed_fleet(g2_vcpus: int | None = None) -> Fleet:
    """One mixed host (2x A100, 1x L40S) and one plain host; A100 has 1 and 2-GPU flavors."""
    a100 = GpuModel(
        "a100",
        *A100,
        SliceSpec(6, 16384, 0),
        "g1.a100",
        flavors=(GpuFlavor("g1.a100", 1), GpuFlavor("g2.a100", 2, vcpus=g2_vcpus)),
    )
    l40s = GpuModel("l40s", *L40S, SliceSpec(4, 8192, 0), "g1.l40s")
    hosts = (
        Host(
            "mixed",
            tuple(range(32)),
            65536,
            1000,
            gpus=(_gpu(1, A100), _gpu(2, A100), _gpu(3, L40S)),
        ),
        Host("plain", tuple(range(16)), 32768, 1000),
    )
    return Fleet(
        release=parse_release("2025.1"),
        strategy="placement",
        models=(a100, l40s),
        hosts=hosts,
        controllers=("ctl1",),
    )


def test_menu_choices_cover_every_model_and_size() -> None:
    fleet = load_fleet(EXAMPLES / "gpu-menu" / "fleet.yaml")
    choices = {(c.alias, c.gpus): c.weight for c in menu_choices(fleet)}
    # 16 A100 over three sizes (equal GPU demand per size), 4 L40S in one size
    assert choices == pytest.approx(
        {("a100", 1): 16 / 3, ("a100", 2): 16 / 6, ("a100", 4): 16 / 12, ("l40s", 1): 4.0}
    )


def test_single_model_single_gpu_fleet_keeps_the_old_workload() -> None:
    fleet = replace(mixed_fleet(), models=mixed_fleet().models[1:])
    fleet = replace(fleet, hosts=(replace(fleet.hosts[0], gpus=(_gpu(3, L40S),)), fleet.hosts[1]))
    assert menu_choices(fleet) == ()


def test_every_model_and_size_is_simulated_and_placement_keeps_the_promise() -> None:
    fleet = load_fleet(EXAMPLES / "gpu-menu" / "fleet.yaml")
    spec = SyntheticSpec(requests=6000, load=1.3, gpu_share=0.08)
    sim = simulate(fleet, synthetic_for(fleet, spec, 3), strategies=("none", "placement"))
    none, placement = sim.result("none"), sim.result("placement")
    sizes = {(f.alias, f.gpus): f for f in placement.by_flavor}
    assert set(sizes) == {("a100", 1), ("a100", 2), ("a100", 4), ("l40s", 1)}
    assert all(f.requests > 0 and f.accepted > 0 for f in sizes.values())
    assert sizes[("a100", 4)].flavor == "g4.a100"
    assert placement.gpu_refused_while_free == 0
    assert none.gpu_refused_while_free > 0  # the same workload breaks the promise without it
    assert sum(f.requests for f in placement.by_flavor) == placement.gpu_requests
    assert sum(f.refused_fragmented for f in placement.by_flavor) == (
        placement.gpu_refused_fragmented
    )


def test_fragmentation_is_counted_apart_from_the_promise() -> None:
    # two hosts with one A100 each: a 2-GPU VM finds 2 free in the cloud, never on one host
    fleet = mixed_fleet()
    one = replace(fleet.hosts[0], name="one", gpus=(_gpu(1, A100),))
    two = replace(fleet.hosts[0], name="two", gpus=(_gpu(2, A100),))
    a100 = replace(fleet.models[0], flavors=(GpuFlavor("g1.a100", 1),))
    fleet = replace(fleet, hosts=(one, two), models=(a100,))
    requests = (VmRequest(0.0, None, 0, 0, 0, gpus=2, alias="a100"),)
    result = run(make_plan(fleet, "placement"), Workload(requests))
    assert (result.gpu_refused_fragmented, result.gpu_refused_while_free) == (1, 0)
    (size,) = result.by_flavor
    assert (size.flavor, size.refused_fragmented) == ("g1.a100 x2", 1)


_SHAPES = st.sampled_from(
    [
        ("a100", 1, 0, 0),
        ("a100", 2, 0, 0),
        ("l40s", 1, 0, 0),
        ("", 0, 1, 2048),
        ("", 0, 2, 4096),
        ("", 0, 8, 16384),
    ]
)


def _workload(vms: list[tuple[tuple[str, int, int, int], float]]) -> Workload:
    return Workload(
        tuple(
            VmRequest(float(i), life, vcpus, memory, 10 if vcpus else 0, gpus, alias or None)
            for i, ((alias, gpus, vcpus, memory), life) in enumerate(vms)
        )
    )


@settings(max_examples=60, deadline=None)
@given(
    vms=st.lists(st.tuples(_SHAPES, st.floats(1.0, 50.0)), min_size=1, max_size=60),
    g2_vcpus=st.sampled_from([None, 7, 12]),
)
def test_pooled_slice_never_short_for_a_free_gpu_on_a_mixed_host(
    vms: list[tuple[tuple[str, int, int, int], float]], g2_vcpus: int | None
) -> None:
    """Both models draw on one pool per class; each GPU VM takes at most its GPUs' slices, so
    while k GPUs of a model are free the pool holds k of its slices (docs/menus.md)."""
    result = run(make_plan(mixed_fleet(g2_vcpus), "placement"), _workload(vms))
    assert result.gpu_refused_while_free == 0


def test_the_same_workload_breaks_the_promise_without_a_slice() -> None:
    """The property above can fail: without a held slice ordinary VMs starve a free GPU."""
    vms = [(("", 0, 8, 16384), 100.0)] * 6 + [(("a100", 2, 0, 0), 100.0)]
    assert run(make_plan(mixed_fleet(), "none"), _workload(vms)).gpu_refused_while_free == 1
    assert run(make_plan(mixed_fleet(), "placement"), _workload(vms)).gpu_refused_while_free == 0


NODES = """\
sn,cpu_milli,memory_mib,gpu,model
n1,32000,131072,8,V100M32
n2,32000,131072,2,T4
n3,16000,65536,0,
"""

PODS = """\
name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time
p1,4000,8192,1,1000,T4,LS,Running,0,100
p2,4000,8192,4,1000,V100M16|V100M32,LS,Running,1,100
p3,4000,8192,1,500,,LS,Running,2,100
p4,4000,8192,1,1000,A10,LS,Running,3,100
p5,2000,4096,0,0,,LS,Running,4,100
"""


def test_openb_gpu_spec_names_the_model_and_num_gpu_the_flavor_size() -> None:
    from gpuslice.sim.traces import (
        alibaba_fleet,
        names_models,
        parse_alibaba_nodes,
        parse_alibaba_pods,
        resolve_models,
    )

    pods = parse_alibaba_pods(PODS)
    assert [r.alias for r in pods.requests] == ["t4", "v100m16|v100m32", None, "a10", None]
    assert names_models(pods)
    fleet = alibaba_fleet(
        parse_alibaba_nodes(NODES),
        release=parse_release("2025.1"),
        slice_spec=SliceSpec(2, 4096, 0),
        per_model=True,
    )
    menus = {m.alias: [f.name for f in m.menu] for m in fleet.models}
    assert menus == {
        "v100m32": ["g1.v100m32", "g2.v100m32", "g4.v100m32", "g8.v100m32"],
        "t4": ["g1.t4", "g2.t4"],
    }
    workload = resolve_models(pods, fleet)
    assert [(r.alias, r.gpus) for r in workload.requests] == [
        ("t4", 1),
        ("v100m32", 4),
        ("v100m32", 1),
        ("v100m32", 1),
        (None, 0),
    ]
    assert "1 GPU tasks name no model: they ask v100m32" in workload.notes
    assert "1 GPU tasks name only models the fleet lacks: they ask v100m32" in workload.notes
    result = run(make_plan(fleet, "placement"), workload)
    assert {(f.flavor, f.accepted) for f in result.by_flavor} == {
        ("g1.t4", 1),
        ("g4.v100m32", 1),
        ("g1.v100m32", 2),
    }
