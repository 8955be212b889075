"""Trace readers: the generic CSV, the Alibaba openb importer on the real files, bad rows."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from gpuslice.errors import InputError
from gpuslice.fleet import SliceSpec
from gpuslice.releases import parse_release
from gpuslice.sim.traces import (
    parse_alibaba_nodes,
    parse_alibaba_pods,
    parse_generic,
    read_alibaba_fleet,
    read_trace,
)

REPO = Path(__file__).resolve().parents[2]
OPENB = REPO.parent / "shared" / "data" / "traces" / "alibaba-openb"
NODES = OPENB / "openb_node_list_all_node.csv"
PODS = OPENB / "openb_pod_list_default.csv"
needs_trace = pytest.mark.skipif(
    not PODS.exists(),
    reason=f"the Alibaba openb trace is not at {OPENB} (clone the repo next to shared/)",
)

GENERIC = """\
# a comment
create_time,delete_time,vcpus,memory_mb,disk_gb,gpus
10,20,2,4096,40,0
0,,1,2048,20,0

5.5,9,0,0,0,1
"""


def test_generic_csv_is_read_and_sorted_by_creation() -> None:
    workload = parse_generic(GENERIC, source="t.csv")
    assert [(r.arrival, r.lifetime, r.vcpus, r.gpus) for r in workload.requests] == [
        (0.0, None, 1, 0),
        (5.5, 3.5, 0, 1),
        (10.0, 10.0, 2, 0),
    ]


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("create_time,delete_time,vcpus,memory_mb,disk_gb,gpus\n1,2,x,1,1,0\n", 2, "vcpus"),
        (
            "create_time,delete_time,vcpus,memory_mb,disk_gb,gpus\n1,2,1,1,1,0\n5,4,1,1,1,0\n",
            3,
            "before",
        ),
        ("create_time,delete_time,vcpus,memory_mb,disk_gb,gpus\n1,2,1,1\n", 2, "fields"),
        ("create_time,delete_time,vcpus,memory_mb,disk_gb,gpus\n1,2,1.5,1,1,0\n", 2, "whole"),
        ("create_time,delete_time,vcpus,memory_mb,disk_gb,gpus\n-1,2,1,1,1,0\n", 2, "0 or more"),
        ("create_time,vcpus\n1,2\n", 1, "header lacks"),
    ],
)
def test_bad_generic_rows_name_the_line(text: str, line: int, what: str) -> None:
    with pytest.raises(InputError, match=what) as caught:
        parse_generic(text, source="bad.csv")
    assert caught.value.line == line
    assert str(caught.value).startswith(f"bad.csv:{line}")


def test_bad_alibaba_pod_row_names_the_line() -> None:
    text = (
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
        "deletion_time,scheduled_time\n"
        "p0,1000,1024,1,500,,LS,Running,0,10,0\n"
        "p1,1000,1024,one,500,,LS,Running,0,10,0\n"
    )
    with pytest.raises(InputError, match="num_gpu") as caught:
        parse_alibaba_pods(text, source="pods.csv")
    assert caught.value.line == 3


def test_fractional_gpu_pod_takes_one_whole_gpu() -> None:
    text = (
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time,deletion_time\n"
        "p0,2500,1024,1,460,0,10\n"
        "p1,1000,1024,0,0,5,\n"
    )
    workload = parse_alibaba_pods(text, source="pods.csv")
    assert [(r.gpus, r.vcpus, r.lifetime) for r in workload.requests] == [
        (1, 3, 10.0),
        (0, 1, None),
    ]
    assert "1 fractional-GPU tasks" in workload.notes[1]


def test_unknown_trace_format_and_missing_file() -> None:
    with pytest.raises(InputError, match="unknown trace format"):
        read_trace(__file__, "swf")
    with pytest.raises(InputError, match="cannot read"):
        read_trace("/nonexistent/trace.csv", "generic")


@needs_trace
def test_alibaba_nodes_become_hypervisors_with_their_gpus() -> None:
    with NODES.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    fleet = read_alibaba_fleet(
        NODES, release=parse_release("2025.1"), slice_spec=SliceSpec(2, 16384, 0)
    )
    assert len(fleet.hosts) == len(rows)
    assert sum(len(h.gpus) for h in fleet.hosts) == sum(int(r["gpu"]) for r in rows)
    first = rows[0]
    assert len(fleet.hosts[0].cpus) == int(first["cpu_milli"]) // 1000
    assert fleet.hosts[0].memory_mb == int(first["memory_mib"])
    assert len(parse_alibaba_nodes(NODES.read_text(encoding="utf-8"))) == len(rows)


@needs_trace
def test_alibaba_pods_become_vms() -> None:
    with PODS.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    workload = read_trace(PODS, "alibaba-openb")
    assert len(workload.requests) == len(rows)
    assert workload.gpu_requests == sum(1 for r in rows if int(r["num_gpu"]) > 0)
    assert sum(r.gpus for r in workload.requests) == sum(int(r["num_gpu"]) for r in rows)
    assert sum(r.vcpus for r in workload.requests) == sum(
        math.ceil(int(r["cpu_milli"]) / 1000) for r in rows
    )
    arrivals = [r.arrival for r in workload.requests]
    assert arrivals == sorted(arrivals)
