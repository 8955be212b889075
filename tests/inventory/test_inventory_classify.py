"""The rules that sort PCI functions into GPUs, companions and exclusions."""

from __future__ import annotations

import random

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gpuslice.inventory import (
    Discovery,
    PciAddress,
    PciFunction,
    classify,
    discover_from_lspci,
    parse_lspci,
)
from gpuslice.inventory.classify import AMD_APU_GRAPHICS
from gpuslice.inventory.pci_names import CONSOLE_VENDORS, GPU_CLASSES, GPU_VENDORS
from tests.inventory.inventory_helpers import read_capture


def fn(address: str, vendor_id: str | None, class_id: str | None, **extra: object) -> PciFunction:
    return PciFunction(
        address=PciAddress.parse(address),
        vendor_id=vendor_id,
        product_id="1234" if vendor_id else None,
        class_id=class_id,
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("vendor", sorted(GPU_VENDORS))
@pytest.mark.parametrize("class_id", sorted(GPU_CLASSES))
def test_gpu_vendor_display_or_accelerator_is_a_candidate(vendor: str, class_id: str) -> None:
    result = classify([fn("0000:3b:00.0", vendor, class_id)])
    assert [gpu.address for gpu in result.gpus] == ["0000:3b:00.0"]
    assert result.excluded == ()


@pytest.mark.parametrize("vendor", sorted(CONSOLE_VENDORS))
def test_bmc_and_emulated_display_adapters_are_left_out(vendor: str) -> None:
    result = classify([fn("0000:03:00.0", vendor, "0300")])
    assert result.gpus == ()
    (item,) = result.excluded
    assert item.address == "0000:03:00.0"
    assert "BMC console or emulated display adapter" in item.reason


@pytest.mark.parametrize(
    ("address", "integrated"),
    [("0000:00:02.0", True), ("0000:03:00.0", False), ("0001:00:02.0", False)],
)
def test_intel_on_the_root_bus_is_integrated(address: str, integrated: bool) -> None:
    result = classify([fn(address, "8086", "0300")])
    assert bool(result.gpus) is not integrated
    assert any("integrated" in item.reason for item in result.excluded) is integrated


def test_unknown_vendor_accelerator_is_left_out_with_its_vendor() -> None:
    result = classify([fn("0000:9a:00.0", "10ee", "1200", vendor="Xilinx Corporation")])
    (item,) = result.excluded
    assert item.reason == "display or accelerator of Xilinx Corporation, not a known GPU vendor"


def test_gpu_vendor_bridge_is_left_out_but_intel_chipset_is_not_listed() -> None:
    result = classify(
        [
            fn("0000:c4:00.0", "10de", "0680", device="GA100 [A100 NVSwitch]"),
            fn("0000:00:1f.0", "8086", "0601"),
            fn("0000:01:00.0", "14e4", "0200"),
        ]
    )
    assert [(i.address, i.reason) for i in result.excluded] == [
        ("0000:c4:00.0", "bridge (an NVSwitch), class 0680: not a GPU")
    ]


def test_lone_gpu_vendor_audio_is_left_out_saying_why() -> None:
    result = classify([fn("0000:05:00.1", "10de", "0403")])
    (item,) = result.excluded
    assert "no GPU in its slot or IOMMU group" in item.reason


def test_companion_by_iommu_group_and_not_by_bridge() -> None:
    result = classify(
        [
            fn("0000:00:01.0", "8086", "0604", iommu_group=1),
            fn("0000:01:00.0", "10de", "0300", iommu_group=1),
            fn("0000:03:00.0", "1b21", "0c03", iommu_group=1, vendor="ASMedia"),
            fn("0000:04:00.0", "1b21", "0c03", iommu_group=2),
        ]
    )
    assert [(c.device.address, c.companion_of) for c in result.companions] == [
        ("0000:03:00.0", "0000:01:00.0")
    ]
    assert any(
        "0000:03:00.0" in w and "takes this device from the host" in w for w in result.warnings
    )


def test_companion_prefers_the_gpu_in_its_slot() -> None:
    result = classify(
        [
            fn("0000:01:00.0", "10de", "0300", iommu_group=1),
            fn("0000:02:00.0", "10de", "0300", iommu_group=1),
            fn("0000:02:00.1", "10de", "0403", iommu_group=1),
        ]
    )
    assert [c.companion_of for c in result.companions] == ["0000:02:00.0"]


def test_no_gpu_is_a_warning_not_an_error() -> None:
    result = classify([fn("0000:00:00.0", "8086", "0600")])
    assert result == Discovery(gpus=(), warnings=("no passthrough GPU candidate found",))


def test_reader_warnings_come_first() -> None:
    result = classify([fn("0000:3b:00.0", "10de", "0302", driver="nouveau")], ["from reader"])
    assert result.warnings[0] == "from reader"
    assert "bound to nouveau, not vfio-pci" in result.warnings[1]


def test_json_document_has_the_contract_keys() -> None:
    result = discover_from_lspci(read_capture("workstation-rtx2080ti-nn.txt"), "w.txt")
    document = result.to_json()
    assert set(document) == {"gpus", "companions", "excluded", "warnings"}
    device_keys = {
        "address",
        "vendor_id",
        "product_id",
        "class_id",
        "vendor",
        "device",
        "driver",
        "iommu_group",
        "numa_node",
        "function",
        "sriov_totalvfs",
        "device_type",
    }
    assert {frozenset(gpu) for gpu in document["gpus"]} == {frozenset(device_keys)}
    assert {frozenset(c) for c in document["companions"]} == {
        frozenset(device_keys | {"companion_of"})
    }
    assert {frozenset(e) for e in document["excluded"]} == {
        frozenset({"address", "class_id", "vendor", "device", "reason"})
    }


LINE_FORMS = [
    "workstation-rtx2080ti-nn.txt",
    "hyper18-k40c-plain.txt",
    "hyper18-iommu-groups-inline.txt",
    "azure-nv6-m60-nn.txt",
    "spr-max1550-gaudi2-Dnn.txt",
]


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(LINE_FORMS), seed=st.integers(0, 2**32 - 1))
def test_line_order_does_not_change_the_discovery(name: str, seed: int) -> None:
    lines = read_capture(name).splitlines()
    shuffled = lines[:]
    random.Random(seed).shuffle(shuffled)
    assert discover_from_lspci("\n".join(shuffled), name) == discover_from_lspci(
        "\n".join(lines), name
    )


hex4 = st.text("0123456789abcdef", min_size=4, max_size=4)


@given(
    bus=st.integers(1, 0xFF),
    vendor=st.sampled_from(sorted(GPU_VENDORS)),
    product=hex4,
    class_id=st.sampled_from(sorted(GPU_CLASSES)),
    rev=st.text("0123456789abcdef", min_size=2, max_size=2),
)
def test_nn_line_ids_round_trip(
    bus: int, vendor: str, product: str, class_id: str, rev: str
) -> None:
    # an AMD APU's own graphics is left out on purpose (classify rule 5)
    assume(not (vendor == "1002" and product in AMD_APU_GRAPHICS))
    line = (
        f"{bus:02x}:00.0 Some class [{class_id}]: Vendor Name Inc. Model [X] "
        f"[{vendor}:{product}] (rev {rev})"
    )
    (function,) = parse_lspci(line, "x").functions
    assert (function.vendor_id, function.product_id, function.class_id) == (
        vendor,
        product,
        class_id,
    )
    assert (function.vendor, function.device) == ("Vendor Name Inc.", "Model [X]")
    assert [gpu.address for gpu in classify([function]).gpus] == [f"0000:{bus:02x}:00.0"]


def test_unknown_class_name_is_left_out_saying_so() -> None:
    function = PciFunction(
        address=PciAddress.parse("0000:41:00.0"), vendor="NVIDIA Corporation", class_name="Widget"
    )
    (item,) = classify([function]).excluded
    assert item.reason == "class 'Widget' unknown to gpuslice: not taken for a GPU"


def test_names_alone_are_enough_to_classify() -> None:
    functions = [
        PciFunction(
            address=PciAddress.parse(address),
            class_name=class_name,
            vendor=vendor,
        )
        for address, class_name, vendor in [
            ("0000:86:00.0", "3D controller", "NVIDIA Corporation"),
            ("0000:86:00.1", "Audio device", "NVIDIA Corporation"),
            ("0000:0a:00.0", "VGA compatible controller", "Matrox Electronics Systems Ltd."),
            ("0000:00:02.0", "VGA compatible controller", "Intel Corporation"),
        ]
    ]
    result = classify(functions)
    assert [gpu.address for gpu in result.gpus] == ["0000:86:00.0"]
    assert [c.device.address for c in result.companions] == ["0000:86:00.1"]
    assert [item.address for item in result.excluded] == ["0000:00:02.0", "0000:0a:00.0"]
    assert all(gpu.vendor_id is None and gpu.class_id is None for gpu in result.gpus)


BLOCK_FORMS = [
    "hyper18-k40c-nnk.txt",
    "dgx-a100-nnk-spaces.txt",
    "epyc-mi210-vnn.txt",
    "w6800-vmmnnk.txt",
    "hgx-h100-vmm.txt",
    "a100-sriov-vfs-nnk.txt",
]


def _blocks(text: str) -> list[list[str]]:
    """Split a capture into one block per function: its first line and the details below it."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        starts = line[:1].isalnum() and not line.startswith(("Class:", "Vendor:", "Device:"))
        if line.startswith("Slot:") or (starts and ":" in line[:8] and "." in line[:10]):
            blocks.append([])
        if blocks and line.strip():
            blocks[-1].append(line)
    return blocks


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(BLOCK_FORMS), seed=st.integers(0, 2**32 - 1))
def test_function_order_does_not_change_the_discovery(name: str, seed: int) -> None:
    blocks = _blocks(read_capture(name))
    assert len(blocks) >= 3
    random.Random(seed).shuffle(blocks)
    text = "\n\n".join("\n".join(block) for block in blocks) + "\n"
    assert discover_from_lspci(text, name) == discover_from_lspci(read_capture(name), name)


def test_companion_of_unknown_class_says_so() -> None:
    result = classify(
        [
            fn("0000:01:00.0", "10de", "0300", iommu_group=1),
            PciFunction(address=PciAddress.parse("0000:00:01.0"), iommu_group=1),
        ]
    )
    assert [c.device.address for c in result.companions] == ["0000:00:01.0"]
    assert any("0000:00:01.0" in w and "class is unknown" in w for w in result.warnings)
