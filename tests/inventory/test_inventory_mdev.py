"""vGPU (mdev) types from sysfs: per function, with the physical GPU of a virtual function."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpuslice.cli import main
from gpuslice.errors import InputError
from gpuslice.inventory.mdev import MdevType, read_mdev

VGPU_READY = Path(__file__).parents[1] / "data" / "doctor" / "vgpu-ready"


def _card(root: Path, address: str, types: dict[str, dict[str, str]]) -> Path:
    device = root / "sys" / "bus" / "pci" / "devices" / address
    for type_id, files in types.items():
        folder = device / "mdev_supported_types" / type_id
        folder.mkdir(parents=True)
        for name, text in files.items():
            (folder / name).write_text(text + "\n", encoding="utf-8")
    return device


def test_a_card_offering_types_itself_is_its_own_gpu(tmp_path: Path) -> None:
    files = {"name": "GRID A10-6Q", "available_instances": "4", "device_api": "vfio-pci"}
    _card(tmp_path, "0000:17:00.0", {"nvidia-592": {**files, "description": "num_heads=4"}})
    (found,) = read_mdev(tmp_path)
    assert (found.address, found.gpu, found.function) == (
        "0000:17:00.0",
        "0000:17:00.0",
        "physical",
    )
    assert found.types == (MdevType("nvidia-592", "GRID A10-6Q", 4, "vfio-pci", "num_heads=4"),)


def test_sriov_vgpu_types_sit_on_virtual_functions_of_the_card() -> None:
    found = read_mdev(VGPU_READY)
    assert [f.address for f in found] == [f"0000:86:00.{n}" for n in (4, 5, 6, 7)]
    assert {f.gpu for f in found} == {"0000:86:00.0"}
    assert {f.function for f in found} == {"virtual"}
    first = found[0].types[0]
    assert (first.type_id, first.name, first.available_instances) == (
        "nvidia-592",
        "NVIDIA A10-4Q",
        1,
    )


def test_a_count_that_is_not_a_number_names_the_file(tmp_path: Path) -> None:
    _card(tmp_path, "0000:17:00.0", {"nvidia-592": {"available_instances": "many"}})
    with pytest.raises(InputError, match="expected a count of instances") as caught:
        read_mdev(tmp_path)
    assert "nvidia-592/available_instances" in str(caught.value)


def test_discover_json_lists_the_mdev_types(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["discover", "--sysfs", str(VGPU_READY), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["mdev"][0]["gpu"] == "0000:86:00.0"
    assert document["mdev"][0]["types"][0]["type_id"] == "nvidia-592"


def test_discover_from_lspci_has_no_mdev_types(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    capture = tmp_path / "lspci.txt"
    capture.write_text(
        "17:00.0 3D controller [0302]: NVIDIA Corporation GA102GL [A10] [10de:2236] (rev a1)\n",
        encoding="utf-8",
    )
    assert main(["discover", "--lspci", str(capture), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mdev"] == []


def test_the_vfs_offering_types_are_grouped_by_card_for_the_fleet_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from gpuslice.inventory.mdev import vfs_by_gpu

    assert vfs_by_gpu(read_mdev(VGPU_READY)) == {
        "0000:86:00.0": tuple(f"0000:86:00.{n}" for n in (4, 5, 6, 7))
    }
    files = {"name": "GRID A10-6Q", "available_instances": "4"}
    _card(tmp_path, "0000:17:00.0", {"nvidia-592": files})
    assert vfs_by_gpu(read_mdev(tmp_path)) == {}  # a card offering types itself has no VFs
    assert main(["discover", "--sysfs", str(VGPU_READY)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert 'vfs: ["0000:86:00.4", "0000:86:00.5", "0000:86:00.6", "0000:86:00.7"]' in out
