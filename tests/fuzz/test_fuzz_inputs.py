"""Property-based fuzzing of every input kind gpuslice reads (issue 11).

Each test draws hostile inputs of one kind (fleet YAML, lspci captures, sysfs trees, traces,
cloud-objects JSON, workload files) and asserts through `harness.run_cli` or the reader's own
edge: exit 0 or 2, an exit-2 message naming the file (and the line or field where the input has
them), no traceback, within the time and memory bounds.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from gpuslice.cloud.objects import load_desired
from gpuslice.errors import InputError
from gpuslice.sim.traces import parse_alibaba_nodes, parse_alibaba_pods, parse_generic
from tests.fuzz.harness import FUZZ, run_cli

FLEET: dict[str, Any] = {
    "release": "2025.1",
    "strategy": "placement",
    "slice": {"vcpus": 2, "memory_mb": 4096, "disk_gb": 40},
    "allocation_ratios": {"cpu": 1.0, "ram": 1.0, "disk": 1.0},
    "flavor": {"name": "g1.gpu", "is_public": False},
    "controllers": ["ctl1"],
    "hosts": [
        {
            "name": "hyper18",
            "cpus": 24,
            "memory_mb": 131072,
            "disk_gb": 2000,
            "numa": {0: "0-11", 1: "12-23"},
            "gpus": [
                {
                    "address": "0000:86:00.0",
                    "vendor_id": "10de",
                    "product_id": "1024",
                    "numa_node": 1,
                }
            ],
        }
    ],
}

LSPCI = [
    "86:00.0 3D controller [0302]: NVIDIA Corporation GK110BGL [Tesla K40c] [10de:1024] (rev a1)",
    "\tKernel driver in use: vfio-pci",
    "\tFlags: bus master, fast devsel, latency 0, IRQ 16, NUMA node 1, IOMMU group 42",
    "86:00.1 Audio device [0403]: NVIDIA Corporation GK110 HDMI Audio [10de:0e1a] (rev a1)",
    "IOMMU Group 42 86:00.0 3D controller [0302]: NVIDIA Corporation Device [10de:1024]",
    "/sys/kernel/iommu_groups/42/devices/0000:86:00.0",
    "Slot:\t0000:86:00.0\nClass:\t3D controller [0302]\n"
    "Vendor:\tNVIDIA [10de]\nDevice:\tK40c [1024]",
    '86:00.0 "3D controller [0302]" "NVIDIA Corporation [10de]" "GK110BGL [1024]" -ra1 "" ""',
    "[root@hyper18 ~]# lspci -nnk",
    "[root@hyper18 ~]#",
    "--",
    "00: de 10 24 10 07 04 10 00 a1 00 02 03 00 00 00 00",
]

# Values no field of any input should take: each must be an error, not a traceback.
NASTY: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.just(int("9" * 4000)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.text(alphabet="\x00\x07\x1b\n\r\t\u202e[]{}:#&*!|>'\"%@`", max_size=20),
    st.just("x" * 300),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)

YAML_TOKENS = st.sampled_from(
    [
        "&a ",
        "*a",
        "<<: ",
        "[",
        "]",
        "{",
        "}",
        ", ",
        ": ",
        "- ",
        "\n",
        "  ",
        "!!binary ",
        "!!python/object:os.system ",
        "!x ",
        "? ",
        "|\n",
        ">\n",
        "'",
        '"',
        "#",
        "%YAML 1.1\n",
        "---\n",
        "...\n",
        ".inf",
        ".nan",
        "0x1f",
        "1_000",
        "1:30",
        "2025-01-01",
        "~",
        "null",
        "yes",
        "9" * 60,
        "hosts",
        "cpus",
        "release",
        "\t",
        "\x00",
        "\x85",
        "\ufeff",
    ]
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*prefix, index))
    return found


def _replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[path[0]] = _replaced(copy[path[0]], path[1:], value)  # type: ignore[index]
    return copy


FLEET_PATHS = _paths(FLEET)


def _input_error(call: Callable[[], object]) -> InputError | None:
    """The InputError `call` raises, or None when it returns (any other exception escapes)."""
    try:
        call()
    except InputError as error:
        return error
    return None


def _write(directory: str, name: str, content: str | bytes) -> Path:
    path = Path(directory) / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return path


@FUZZ
@given(st.sampled_from(FLEET_PATHS), NASTY)
def test_fleet_with_a_nasty_value(path: tuple[Any, ...], value: Any) -> None:
    text = yaml.safe_dump(_replaced(FLEET, path, value), allow_unicode=True)
    with tempfile.TemporaryDirectory() as work:
        fleet = _write(work, "fleet.yaml", text)
        for command in ("plan", "render"):
            args = ["--out", str(Path(work) / "out")] if command == "render" else []
            outcome = run_cli(command, str(fleet), *args, about=str(fleet))
            if outcome.code == 2:
                # a value in the file: the message names the line or the field
                assert "fleet.yaml:" in outcome.err or ": hosts" in outcome.err, outcome.err


@FUZZ
@given(st.lists(YAML_TOKENS, max_size=60))
def test_fleet_yaml_made_of_tokens(tokens: list[str]) -> None:
    text = yaml.safe_dump(FLEET) + "".join(tokens)
    with tempfile.TemporaryDirectory() as work:
        fleet = _write(work, "fleet.yaml", text)
        run_cli("plan", str(fleet), about=str(fleet))


@FUZZ
@given(st.binary(max_size=64), st.integers(min_value=0, max_value=400))
def test_fleet_bytes_spliced_in(noise: bytes, at: int) -> None:
    data = yaml.safe_dump(FLEET).encode()
    at = min(at, len(data))
    with tempfile.TemporaryDirectory() as work:
        fleet = _write(work, "fleet.yaml", data[:at] + noise + data[at:])
        run_cli("plan", str(fleet), about=str(fleet))


@FUZZ
@given(
    st.lists(
        st.one_of(
            st.sampled_from(LSPCI),
            st.text(max_size=80),
            st.builds(lambda line, cut: line[:cut], st.sampled_from(LSPCI), st.integers(0, 90)),
            st.builds(lambda n: "x" * n, st.integers(4000, 5000)),
        ),
        max_size=30,
    ),
    st.binary(max_size=8),
)
def test_lspci_capture(lines: list[str], tail: bytes) -> None:
    text = "\n".join(lines).encode("utf-8", errors="surrogatepass") + tail
    with tempfile.TemporaryDirectory() as work:
        capture = _write(work, "capture.txt", text)
        for extra in ((), ("--json",)):
            outcome = run_cli("discover", "--lspci", str(capture), *extra, about=str(capture))
            assert "\x1b" not in outcome.out
        # the same capture named by a fleet (regular files only, errors at the lspci: line)
        fleet = dict(FLEET, hosts=[dict(FLEET["hosts"][0], gpus=[], lspci="capture.txt")])
        fleet_file = _write(work, "fleet.yaml", yaml.safe_dump(fleet))
        outcome = run_cli("plan", str(fleet_file))
        if outcome.code == 2:
            # about the capture (its line) or the fleet's lspci: line, and says which
            assert outcome.err.startswith((f"error: {capture}", f"error: {fleet_file}"))
            assert "hosts.0.lspci" in outcome.err, outcome.err


SYSFS_VALUES = st.one_of(
    st.sampled_from([b"0x10de\n", b"0x1024\n", b"0x030200\n", b"-1\n", b"1\n", b"0x0403\n"]),
    st.binary(max_size=20),
    st.text(max_size=20).map(lambda t: t.encode("utf-8", errors="surrogatepass")),
    st.just(b"9" * 5000),
)


@FUZZ
@given(SYSFS_VALUES, SYSFS_VALUES, SYSFS_VALUES, SYSFS_VALUES, st.text(max_size=12))
def test_sysfs_tree(vendor: bytes, device: bytes, klass: bytes, numa: bytes, group: str) -> None:
    with tempfile.TemporaryDirectory() as work:
        entry = Path(work) / "sys/bus/pci/devices/0000:86:00.0"
        entry.mkdir(parents=True)
        for name, value in (
            ("vendor", vendor),
            ("device", device),
            ("class", klass),
            ("numa_node", numa),
        ):
            (entry / name).write_bytes(value)
        if group and "/" not in group and "\x00" not in group and group not in (".", ".."):
            groups = Path(work) / "sys/kernel/iommu_groups" / group / "devices"
            groups.mkdir(parents=True)
        outcome = run_cli("discover", "--sysfs", work, "--json")
        if outcome.code == 2:
            assert outcome.err.startswith(f"error: {work}"), outcome.err


FIELD = st.one_of(
    st.sampled_from(["0", "1", "2", "4096", "", "1e300", "nan", "-1", "1.5", "inf", '"1"']),
    st.text(max_size=12),
    st.just("9" * 5000),
)


@FUZZ
@given(
    st.lists(st.lists(FIELD, min_size=0, max_size=8), max_size=12),
    st.sampled_from(["generic", "nodes", "pods"]),
)
def test_trace_csv(rows: list[list[str]], kind: str) -> None:
    header = {
        "generic": "create_time,delete_time,vcpus,memory_mb,disk_gb,gpus",
        "nodes": "sn,cpu_milli,memory_mib,gpu,model",
        "pods": "name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time,deletion_time",
    }[kind]
    text = header + "\n" + "\n".join(",".join(row) for row in rows)
    parse = {"generic": parse_generic, "nodes": parse_alibaba_nodes, "pods": parse_alibaba_pods}
    error = _input_error(lambda: parse[kind](text, source="trace.csv"))
    if error is not None:
        assert error.source == "trace.csv"
        assert error.line is not None, str(error)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)


JSON_VALUE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False),
        st.text(max_size=12),
        st.sampled_from(["false", "CUSTOM_GPU\n", "CUSTOM_GPU_VCPU", "g1.gpu"]),
    ),
    _containers,
    max_leaves=12,
)
TOP_KEYS = st.sampled_from(
    ["resource_classes", "traits", "aggregates", "flavors", "provider_traits"]
)
FLAVOR_KEYS = st.sampled_from(
    ["name", "vcpus", "ram", "disk", "is_public", "extra_specs", "projects"]
)


@FUZZ
@given(
    st.dictionaries(TOP_KEYS, JSON_VALUE, max_size=4),
    st.dictionaries(FLAVOR_KEYS, JSON_VALUE, max_size=7),
    st.sampled_from(["", "[" * 5000, "1" * 5000, "NaN", "\xff"]),
)
def test_cloud_objects_json(top: dict[str, Any], flavor: dict[str, Any], tail: str) -> None:
    document = dict(top)
    document.setdefault("flavors", [flavor])
    text = json.dumps(document) if not tail else json.dumps(document)[:-1] + ', "x": ' + tail + "}"
    with tempfile.TemporaryDirectory() as work:
        path = _write(work, "cloud-objects.json", text)
        error = _input_error(lambda: load_desired(path))
        if error is not None:
            assert error.source == str(path), str(error)


WORKLOAD_KEYS = st.sampled_from(
    ["requests", "load", "gpu_share", "lifetime_mean", "lifetime_dist", "mix", "other"]
)


@FUZZ
@given(st.dictionaries(WORKLOAD_KEYS, NASTY, max_size=4))
def test_workload_file(values: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as work:
        fleet = _write(work, "fleet.yaml", yaml.safe_dump(FLEET))
        workload = _write(work, "workload.yaml", yaml.safe_dump(values))
        run_cli(
            "simulate",
            str(fleet),
            "--workload",
            str(workload),
            "--requests",
            "20",
            "--strategies",
            "placement",
        )


INI_LINES = st.sampled_from(
    [
        "[DEFAULT]",
        "[pci]",
        "[filter_scheduler]",
        "enabled_filters = ComputeFilter,PciPassthroughFilter",
        'alias = {"name": "nic", "vendor_id": "8086", "product_id": "1572"}',
        'device_spec = [{"vendor_id": "8086"',
        "  continuation",
        "cpu_shared_set = 0-7",
        "# comment ü",
        "\ufeff",
        "\r",
        "= no name",
        "[unterminated",
    ]
)


@FUZZ
@given(st.lists(INI_LINES | st.text(max_size=30), max_size=20), st.binary(max_size=16))
def test_merge_target(lines: list[str], noise: bytes) -> None:
    data = "\n".join(lines).encode("utf-8", errors="surrogatepass") + noise
    with tempfile.TemporaryDirectory() as work:
        fleet = _write(work, "fleet.yaml", yaml.safe_dump(FLEET))
        target = Path(work) / "root/etc/nova/nova.conf"
        target.parent.mkdir(parents=True)
        target.write_bytes(data)
        outcome = run_cli(
            "render", str(fleet), "--merge-into", str(Path(work) / "root"), "--node", "hyper18"
        )
        if outcome.code == 2:
            assert str(target) in outcome.err or "nova.conf" in outcome.err, outcome.err
