"""Every example of issue 11, run as a user runs it: exit 2 naming file/line/field, no traceback.

Each test names the example it pins. A test that reaches a traceback fails: `main` only turns
GpusliceError into an exit code.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gpuslice.cli.common import print_json
from gpuslice.errors import ServiceUnreachableError
from tests.inputs.conftest import CAPTURE, FLEET, Run

Runner = Callable[..., Run]
Writer = Callable[..., Path]


def _host_line(old: str, new: str) -> str:
    assert old in FLEET
    return FLEET.replace(old, new)


# --- tracebacks that must be exit 2 -----------------------------------------------------------


def test_non_utf8_fleet_names_the_byte_offset(run: Runner, fleet_file: Writer) -> None:
    data = FLEET.encode().replace(b"placement", b"placem\xe9nt")
    result = run("plan", fleet_file(data))
    assert result.code == 2
    offset = data.index(b"\xe9")
    assert f"byte offset {offset}" in result.err
    assert "line 2" in result.err
    assert "fleet.yaml" in result.err


def test_non_utf8_capture_on_the_command_line(run: Runner, tmp_path: Path) -> None:
    capture = tmp_path / "cap.txt"
    capture.write_bytes(CAPTURE.encode() + b"\xff\xfe\n")
    result = run("discover", "--lspci", capture)
    assert result.code == 2
    assert f"byte offset {len(CAPTURE)}" in result.err
    assert "cap.txt" in result.err


def test_non_utf8_capture_named_in_a_fleet(run: Runner, fleet_file: Writer, tmp_path: Path) -> None:
    (tmp_path / "cap.txt").write_bytes(b"\x80" + CAPTURE.encode())
    fleet = fleet_file(
        _host_line("    gpus: [", "    lspci: cap.txt\n    xgpus: [").replace(
            '    xgpus: [{address: "0000:86:00.0", vendor_id: "10de", product_id: "1024"}]\n', ""
        )
    )
    result = run("plan", fleet)
    assert result.code == 2
    assert "byte offset 0" in result.err
    assert "hosts.0.lspci" in result.err


def test_non_utf8_trace(run: Runner, fleet_file: Writer, tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    data = b"create_time,delete_time,vcpus,memory_mb,disk_gb,gpus\n0,,2,\xc3,0,0\n"
    trace.write_bytes(data)
    result = run("simulate", fleet_file(), "--trace", trace)
    assert result.code == 2
    assert "trace.csv" in result.err
    offset = data.index(b"\xc3")
    assert f"byte offset {offset} (line 2)" in result.err


def test_recursive_yaml_alias(run: Runner, fleet_file: Writer) -> None:
    result = run("plan", fleet_file(FLEET + "extra: &loop [*loop]\n"))
    assert result.code == 2
    assert "recursive alias" in result.err
    assert "fleet.yaml:11" in result.err


def test_nesting_500_deep(run: Runner, fleet_file: Writer) -> None:
    result = run("plan", fleet_file(FLEET + "extra: " + "[" * 500 + "]" * 500 + "\n"))
    assert result.code == 2
    assert "nested deeper than 64" in result.err


def test_merge_keys_build_a_host_from_another(run: Runner, fleet_file: Writer) -> None:
    text = FLEET.replace("  - name: hyper18\n", "  - &first\n    name: hyper18\n") + (
        "  - {<<: *first, name: hyper19, cpus: 32}\n"
    )
    result = run("plan", fleet_file(text), "--json")
    assert result.code == 0, result.err
    hosts = {h["name"]: h for h in json.loads(result.out)["hosts"]}
    assert set(hosts) == {"hyper18", "hyper19"}
    assert hosts["hyper19"]["gpus"] == hosts["hyper18"]["gpus"]


def test_a_merge_key_with_a_scalar_is_an_error(run: Runner, fleet_file: Writer) -> None:
    result = run("plan", fleet_file(FLEET + "flavor: {<<: 3}\n"))
    assert result.code == 2
    assert "fleet.yaml:11: a merge key (<<) takes a mapping" in result.err


def test_integer_of_5000_digits(run: Runner, fleet_file: Writer) -> None:
    result = run("plan", fleet_file(_host_line("cpus: 24", "cpus: " + "9" * 5000)))
    assert result.code == 2
    assert "5000 digits" in result.err
    assert "fleet.yaml:7" in result.err


def test_huge_numbers_never_reach_simulate(run: Runner, fleet_file: Writer) -> None:
    result = run("simulate", fleet_file(_host_line("memory_mb: 131072", "memory_mb: 1e300")))
    assert result.code == 2
    assert "hosts.0.memory_mb" in result.err
    result = run("simulate", fleet_file(_host_line("disk_gb: 2000", "disk_gb: 99999999999999")))
    assert result.code == 2
    assert "less than or equal to 2147483647" in result.err


def test_huge_trace_time(run: Runner, fleet_file: Writer, tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("create_time,delete_time,vcpus,memory_mb,disk_gb,gpus\n1e300,,2,4,0,0\n")
    result = run("simulate", fleet_file(), "--trace", trace)
    assert result.code == 2
    assert "t.csv:2: create_time" in result.err


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ('0,,2,"4\n096",0,0\n', "a quoted field must end on its own line"),
        ("0,,2," + "4" * 200_000 + ",0,0\n", "a trace line holds at most 65,536"),
    ],
)
def test_bad_csv_rows(
    run: Runner, fleet_file: Writer, tmp_path: Path, body: str, said: str
) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("create_time,delete_time,vcpus,memory_mb,disk_gb,gpus\n" + body)
    result = run("simulate", fleet_file(), "--trace", trace)
    assert result.code == 2
    assert said in result.err
    assert "t.csv:2" in result.err


def test_csv_duplicate_header(run: Runner, fleet_file: Writer, tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("create_time,delete_time,vcpus,vcpus,memory_mb,disk_gb,gpus\n0,,2,2,4,0,0\n")
    result = run("simulate", fleet_file(), "--trace", trace)
    assert result.code == 2
    assert "t.csv:1" in result.err
    assert "'vcpus' more than once" in result.err


def test_300_character_host_name(run: Runner, fleet_file: Writer) -> None:
    result = run("plan", fleet_file(_host_line("name: hyper18", "name: " + "h" * 300)))
    assert result.code == 2
    assert "hosts.0.name" in result.err
    assert "at most 255 characters" in result.err


def test_flavors_null_in_cloud_objects(run: Runner, tmp_path: Path) -> None:
    objects = tmp_path / "cloud-objects.json"
    objects.write_text('{"flavors": null}')
    result = run("apply", objects, "--cloud", "nowhere", "--dry-run")
    assert result.code == 2
    assert "cloud-objects.json: flavors: must be a list" in result.err


def test_lspci_dev_zero_is_refused_without_reading(run: Runner, fleet_file: Writer) -> None:
    fleet = FLEET.replace(
        '    gpus: [{address: "0000:86:00.0", vendor_id: "10de", product_id: "1024"}]\n',
        "    lspci: /dev/zero\n",
    )
    started = time.perf_counter()
    result = run("plan", fleet_file(fleet))
    assert time.perf_counter() - started < 5  # generous: it reads nothing
    assert result.code == 2
    assert "not a regular file" in result.err
    assert "hosts.0.lspci" in result.err


# --- hangs and blow-ups -----------------------------------------------------------------------


def test_alias_bomb_is_refused(run: Runner, fleet_file: Writer) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefghi":
        prev = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [" + ", ".join([f"*{prev}"] * 10) + "]\n"
    assert len(bomb) < 1300
    result = run("plan", fleet_file(FLEET + bomb))
    assert result.code == 2
    assert "alias bomb" in result.err


def test_a_240_kb_lspci_line_is_refused_at_once(run: Runner, tmp_path: Path) -> None:
    capture = tmp_path / "long.txt"
    capture.write_text("$ for " * 40_000 + "\n" + CAPTURE)
    result = run("discover", "--lspci", capture)
    assert result.code == 2
    assert "long.txt:1" in result.err
    assert "240,000 characters" in result.err


def test_ten_million_cpus(run: Runner, fleet_file: Writer) -> None:
    result = run("plan", fleet_file(_host_line("cpus: 24", "cpus: 10000000")))
    assert result.code == 2
    assert "hosts.0.cpus" in result.err
    result = run("plan", fleet_file(_host_line("cpus: 24", 'cpus: "0-9999999"')))
    assert result.code == 2
    assert "above 8191" in result.err


# --- nonsense that was accepted ---------------------------------------------------------------


def test_infinite_allocation_ratio(run: Runner, fleet_file: Writer) -> None:
    result = run("plan", fleet_file(FLEET + "allocation_ratios: {cpu: .inf}\n"))
    assert result.code == 2
    assert "allocation_ratios.cpu" in result.err
    assert "finite" in result.err


def test_is_public_as_a_string_is_an_error(run: Runner, tmp_path: Path) -> None:
    objects = tmp_path / "cloud-objects.json"
    flavor = {"name": "g1.gpu", "vcpus": 2, "ram": 4096, "disk": 40, "is_public": "false"}
    objects.write_text(json.dumps({"flavors": [flavor]}))
    result = run("apply", objects, "--cloud", "nowhere", "--dry-run")
    assert result.code == 2
    assert "flavors[0].is_public: must be true or false" in result.err


def test_resource_class_with_a_newline(run: Runner, tmp_path: Path) -> None:
    objects = tmp_path / "cloud-objects.json"
    objects.write_text(json.dumps({"resource_classes": ["CUSTOM_GPU_VCPU\n"]}))
    result = run("apply", objects, "--cloud", "nowhere", "--dry-run")
    assert result.code == 2
    assert "not a name Placement accepts" in result.err


def test_memory_mb_true(run: Runner, fleet_file: Writer) -> None:
    result = run("plan", fleet_file(_host_line("memory_mb: 131072", "memory_mb: true")))
    assert result.code == 2
    assert "fleet.yaml:8: hosts.0.memory_mb" in result.err


def test_numa_node_minus_one(run: Runner, fleet_file: Writer) -> None:
    result = run(
        "plan", fleet_file(_host_line('product_id: "1024"', 'product_id: "1024", numa_node: -1'))
    )
    assert result.code == 2
    assert "numa_node" in result.err


def test_simulate_refuses_what_plan_refuses(run: Runner, fleet_file: Writer) -> None:
    fleet = fleet_file(FLEET.replace("strategy: placement", "strategy: split"))
    planned = run("plan", fleet)
    simulated = run("simulate", fleet, "--requests", "10")
    assert planned.code == simulated.code == 2
    assert "409 Conflicting resource provider name" in simulated.err


# --- secrets and terminal safety --------------------------------------------------------------


def test_password_in_an_endpoint_url_is_never_printed(
    run: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unreachable(cloud: str | None) -> object:
        msg = "cloud x: HTTP 500: Internal error for url: https://admin:hunter2@nova:8774/v2.1"
        raise ServiceUnreachableError(msg)

    monkeypatch.setattr("gpuslice.cloud.sdk.connect", unreachable)
    objects = tmp_path / "cloud-objects.json"
    objects.write_text("{}")
    result = run("apply", objects, "--cloud", "x")
    assert result.code == 3
    assert "hunter2" not in result.err
    assert "https://***@nova:8774" in result.err
    print_json({"failed": "POST https://admin:hunter2@nova/ password=hunter2 token: abc"})
    out = capsys.readouterr().out
    assert "hunter2" not in out
    assert "abc" not in out


@pytest.mark.parametrize("secret", ["root:$6$saltsalt$hashhashhash:19000:0:99999:7:::"])
def test_lspci_path_at_a_secret_file_does_not_echo_it(
    run: Runner, fleet_file: Writer, tmp_path: Path, secret: str
) -> None:
    (tmp_path / "shadow").write_text(secret + "\n")
    fleet = FLEET.replace(
        '    gpus: [{address: "0000:86:00.0", vendor_id: "10de", product_id: "1024"}]\n',
        "    lspci: shadow\n",
    )
    result = run("plan", fleet_file(fleet))
    assert result.code == 2
    assert "saltsalt" not in result.err
    assert "hashhash" not in result.err
    assert "shadow:1" in result.err


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_lspci_path_at_proc_environ(run: Runner, fleet_file: Writer) -> None:
    fleet = FLEET.replace(
        '    gpus: [{address: "0000:86:00.0", vendor_id: "10de", product_id: "1024"}]\n',
        "    lspci: /proc/self/environ\n",
    )
    result = run("plan", fleet_file(fleet))
    assert result.code == 2
    assert "NUL byte" in result.err
    assert os.environ.get("PATH", "/nonexistent-path") not in result.err


def test_control_sequences_from_a_capture_never_reach_the_terminal(
    run: Runner, tmp_path: Path
) -> None:
    capture = tmp_path / "cap.txt"
    capture.write_text(CAPTURE.replace("Tesla K40c", "Tesla \x1b]0;pwned\x07\x1b[2J K40c"))
    for args in ((), ("--json",)):
        result = run("discover", "--lspci", capture, *args)
        assert result.code == 0
        assert "\x1b" not in result.out
        assert "\x07" not in result.out
        assert "K40c" in result.out


# --- Prometheus textfile ----------------------------------------------------------------------


def test_prometheus_file_behind_a_symlink_is_refused(run: Runner, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep\n")
    link = tmp_path / "gpuslice.prom"
    link.symlink_to(target)
    result = run("audit", "--cloud", "nowhere", "--prometheus", link)
    assert result.code == 2
    assert "symbolic link" in result.err
    assert target.read_text() == "keep\n"


def test_prometheus_file_marked_when_the_audit_cannot_run(
    run: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(cloud: str | None) -> object:
        raise ServiceUnreachableError("cloud x: cannot reach the service")

    monkeypatch.setattr("gpuslice.cloud.sdk.connect", unreachable)
    metrics = tmp_path / "gpuslice.prom"
    metrics.write_text('gpuslice_gpus_free{host="hyper18"} 1\n')
    metrics.chmod(0o640)
    result = run("audit", "--cloud", "x", "--prometheus", metrics)
    assert result.code == 3
    text = metrics.read_text()
    assert "gpuslice_audit_success 0" in text
    assert "gpuslice_gpus_free" not in text
    assert stat.S_IMODE(metrics.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["gpuslice.prom"]


# --- discover on real captures ----------------------------------------------------------------


def test_amd_apu_graphics_is_no_candidate(run: Runner, tmp_path: Path) -> None:
    capture = tmp_path / "apu.txt"
    capture.write_text(
        CAPTURE
        + "0c:00.0 VGA compatible controller [0300]: Advanced Micro Devices, Inc. [AMD/ATI] "
        "Granite Ridge [Radeon Graphics] [1002:13c0] (rev c1)\n"
    )
    result = run("discover", "--lspci", capture, "--json")
    assert result.code == 0
    found = json.loads(result.out)
    assert [g["address"] for g in found["gpus"]] == ["0000:86:00.0"]
    excluded = {e["address"]: e["reason"] for e in found["excluded"]}
    assert "AMD APU integrated graphics" in excluded["0000:0c:00.0"]


def test_capture_ending_with_a_bare_prompt(run: Runner, tmp_path: Path) -> None:
    capture = tmp_path / "cap.txt"
    capture.write_text("[root@hyper18 ~]# lspci -nn\n" + CAPTURE + "[root@hyper18 ~]#\n")
    result = run("discover", "--lspci", capture, "--json")
    assert result.code == 0
    warnings = json.loads(result.out)["warnings"]
    assert any("cap.txt:3: a shell prompt without a command" in w for w in warnings)


def test_out_dot_is_refused_sensibly(
    run: Runner, fleet_file: Writer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = fleet_file()
    here = tmp_path / "empty"
    here.mkdir()
    monkeypatch.chdir(here)
    for out in (".", "..", str(here)):
        result = run("render", fleet, "--out", out)
        assert result.code == 2
        assert "is the current directory or one above it" in result.err
    assert list(here.iterdir()) == []
