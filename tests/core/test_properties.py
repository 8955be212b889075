"""General rules of every plan, checked on random fleets (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuslice.errors import InputError
from gpuslice.fleet import AllocationRatios, Fleet, GpuModel, Host, HostReserve, SliceSpec
from gpuslice.plan import make_plan
from gpuslice.plan.types import Plan, Resources
from gpuslice.releases import Release
from gpuslice.render import render_files
from tests.core.fleets import k40c

STRATEGIES = ("none", "weigher", "dedicated", "split", "placement")


@st.composite
def fleets(draw: st.DrawFn) -> Fleet:
    slice_ = SliceSpec(
        draw(st.integers(1, 16)), draw(st.integers(256, 65536)), draw(st.integers(0, 400))
    )
    model = GpuModel("gpu", "10de", "1024", slice_, "g1.gpu")
    hosts = []
    for index in range(draw(st.integers(1, 4))):
        cpus = draw(st.integers(2, 128))
        gpus = tuple(k40c(f"0000:{0x80 + n:02x}:00.0") for n in range(draw(st.integers(0, 8))))
        hosts.append(
            Host(
                f"hyper{index}",
                tuple(range(cpus)),
                draw(st.integers(4096, 1 << 20)),
                draw(st.integers(100, 8000)),
                gpus,
            )
        )
    return Fleet(
        release=Release(draw(st.sampled_from([14, 16, 20, 22, 27, 31, 34]))),
        strategy="auto",
        models=(model,),
        hosts=tuple(hosts),
        controllers=("ctl1",),
        host_reserve=HostReserve(
            draw(st.integers(0, 4096)), draw(st.integers(0, 102400)), draw(st.integers(0, 2))
        ),
        ratios=AllocationRatios(draw(st.sampled_from([1.0, 4.0, 16.0])), 1.0, 1.0),
        cpu_mode=draw(st.sampled_from(["accounted", "dedicated"])),
    )


def plans(fleet: Fleet) -> list[Plan]:
    result = []
    for strategy in STRATEGIES:
        try:
            result.append(make_plan(fleet, strategy))
        except InputError:
            continue
    return result


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_a_plan_never_gives_away_more_than_a_host_has(fleet: Fleet) -> None:
    for plan in plans(fleet):
        for host in plan.hosts:
            assert host.reserve + host.general + host.gpu_slice == host.total, plan.strategy
            for amount in (host.general, host.gpu_slice):
                assert Resources().fits_in(amount)
            assert set(host.general_cpus).isdisjoint(host.gpu_cpus)
            assert set(host.general_cpus) | set(host.gpu_cpus) <= set(host.host.cpus)
            # What all of a host's providers offer never exceeds the host (ratio 1.0 parts).
            memory = sum(p.inventories["MEMORY_MB"].capacity for p in host.providers)
            assert memory <= host.total.memory_mb
            if plan.strategy in ("split", "placement"):
                custom_memory = sum(
                    p.inventories.get("CUSTOM_GPU_MEMORY_MB").capacity
                    for p in host.providers
                    if "CUSTOM_GPU_MEMORY_MB" in p.inventories
                )
                assert memory + custom_memory <= host.total.memory_mb - host.reserve.memory_mb


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_slices_add_up_to_gpus_times_slice(fleet: Fleet) -> None:
    spec = fleet.models[0].slice
    for plan in plans(fleet):
        if plan.strategy not in ("split", "placement"):
            continue
        for host in plan.hosts:
            count = len(host.host.gpus)
            assert host.gpu_slice == Resources(
                count * spec.vcpus, count * spec.memory_mb, count * spec.disk_gb
            )
            held_memory = (
                sum(p.inventories["MEMORY_MB"].capacity for p in host.providers if p.pci_devices)
                if plan.strategy == "split"
                else sum(
                    p.inventories["CUSTOM_GPU_MEMORY_MB"].capacity
                    for p in host.providers
                    if "CUSTOM_GPU_MEMORY_MB" in p.inventories
                )
            )
            assert held_memory == count * spec.memory_mb


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_render_is_deterministic(fleet: Fleet) -> None:
    for plan in plans(fleet):
        assert render_files(plan) == render_files(make_plan(fleet, plan.strategy))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_rendered_ini_parses_back_to_the_planned_values(fleet: Fleet) -> None:
    import tempfile
    from pathlib import Path

    from tests.core.test_render import parse_with_oslo, planned_values

    for plan in plans(fleet):
        files = render_files(plan)
        with tempfile.TemporaryDirectory() as scratch:
            for node in plan.nodes:
                for path in {o.path for o in node.options if not o.path.endswith(".service")}:
                    target = Path(scratch) / node.name / path
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(files[f"{node.name}/{path}"])
                    parsed = parse_with_oslo(target)
                    got = {(s, k): v for s, opts in parsed.items() for k, v in opts.items()}
                    assert got == planned_values(plan, node.name, path)
