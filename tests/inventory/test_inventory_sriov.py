"""Which device type nova will give each GPU (type-PCI, type-PF, type-VF), from sysfs and lspci."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from gpuslice.cli import main
from gpuslice.errors import InputError
from gpuslice.inventory import discover_from_lspci, discover_from_sysfs, parse_lspci
from tests.inventory.inventory_helpers import FakeFunction, read_capture

MakeSysfs = Callable[[Iterable[FakeFunction]], Path]

A100 = ("10de", "20b5", "030200")


def test_sysfs_sriov_totalvfs_makes_a_pf_and_physfn_a_vf(make_sysfs: MakeSysfs) -> None:
    root = make_sysfs(
        [
            FakeFunction("0000:3b:00.0", *A100, "vfio-pci", iommu_group=43, sriov_totalvfs=20),
            FakeFunction("0000:3b:00.4", *A100, "vfio-pci", iommu_group=44, physfn="0000:3b:00.0"),
            FakeFunction("0000:86:00.0", "10de", "1024", "030200", "vfio-pci", iommu_group=42),
            FakeFunction("0000:af:00.0", "10de", "1eb8", "030200", "vfio-pci", sriov_totalvfs=0),
        ]
    )
    seen = {g.address: (g.device_type, g.sriov_totalvfs) for g in discover_from_sysfs(root).gpus}
    assert seen == {
        "0000:3b:00.0": ("type-PF", 20),
        "0000:3b:00.4": ("type-VF", None),
        "0000:86:00.0": ("type-PCI", None),
        # The capability offering no VFs: libvirt lists no virt_functions, so nova: type-PCI.
        "0000:af:00.0": ("type-PCI", 0),
    }


def test_sysfs_bad_sriov_totalvfs_names_the_file(make_sysfs: MakeSysfs) -> None:
    root = make_sysfs([FakeFunction("0000:3b:00.0", *A100)])
    bad = root / "sys" / "bus" / "pci" / "devices" / "0000:3b:00.0" / "sriov_totalvfs"
    bad.write_text("lots\n")
    with pytest.raises(InputError) as caught:
        discover_from_sysfs(root)
    assert str(bad) in str(caught.value)
    assert "count of virtual functions" in str(caught.value)


def test_lspci_vvv_as_root_shows_the_sriov_capability() -> None:
    result = discover_from_lspci(read_capture("a100-t4-vvv-root.txt"), "a.txt")
    seen = {g.address: (g.device_type, g.sriov_totalvfs) for g in result.gpus}
    # The A100 lists SR-IOV with Total VFs: 20; the T4 lists capabilities, none of them SR-IOV.
    assert seen == {"0000:3b:00.0": ("type-PF", 20), "0000:af:00.0": ("type-PCI", None)}
    assert not any("SR-IOV" in w for w in result.warnings)


def test_lspci_v_without_total_vfs_is_still_a_pf() -> None:
    text = (
        "3b:00.0 3D controller [0302]: NVIDIA Corporation GA100 [10de:20b5] (rev a1)\n"
        "\tFlags: fast devsel, IRQ 16, NUMA node 0, IOMMU group 43\n"
        "\tCapabilities: [60] Power Management version 3\n"
        "\tCapabilities: [bcc] Single Root I/O Virtualization (SR-IOV)\n"
    )
    (gpu,) = discover_from_lspci(text).gpus
    assert (gpu.device_type, gpu.sriov_totalvfs) == ("type-PF", None)


def test_lspci_as_a_user_cannot_tell_and_says_how_to_settle_it() -> None:
    result = discover_from_lspci(read_capture("a100-vvv-user.txt"), "u.txt")
    (gpu,) = result.gpus
    assert gpu.device_type is None
    (warning,) = [w for w in result.warnings if "SR-IOV" in w]
    assert "`lspci -vvv -s 0000:3b:00.0` as root" in warning
    assert "`cat /sys/bus/pci/devices/0000:3b:00.0/sriov_totalvfs`" in warning


@pytest.mark.parametrize(
    "name", ["hyper18-k40c-nnk.txt", "hyper18-k40c-mmnn.txt", "hgx-h100-vmm.txt"]
)
def test_captures_without_capabilities_leave_the_type_unknown(name: str) -> None:
    capture = parse_lspci(read_capture(name), name)
    assert {f.device_type for f in capture.functions if f.function == "physical"} == {None}


def test_vfs_listed_beside_a_gpu_make_it_a_pf() -> None:
    result = discover_from_lspci(read_capture("a100-sriov-vfs-nnk.txt"))
    types = {g.address: g.device_type for g in result.gpus}
    assert types.pop("0000:3b:00.0") == "type-PF"
    assert set(types.values()) == {"type-VF"}


def test_discover_json_has_device_type_and_totalvfs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = Path(__file__).parent.parent / "data" / "lspci" / "a100-t4-vvv-root.txt"
    assert main(["discover", "--lspci", str(path), "--json"]) == 0
    gpus = json.loads(capsys.readouterr().out)["gpus"]
    assert [(g["address"], g["device_type"], g["sriov_totalvfs"]) for g in gpus] == [
        ("0000:3b:00.0", "type-PF", 20),
        ("0000:af:00.0", "type-PCI", None),
    ]


def test_discover_table_shows_the_nova_type(capsys: pytest.CaptureFixture[str]) -> None:
    path = Path(__file__).parent.parent / "data" / "lspci" / "a100-t4-vvv-root.txt"
    assert main(["discover", "--lspci", str(path)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "0000:" in line]
    assert [row.split("│")[-2].strip() for row in rows] == ["PF", "PCI"]
