"""Lines lspci never prints are errors that name the file and the line; so is empty input."""

from __future__ import annotations

import pytest

from gpuslice.errors import InputError
from gpuslice.inventory import discover_from_lspci, parse_lspci

GOOD = "86:00.0 3D controller [0302]: NVIDIA Corporation GK110BGL [Tesla K40c] [10de:1024]\n"


@pytest.mark.parametrize(
    ("bad_line", "why"),
    [
        ("this is not lspci output", "cannot read this line"),
        ("86:00.0 3D controller", "class: description"),
        ("86:00.0 3D controller:NVIDIA", "class: description"),
        ("86:20.0 3D controller [0302]: NVIDIA Corporation [10de:1024]", "device 0x20"),
        ("IOMMU Group 42 something else", "expected a device line"),
        ("Slot:\tnowhere", "not a PCI address"),
        ('86:00.0 "3D controller [0302]" "NVIDIA Corporation [10de]', "quoted fields"),
        ('86:00.0 "3D controller [0302]" "NVIDIA Corporation [10de]"', "class, vendor and device"),
        ("the lspci output follows", "cannot read"),
        ("-[0000:00]-+-00.0  Intel Corporation Xeon E7 v3/Xeon E5 v3/Core i7 DMI2", "cannot read"),
    ],
)
def test_unreadable_line_names_file_and_line(bad_line: str, why: str) -> None:
    text = GOOD + "\tKernel driver in use: vfio-pci\n" + bad_line + "\n" + GOOD
    with pytest.raises(InputError, match=why) as caught:
        parse_lspci(text, "hyper18.txt")
    assert (caught.value.source, caught.value.line) == ("hyper18.txt", 3)
    assert str(caught.value).startswith("hyper18.txt:3: ")


def test_vmm_number_field_that_is_no_number() -> None:
    text = "Slot:\t86:00.0\nClass:\t3D controller [0302]\nNUMANode:\tnear\n"
    with pytest.raises(InputError, match="NUMANode") as caught:
        parse_lspci(text, "vmm.txt")
    assert caught.value.line == 3


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n",
        "--\n\n--\n",
        "\tKernel driver in use: nvidia\n\tKernel modules: nouveau\n",
        "$ lspci -nnk | grep -i nvidia\n",
    ],
)
def test_input_without_any_device_line_is_an_error(text: str) -> None:
    with pytest.raises(InputError, match="no PCI device line") as caught:
        discover_from_lspci(text, "empty.txt")
    assert caught.value.source == "empty.txt"
    assert caught.value.line is None


def test_lines_that_are_clearly_not_device_lines_are_skipped() -> None:
    text = (
        "$ lspci -vnn | grep -A2 -i nvidia\n"
        "\n"
        "--\n"
        + GOOD
        + "\tFlags: bus master, fast devsel, latency 0, IRQ 16, NUMA node 1\n"
        + "\tCapabilities: [60] Power Management version 3\n"
        + "--\n"
        + "\t\n"
    )
    (function,) = parse_lspci(text, "x").functions
    assert function.numa_node == 1
