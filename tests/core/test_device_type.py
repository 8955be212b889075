"""The alias and passthrough spec follow the device type nova gives each GPU model (type-PF for
SR-IOV-capable GPUs); a model whose type nobody can tell keeps type-PCI, with a warning."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gpuslice.errors import InputError
from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan
from gpuslice.render import render_files
from tests.conftest import Writer

CAPTURES = Path(__file__).resolve().parent.parent / "data" / "lspci"

HEAD = """\
release: "2025.1"
strategy: placement
slice: {vcpus: 2, memory_mb: 4096, disk_gb: 40}
controllers: [ctl1]
"""


def _capture(tmp_path: Path, name: str) -> str:
    shutil.copy(CAPTURES / name, tmp_path / name)
    return name


def _conf_lines(files: dict[str, str], path: str, option: str) -> list[dict[str, str]]:
    prefix = f"{option} = "
    return [
        json.loads(line[len(prefix) :])
        for line in files[path].splitlines()
        if line.startswith(prefix)
    ]


def test_a_pf_capture_renders_a_type_pf_alias_and_per_address_specs(
    write_fleet: Writer, tmp_path: Path
) -> None:
    capture = _capture(tmp_path, "a100-t4-vvv-root.txt")
    fleet = load_fleet(
        write_fleet(
            HEAD
            + f"""\
hosts:
  - {{name: gpu-a01, cpus: 64, memory_mb: 524288, disk_gb: 2000, lspci: {capture}}}
"""
        )
    )
    types = {m.vendor_product: m.device_type for m in fleet.models}
    assert types == {"10de:20b5": "type-PF", "10de:1eb8": "type-PCI"}
    plan = make_plan(fleet)
    assert {a.name: a.device_type for a in plan.aliases} == {
        "gpu": "type-PF",
        "gpu-1eb8": "type-PCI",
    }
    files = render_files(plan)
    for node in ("ctl1", "gpu-a01"):
        aliases = _conf_lines(files, f"{node}/etc/nova/nova.conf", "alias")
        assert {a["name"]: a["device_type"] for a in aliases} == {
            "gpu": "type-PF",
            "gpu-1eb8": "type-PCI",
        }
    specs = _conf_lines(files, "gpu-a01/etc/nova/nova.conf", "device_spec")
    # nova's device_spec has no device type: vendor and product id match a PF as they match
    # a type-PCI device (tests/twin/test_nova_pf.py pins why not by address).
    assert specs == [
        {"vendor_id": "10de", "product_id": "20b5"},
        {"vendor_id": "10de", "product_id": "1eb8"},
    ]
    assert not [n for n in plan.notes if n.topic == "device_type"]


def test_the_fleet_file_may_state_the_type_per_model(write_fleet: Writer) -> None:
    text = (
        HEAD
        + """\
gpu_models:
  - {vendor_id: "10de", product_id: "26b5", alias: l40s, device_type: type-PF}
hosts:
  - name: gpu-l01
    cpus: 32
    memory_mb: 262144
    disk_gb: 1000
    gpus:
      - {address: "0000:17:00.0", vendor_id: "10de", product_id: "26b5"}
      - {address: "0000:65:00.0", vendor_id: "10de", product_id: "26b5"}
"""
    )
    plan = make_plan(load_fleet(write_fleet(text)))
    (alias,) = plan.aliases
    assert alias.device_type == "type-PF"
    aliases = _conf_lines(render_files(plan), "ctl1/etc/nova/nova.conf", "alias")
    assert aliases == [
        {"vendor_id": "10de", "product_id": "26b5", "name": "l40s", "device_type": "type-PF"}
    ]


def test_unknown_type_keeps_type_pci_and_the_plan_says_how_to_settle_it(
    write_fleet: Writer, tmp_path: Path
) -> None:
    capture = _capture(tmp_path, "hyper18-k40c-nnk.txt")
    text = (
        HEAD
        + "hosts:\n"
        + f"  - {{name: hyper18, cpus: 24, memory_mb: 131072, disk_gb: 2000, lspci: {capture}}}\n"
    )
    plan = make_plan(load_fleet(write_fleet(text)))
    (alias,) = plan.aliases
    assert alias.device_type == "type-PCI"
    (note,) = [n for n in plan.notes if n.topic == "device_type"]
    assert "Settle it on hyper18: `lspci -vvv -s 0000:86:00.0` as root" in note.text
    assert "`cat /sys/bus/pci/devices/0000:86:00.0/sriov_totalvfs`" in note.text
    specs = _conf_lines(render_files(plan), "hyper18/etc/nova/nova.conf", "device_spec")
    assert specs == [{"vendor_id": "10de", "product_id": "1024"}]


def test_gpus_of_one_model_that_disagree_are_an_error_naming_them(write_fleet: Writer) -> None:
    text = (
        HEAD
        + """\
hosts:
  - name: gpu-a01
    cpus: 32
    memory_mb: 262144
    disk_gb: 1000
    gpus:
      - {address: "0000:3b:00.0", vendor_id: "10de", product_id: "20b5", device_type: type-PF}
  - name: gpu-a02
    cpus: 32
    memory_mb: 262144
    disk_gb: 1000
    gpus:
      - {address: "0000:3b:00.0", vendor_id: "10de", product_id: "20b5", device_type: type-PCI}
"""
    )
    with pytest.raises(InputError) as caught:
        load_fleet(write_fleet(text))
    message = str(caught.value)
    assert "gpu-a01 0000:3b:00.0 type-PF" in message
    assert "gpu-a02 0000:3b:00.0 type-PCI" in message
    assert caught.value.exit_code == 2


def test_a_stated_type_the_capture_contradicts_is_an_error(
    write_fleet: Writer, tmp_path: Path
) -> None:
    capture = _capture(tmp_path, "a100-t4-vvv-root.txt")
    text = (
        HEAD
        + f"""\
gpu_models:
  - {{vendor_id: "10de", product_id: "20b5", alias: a100, device_type: type-PCI}}
  - {{vendor_id: "10de", product_id: "1eb8", alias: t4}}
hosts:
  - {{name: gpu-a01, cpus: 64, memory_mb: 524288, disk_gb: 2000, lspci: {capture}}}
"""
    )
    with pytest.raises(InputError) as caught:
        load_fleet(write_fleet(text))
    error = caught.value
    assert "device_type type-PCI in the fleet file" in str(error)
    assert "gpu-a01 0000:3b:00.0 type-PF" in str(error)
    assert error.line == 6


def test_an_unknown_device_type_is_refused(write_fleet: Writer) -> None:
    text = (
        HEAD
        + """\
gpu_models:
  - {vendor_id: "10de", product_id: "20b5", alias: a100, device_type: PF}
hosts:
  - {name: h, cpus: 8, memory_mb: 16384, disk_gb: 100}
"""
    )
    with pytest.raises(InputError) as caught:
        load_fleet(write_fleet(text))
    assert "type-PF" in str(caught.value)
