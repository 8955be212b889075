"""Every openb pod list and the v2025 DLRM trace read; times optional; gpu_spec checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuslice.errors import InputError
from gpuslice.sim.traces import parse_alibaba_pods, parse_alibaba_v2025, read_trace

TRACES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "traces"
OPENB = TRACES / "alibaba-openb"
V2025 = TRACES / "alibaba-gpu-v2025" / "disaggregated_DLRM_trace.csv"


def _needs(path: Path) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not path.exists(), reason=f"the Alibaba trace file {path} is not here (shared/data)"
    )


UNTIMED = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,2000,4096,2,1000\np1,1500,1024,0,0\n"


def test_a_pod_list_without_times_arrives_in_file_order_and_never_leaves() -> None:
    workload = parse_alibaba_pods(UNTIMED, source="m.csv")
    assert [(r.arrival, r.lifetime, r.gpus, r.vcpus) for r in workload.requests] == [
        (0.0, None, 2, 2),
        (1.0, None, 0, 2),
    ]
    assert any("never leave" in note for note in workload.notes)


def test_one_time_column_without_the_other_is_refused() -> None:
    text = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time\np0,1000,1,1,1000,5\n"
    with pytest.raises(InputError, match="both or neither"):
        parse_alibaba_pods(text, source="half.csv")


def test_gpu_spec_is_counted_and_a_malformed_one_names_the_line() -> None:
    head = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n"
    workload = parse_alibaba_pods(head + "a,1,1,1,1000,T4\nb,1,1,1,1000,\n", source="s.csv")
    assert any(note.startswith("1 tasks name accepted GPU models") for note in workload.notes)
    with pytest.raises(InputError) as caught:
        parse_alibaba_pods(head + "a,1,1,1,1000,T4\nb,1,1,1,1000,V100M16||P100\n", source="s.csv")
    assert (caught.value.line, caught.value.field) == (3, "gpu_spec")


V2025_HEAD = (
    "instance_sn,role,app_name,cpu_request,cpu_limit,gpu_request,gpu_limit,rdma_request,"
    "rdma_limit,memory_request,memory_limit,disk_request,disk_limit,max_instance_per_node,"
    "creation_time,scheduled_time,deletion_time\n"
)


def test_v2025_instances_become_vms_with_requests_in_gib() -> None:
    text = V2025_HEAD + (
        "i0,HN,a,12,12,1,1,25,25,120.0,120.0,640.0,800.0,8,,,\n"
        "i1,CN,b,2.5,4,0,0,1,1,0.5,1,85.0,100,-1,100.0,100.0,160.0\n"
    )
    workload = parse_alibaba_v2025(text, source="v.csv")
    assert [
        (r.arrival, r.lifetime, r.vcpus, r.memory_mb, r.disk_gb, r.gpus) for r in workload.requests
    ] == [(0.0, None, 12, 122880, 640, 1), (100.0, 60.0, 3, 512, 85, 0)]


def test_v2025_deletion_before_creation_names_the_line() -> None:
    text = V2025_HEAD + "i0,CN,b,2,2,0,0,1,1,1,1,1,1,-1,100,100,50\n"
    with pytest.raises(InputError) as caught:
        parse_alibaba_v2025(text, source="v.csv")
    assert (caught.value.line, caught.value.field) == (2, "deletion_time")


@pytest.mark.parametrize("name", ["default", "multigpu20", "gpushare40", "gpuspec10", "cpu050"])
def test_every_openb_pod_list_reads(name: str) -> None:
    path = OPENB / f"openb_pod_list_{name}.csv"
    if not path.exists():
        pytest.skip(f"the Alibaba openb trace is not at {OPENB} (shared/data)")
    workload = read_trace(path, "alibaba-openb")
    rows = len(path.read_text(encoding="utf-8").splitlines()) - 1
    assert len(workload.requests) == rows
    assert workload.gpu_requests > 0


@_needs(OPENB / "openb_pod_list_multigpu20.csv")
def test_multigpu20_keeps_its_multi_gpu_pods() -> None:
    workload = read_trace(OPENB / "openb_pod_list_multigpu20.csv", "alibaba-openb")
    sizes = [r.gpus for r in workload.requests]
    assert (len(sizes), sizes.count(8), sizes.count(4), sizes.count(2)) == (8324, 141, 52, 54)


@_needs(OPENB / "openb_pod_list_gpuspec10.csv")
def test_gpuspec10_counts_the_pods_that_name_models() -> None:
    workload = read_trace(OPENB / "openb_pod_list_gpuspec10.csv", "alibaba-openb")
    assert "732 tasks name accepted GPU models (gpu_spec)" in workload.notes


@_needs(V2025)
def test_the_v2025_dlrm_trace_reads() -> None:
    workload = read_trace(V2025, "alibaba-gpu-v2025")
    assert len(workload.requests) == 23871
    assert workload.gpu_requests == 7386
    assert workload.requests[0].arrival == 0.0


@_needs(V2025)
def test_the_v2025_trace_replays_on_a_fleet_you_give_it() -> None:
    from gpuslice.sim.runner import simulate
    from tests.sim.fleets import small_fleet

    lines = V2025.read_text(encoding="utf-8").splitlines()[:1500]
    workload = parse_alibaba_v2025("\n".join(lines), source=str(V2025))
    sim = simulate(small_fleet(), workload, strategies=("none", "placement"), seed=1)
    none, placement = sim.result("none"), sim.result("placement")
    assert none.gpu_requests == placement.gpu_requests == workload.gpu_requests > 0
    assert none.ordinary_requests == len(workload.requests) - workload.gpu_requests
    assert placement.promise_kept
    assert placement.gpu_accepted > 0
