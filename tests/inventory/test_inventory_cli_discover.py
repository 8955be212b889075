"""`gpuslice discover` through `gpuslice.cli.main`: output, JSON and exit codes."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from gpuslice.cli import main
from tests.inventory.inventory_helpers import DATA, FakeFunction, read_capture

K40C_NNK = str(DATA / "hyper18-k40c-nnk.txt")


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["discover", *argv, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert isinstance(document, dict)
    return document


def test_json_from_a_capture_file(capsys: pytest.CaptureFixture[str]) -> None:
    document = run_json(["--lspci", K40C_NNK], capsys)
    assert document["gpus"] == [
        {
            "address": "0000:86:00.0",
            "vendor_id": "10de",
            "product_id": "1024",
            "class_id": "0302",
            "vendor": "NVIDIA Corporation",
            "device": "GK110BGL [Tesla K40c]",
            "driver": "vfio-pci",
            "iommu_group": None,
            "numa_node": None,
            "function": "physical",
            "sriov_totalvfs": None,
            "device_type": None,
        }
    ]
    assert document["companions"] == []
    # lspci -nnk shows no capabilities: whether nova sees a type-PF is left open, and said so.
    (warning,) = document["warnings"]
    assert "`lspci -vvv -s 0000:86:00.0`" in warning
    assert "`cat /sys/bus/pci/devices/0000:86:00.0/sriov_totalvfs`" in warning
    assert document["excluded"] == [
        {
            "address": "0000:0a:00.0",
            "class_id": "0300",
            "vendor": "Matrox Electronics Systems Ltd.",
            "device": "G200eR2",
            "reason": "BMC console or emulated display adapter "
            "(Matrox Electronics Systems Ltd.): not a GPU to pass through",
        }
    ]


def test_json_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(read_capture("w6800-vmmnnk.txt")))
    document = run_json(["--lspci", "-"], capsys)
    companions = document["companions"]
    assert isinstance(companions, list)
    assert [(c["address"], c["companion_of"]) for c in companions] == [
        ("0000:0b:00.1", "0000:0b:00.0")
    ]


def test_tables_keep_bracketed_names_and_show_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["discover", "--lspci", str(DATA / "hyper18-k40c-plain.txt")]) == 0
    out = capsys.readouterr().out
    assert "[Tesla" in out  # rich markup must not eat lspci's brackets
    assert "0000:86:00.0" in out
    assert "GPUs (1)" in out
    assert "Left out" in out
    assert "warning:" in out
    assert "numeric ids" in out


def test_companion_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["discover", "--lspci", str(DATA / "workstation-rtx2080ti-nn.txt")]) == 0
    out = capsys.readouterr().out
    assert "Companions" in out
    assert "0000:02:00.3" in out


def test_unreadable_line_exits_2_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "bad.txt"
    capture.write_text(read_capture("hyper18-k40c-n.txt") + "what is this\n")
    assert main(["discover", "--lspci", str(capture), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{capture}:5:" in captured.err.replace("\n", "")


def test_empty_input_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["discover", "--lspci", "-"]) == 2
    assert "no PCI device line" in capsys.readouterr().err


def test_missing_capture_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["discover", "--lspci", str(tmp_path / "nope.txt")]) == 2
    assert "cannot read the lspci capture" in capsys.readouterr().err


def test_lspci_and_sysfs_together_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["discover", "--lspci", K40C_NNK, "--sysfs", str(tmp_path)]) == 2


def test_sysfs_root(
    make_sysfs: Callable[[Iterable[FakeFunction]], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_sysfs(
        [
            FakeFunction("0000:65:00.0", "10de", "2330", "030200", "vfio-pci", 70, 0),
            FakeFunction("0000:03:00.0", "1a03", "2000", "030000", "ast", 12, 0),
        ]
    )
    document = run_json(["--sysfs", str(root)], capsys)
    gpus = document["gpus"]
    assert isinstance(gpus, list)
    assert [(g["address"], g["device"], g["iommu_group"], g["numa_node"]) for g in gpus] == [
        ("0000:65:00.0", "GH100 [H100 SXM5 80GB]", 70, 0)
    ]


def test_sysfs_root_without_devices_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["discover", "--sysfs", str(tmp_path)]) == 2
    assert "no PCI devices directory" in capsys.readouterr().err
