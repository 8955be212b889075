"""The sysfs reader on fake trees laid out as Linux lays them out."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuslice.errors import InputError
from gpuslice.inventory import (
    GpuDevice,
    PciAddress,
    PciFunction,
    discover_from_lspci,
    discover_from_sysfs,
    parse_lspci,
    read_sysfs,
)
from tests.inventory.inventory_helpers import FakeFunction, build_sysfs, links_resolve, read_capture

MakeSysfs = Callable[[Iterable[FakeFunction]], Path]

HYPER18 = [
    FakeFunction("0000:00:00.0", "8086", "2f00", "060000", iommu_group=0, numa_node=0),
    FakeFunction("0000:0a:00.0", "102b", "0534", "030000", "mgag200", iommu_group=30, numa_node=0),
    FakeFunction("0000:86:00.0", "10de", "1024", "030200", "vfio-pci", iommu_group=42, numa_node=1),
]


def test_reads_ids_driver_group_and_numa(make_sysfs: MakeSysfs) -> None:
    root = make_sysfs(HYPER18)
    assert links_resolve(root)
    result = discover_from_sysfs(root)
    assert result.gpus == (
        GpuDevice(
            address="0000:86:00.0",
            vendor_id="10de",
            product_id="1024",
            class_id="0302",
            vendor="NVIDIA Corporation",
            device="GK110BGL [Tesla K40c]",
            driver="vfio-pci",
            iommu_group=42,
            numa_node=1,
            function="physical",
            device_type="type-PCI",
        ),
    )
    assert [item.address for item in result.excluded] == ["0000:0a:00.0"]


def test_numa_minus_one_and_missing_links_are_unknown(make_sysfs: MakeSysfs) -> None:
    root = make_sysfs([FakeFunction("0000:3b:00.0", "10de", "20b5", "030200")])
    (function,) = read_sysfs(root)
    assert (function.numa_node, function.driver, function.iommu_group) == (None, None, None)


def test_group_from_kernel_iommu_groups_when_the_link_is_missing(make_sysfs: MakeSysfs) -> None:
    root = make_sysfs(
        [FakeFunction("0000:3b:00.0", "10de", "20b5", "030200", iommu_group=9, group_link=False)]
    )
    assert not (root / "sys/bus/pci/devices/0000:3b:00.0/iommu_group").is_symlink()
    (function,) = read_sysfs(root)
    assert function.iommu_group == 9


def test_physfn_makes_a_virtual_function(make_sysfs: MakeSysfs) -> None:
    root = make_sysfs(
        [
            FakeFunction("0000:3b:00.0", "10de", "20b5", "030200", "nvidia", 5),
            FakeFunction(
                "0000:3b:00.4", "10de", "20b5", "030200", "nvidia", 6, physfn="0000:3b:00.0"
            ),
        ]
    )
    assert links_resolve(root)
    assert [(gpu.address, gpu.function) for gpu in discover_from_sysfs(root).gpus] == [
        ("0000:3b:00.0", "physical"),
        ("0000:3b:00.4", "virtual"),
    ]


def test_odd_domain(make_sysfs: MakeSysfs) -> None:
    root = make_sysfs([FakeFunction("61f0:00:00.0", "10de", "13f2", "030000", "nvidia")])
    (gpu,) = discover_from_sysfs(root).gpus
    assert (gpu.address, gpu.device) == ("61f0:00:00.0", "GM204GL [Tesla M60]")


def test_missing_devices_directory_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no PCI devices directory") as caught:
        read_sysfs(tmp_path)
    assert caught.value.source == str(tmp_path / "sys" / "bus" / "pci" / "devices")


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("vendor", "nvidia\n", "hex id"),
        ("class", "0x0302\n", "0x030200"),
        ("numa_node", "one\n", "NUMA node"),
    ],
)
def test_a_file_sysfs_never_writes_names_the_file(
    make_sysfs: MakeSysfs, file: str, content: str, message: str
) -> None:
    root = make_sysfs(HYPER18)
    path = root / "sys" / "bus" / "pci" / "devices" / "0000:86:00.0" / file
    path.write_text(content)
    with pytest.raises(InputError, match=message) as caught:
        read_sysfs(root)
    assert caught.value.source == str(path)


def _fake_from_capture(functions: tuple[PciFunction, ...]) -> list[FakeFunction]:
    heads = {f.address.bus_id: str(f.address) for f in functions if f.function == "physical"}
    return [
        FakeFunction(
            address=str(f.address),
            vendor=f.vendor_id or "",
            device=f.product_id or "",
            pci_class=f"{f.class_id}00",
            driver=f.driver,
            iommu_group=f.iommu_group,
            numa_node=-1 if f.numa_node is None else f.numa_node,
            physfn=heads[f.address.bus_id] if f.function == "virtual" else None,
        )
        for f in functions
    ]


def _comparable(device: GpuDevice) -> tuple[object, ...]:
    return (
        device.address,
        device.vendor_product,
        device.class_id,
        device.driver,
        device.iommu_group,
        device.numa_node,
        device.function,
    )


@pytest.mark.parametrize(
    "name",
    [
        "hyper18-k40c-nnk.txt",
        "hyper18-k40c-mmnn.txt",
        "dgx-a100-nnk-spaces.txt",
        "workstation-iommu-groups-header.txt",
        "epyc-mi210-vnn.txt",
        "w6800-vmmnnk.txt",
        "a100-sriov-vfs-nnk.txt",
        "azure-nv6-m60-nn.txt",
        "spr-max1550-gaudi2-Dnn.txt",
    ],
)
def test_sysfs_built_from_a_capture_discovers_the_same(make_sysfs: MakeSysfs, name: str) -> None:
    text = read_capture(name)
    root = make_sysfs(_fake_from_capture(parse_lspci(text, name).functions))
    from_lspci = discover_from_lspci(text, name)
    from_sysfs = discover_from_sysfs(root)
    assert [_comparable(g) for g in from_sysfs.gpus] == [_comparable(g) for g in from_lspci.gpus]
    assert [(_comparable(c.device), c.companion_of) for c in from_sysfs.companions] == [
        (_comparable(c.device), c.companion_of) for c in from_lspci.companions
    ]
    assert [e.address for e in from_sysfs.excluded] == [e.address for e in from_lspci.excluded]


hex4 = st.text("0123456789abcdef", min_size=4, max_size=4)
fake_functions = st.lists(
    st.builds(
        FakeFunction,
        address=st.builds(
            lambda d, b, s, f: f"{d:04x}:{b:02x}:{s:02x}.{f}",
            st.sampled_from([0, 0x61F0, 0x10000]),
            st.integers(0, 0xFF),
            st.integers(0, 0x1F),
            st.integers(0, 7),
        ),
        vendor=hex4,
        device=hex4,
        pci_class=st.sampled_from(["030000", "030200", "038000", "120000", "040300", "068000"]),
        driver=st.sampled_from([None, "vfio-pci", "nvidia", "amdgpu"]),
        iommu_group=st.one_of(st.none(), st.integers(0, 300)),
        numa_node=st.integers(-1, 7),
        group_link=st.booleans(),
    ),
    max_size=6,
    unique_by=lambda f: f.address,
)


@settings(max_examples=15, deadline=None)
@given(fake_functions)
def test_sysfs_reader_reads_back_what_was_laid_out(functions: list[FakeFunction]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = build_sysfs(Path(scratch), functions)
        read = read_sysfs(root)
    expected = sorted(
        (
            PciAddress.parse(f.address),
            f.vendor,
            f.device,
            f.pci_class[:4],
            f.driver,
            f.iommu_group,
            None if f.numa_node < 0 else f.numa_node,
        )
        for f in functions
    )
    assert [
        (f.address, f.vendor_id, f.product_id, f.class_id, f.driver, f.iommu_group, f.numa_node)
        for f in read
    ] == expected
