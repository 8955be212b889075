"""The name table and the split of lspci's `<vendor> <device>` text."""

from __future__ import annotations

import pytest

from gpuslice.inventory.pci_names import (
    CLASS_NAMES,
    CONSOLE_VENDORS,
    GPU_VENDORS,
    VENDOR_NAMES,
    class_id_for_name,
    split_vendor_and_device,
    vendor_id_for_name,
)


@pytest.mark.parametrize(
    ("text", "vendor_id", "expected"),
    [
        (
            "NVIDIA Corporation GK110BGL [Tesla K40c]",
            "10de",
            ("NVIDIA Corporation", "GK110BGL [Tesla K40c]"),
        ),
        (
            "Advanced Micro Devices, Inc. [AMD/ATI] Aldebaran/MI200 [Instinct MI210]",
            None,
            ("Advanced Micro Devices, Inc. [AMD/ATI]", "Aldebaran/MI200 [Instinct MI210]"),
        ),
        (
            "Renesas Technology Corp. SH7757 PCIe Switch [PS]",
            None,
            ("Renesas Technology Corp.", "SH7757 PCIe Switch [PS]"),
        ),
        (
            "Moore Threads Technology Co.,Ltd MTT S80",
            None,
            (None, "Moore Threads Technology Co.,Ltd MTT S80"),
        ),
        ("Tenstorrent Inc. Wormhole", None, ("Tenstorrent Inc.", "Wormhole")),
        ("Foo Ltd. [FOO] Bar Inc. Widget", None, ("Foo Ltd. [FOO]", "Bar Inc. Widget")),
        ("NVIDIA Corporation", "10de", ("NVIDIA Corporation", "")),
    ],
)
def test_split_vendor_and_device(
    text: str, vendor_id: str | None, expected: tuple[str | None, str]
) -> None:
    assert split_vendor_and_device(text, vendor_id) == expected


def test_vendor_categories_do_not_overlap_and_are_named() -> None:
    assert not GPU_VENDORS & CONSOLE_VENDORS
    assert set(VENDOR_NAMES) >= GPU_VENDORS | CONSOLE_VENDORS


@pytest.mark.parametrize(("class_id", "name"), sorted(CLASS_NAMES.items()))
def test_class_names_map_back_to_their_ids(class_id: str, name: str) -> None:
    assert class_id_for_name(name.upper()) == class_id


def test_vendor_id_for_name() -> None:
    assert vendor_id_for_name("ASPEED Technology, Inc.") == "1a03"
    assert vendor_id_for_name("Red Hat, Inc.") in CONSOLE_VENDORS
    assert vendor_id_for_name("Nobody Ltd.") is None
    assert vendor_id_for_name(None) is None
