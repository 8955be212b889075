"""Every common lspci form is read, with what that form shows and nothing guessed."""

from __future__ import annotations

import pytest

from gpuslice.errors import InputError
from gpuslice.inventory import Discovery, GpuDevice, discover_from_lspci, parse_lspci
from tests.inventory.inventory_helpers import read_capture

K40C = GpuDevice(
    address="0000:86:00.0",
    vendor_id="10de",
    product_id="1024",
    class_id="0302",
    vendor="NVIDIA Corporation",
    device="GK110BGL [Tesla K40c]",
    driver="vfio-pci",
    iommu_group=None,
    numa_node=None,
    function="physical",
)


def discover(name: str) -> Discovery:
    return discover_from_lspci(read_capture(name), name)


def gpu_addresses(result: Discovery) -> list[str]:
    return [gpu.address for gpu in result.gpus]


def excluded_reasons(result: Discovery) -> dict[str, str]:
    return {item.address: item.reason for item in result.excluded}


@pytest.mark.parametrize(
    ("name", "gpus"),
    [
        ("hyper18-k40c-nnk.txt", ["0000:86:00.0"]),
        ("hyper18-k40c-plain.txt", ["0000:86:00.0"]),
        ("hyper18-k40c-D.txt", ["0000:86:00.0"]),
        ("hyper18-k40c-n.txt", ["0000:86:00.0"]),
        ("hyper18-k40c-mmnn.txt", ["0000:86:00.0"]),
        ("hyper18-iommu-groups-inline.txt", ["0000:86:00.0"]),
        (
            "dgx-a100-nnk-spaces.txt",
            [f"0000:{bus}:00.0" for bus in ("07", "0f", "47", "4e", "87", "90", "b7", "bd")],
        ),
        ("workstation-rtx2080ti-nn.txt", ["0000:01:00.0", "0000:02:00.0"]),
        ("workstation-iommu-groups-header.txt", ["0000:01:00.0", "0000:02:00.0"]),
        ("epyc-mi210-vnn.txt", ["0000:c3:00.0"]),
        ("w6800-vmmnnk.txt", ["0000:0b:00.0"]),
        (
            "hgx-h100-vmm.txt",
            [f"0000:{bus}:00.0" for bus in ("18", "2a", "3a", "5d", "9a", "ab", "ba", "db")],
        ),
        ("a100-grep-excerpt.txt", ["0000:3b:00.0", "0000:af:00.0", "0000:d8:00.0"]),
        ("azure-nv6-m60-nn.txt", ["61f0:00:00.0"]),
        ("spr-max1550-gaudi2-Dnn.txt", ["0000:1a:00.0", "0000:29:00.0", "0000:4d:00.0"]),
    ],
)
def test_each_capture_yields_its_gpus(name: str, gpus: list[str]) -> None:
    assert gpu_addresses(discover(name)) == gpus


def test_nnk_gives_every_field_it_shows() -> None:
    result = discover("hyper18-k40c-nnk.txt")
    assert result.gpus == (K40C,)
    assert result.companions == ()
    (warning,) = result.warnings
    assert "does not show whether 0000:86:00.0 is SR-IOV capable" in warning


def test_plain_lspci_keeps_names_and_never_guesses_ids() -> None:
    result = discover("hyper18-k40c-plain.txt")
    (gpu,) = result.gpus
    assert (gpu.vendor_id, gpu.product_id, gpu.class_id) == (None, None, None)
    assert (gpu.vendor, gpu.device) == ("NVIDIA Corporation", "GK110BGL [Tesla K40c]")
    assert any("no numeric ids" in w and "lspci -nn" in w for w in result.warnings)


def test_domain_form_equals_the_plain_form() -> None:
    plain, with_domain = discover("hyper18-k40c-plain.txt"), discover("hyper18-k40c-D.txt")
    assert plain.gpus == with_domain.gpus
    assert plain.excluded == with_domain.excluded


def test_numeric_form_takes_names_from_the_table() -> None:
    (gpu,) = discover("hyper18-k40c-n.txt").gpus
    assert gpu.vendor_product == "10de:1024"
    assert (gpu.vendor, gpu.device) == ("NVIDIA Corporation", "GK110BGL [Tesla K40c]")


def test_space_indented_details_read_like_tab_indented_ones() -> None:
    text = read_capture("hyper18-k40c-nnk.txt")
    spaced = text.replace("\t", "    ")
    assert spaced != text
    assert discover_from_lspci(spaced, "x") == discover_from_lspci(text, "x")


def test_dgx_nvswitches_and_bmc_are_left_out_with_reasons() -> None:
    result = discover("dgx-a100-nnk-spaces.txt")
    reasons = excluded_reasons(result)
    switches = [a for a, r in reasons.items() if "NVSwitch" in r and "0680" in r]
    assert switches == [f"0000:{bus}:00.0" for bus in ("c4", "c5", "c6", "c7", "c8", "c9")]
    assert "BMC" in reasons["0000:23:00.0"]
    assert {gpu.driver for gpu in result.gpus} == {"nvidia"}
    assert {gpu.product_id for gpu in result.gpus} == {"20b0"}


def test_verbose_form_reads_numa_and_iommu_from_flags() -> None:
    result = discover("epyc-mi210-vnn.txt")
    (gpu,) = result.gpus
    assert (gpu.class_id, gpu.vendor_product) == ("0380", "1002:740f")
    assert (gpu.numa_node, gpu.iommu_group, gpu.driver) == (1, 65, "vfio-pci")
    assert gpu.device == "Aldebaran/MI200 [Instinct MI210]"
    reasons = excluded_reasons(result)
    assert "PCI bridge" in reasons["0000:c1:00.0"]
    assert "PCI bridge" in reasons["0000:c2:00.0"]
    assert "BMC" in reasons["0000:c4:00.0"]
    assert result.companions == ()


def test_vmm_records_with_ids_and_companion_audio() -> None:
    result = discover("w6800-vmmnnk.txt")
    (gpu,) = result.gpus
    assert (gpu.vendor_product, gpu.class_id, gpu.driver) == ("1002:73a3", "0300", "vfio-pci")
    assert (gpu.numa_node, gpu.iommu_group) == (0, 27)
    assert gpu.vendor == "Advanced Micro Devices, Inc. [AMD/ATI]"
    (audio,) = result.companions
    assert (audio.device.address, audio.companion_of) == ("0000:0b:00.1", "0000:0b:00.0")
    assert (audio.device.vendor_product, audio.device.driver) == ("1002:ab28", "snd_hda_intel")
    assert any("0000:0b:00.1" in w and "snd_hda_intel" in w for w in result.warnings)


def test_vmm_without_ids_keeps_numa_and_names() -> None:
    result = discover("hgx-h100-vmm.txt")
    assert [gpu.numa_node for gpu in result.gpus] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert {gpu.device for gpu in result.gpus} == {"GH100 [H100 SXM5 80GB]"}
    assert {gpu.vendor_id for gpu in result.gpus} == {None}
    reasons = excluded_reasons(result)
    assert sum("NVSwitch" in r for r in reasons.values()) == 4
    assert "BMC" in reasons["0000:03:00.0"]
    assert any("no numeric ids" in w for w in result.warnings)


def test_grep_excerpt_with_separators_and_a_cut_detail_line() -> None:
    result = discover("a100-grep-excerpt.txt")
    assert [gpu.driver for gpu in result.gpus] == ["vfio-pci", "vfio-pci", "nvidia"]
    assert [w for w in result.warnings if "bound to nvidia" in w] == [
        "GPU 0000:d8:00.0 (NVIDIA Corporation GA100 [A100 PCIe 80GB]) is bound to nvidia, "
        "not vfio-pci"
    ]


def test_iommu_group_per_line_listing() -> None:
    result = discover("hyper18-iommu-groups-inline.txt")
    (gpu,) = result.gpus
    assert (gpu.iommu_group, gpu.vendor_product) == (42, "10de:1024")
    assert "BMC" in excluded_reasons(result)["0000:0a:00.0"]


def test_iommu_group_listing_without_domain_and_with_colon() -> None:
    text = (
        "IOMMU Group 42 86:00.0 3D controller [0302]: NVIDIA Corporation GK110BGL [Tesla K40c]"
        " [10de:1024] (rev a1)\n"
        "IOMMU group 43: 87:00.0 3D controller [0302]: NVIDIA Corporation GK110BGL [Tesla K40c]"
        " [10de:1024] (rev a1)\n"
    )
    result = discover_from_lspci(text, "groups.txt")
    assert [(g.address, g.iommu_group) for g in result.gpus] == [
        ("0000:86:00.0", 42),
        ("0000:87:00.0", 43),
    ]


def test_iommu_group_headers_give_their_indented_devices_the_group() -> None:
    result = discover("workstation-iommu-groups-header.txt")
    assert [gpu.iommu_group for gpu in result.gpus] == [1, 1]
    companions = {c.device.address: c.companion_of for c in result.companions}
    assert companions == {
        "0000:01:00.1": "0000:01:00.0",
        "0000:01:00.2": "0000:01:00.0",
        "0000:01:00.3": "0000:01:00.0",
        "0000:02:00.1": "0000:02:00.0",
        "0000:02:00.2": "0000:02:00.0",
        "0000:02:00.3": "0000:02:00.0",
    }
    assert any("IOMMU group 1 holds 2 GPUs" in w for w in result.warnings)
    assert "integrated" in excluded_reasons(result)["0000:00:02.0"]


def test_header_group_does_not_reach_unindented_lines() -> None:
    text = (
        "IOMMU Group 7:\n"
        "\t01:00.0 VGA compatible controller [0300]: NVIDIA Corporation TU102 [GeForce RTX 2080"
        " Ti] [10de:1e04] (rev a1)\n"
        "02:00.0 VGA compatible controller [0300]: NVIDIA Corporation TU102 [GeForce RTX 2080"
        " Ti] [10de:1e04] (rev a1)\n"
    )
    result = discover_from_lspci(text, "mixed.txt")
    assert [gpu.iommu_group for gpu in result.gpus] == [7, None]


def test_hdmi_audio_and_usb_functions_are_companions_of_their_slot() -> None:
    result = discover("workstation-rtx2080ti-nn.txt")
    by_address = {c.device.address: c for c in result.companions}
    assert sorted(by_address) == [f"0000:0{b}:00.{f}" for b in (1, 2) for f in (1, 2, 3)]
    assert by_address["0000:02:00.1"].device.class_id == "0403"
    assert by_address["0000:02:00.1"].companion_of == "0000:02:00.0"
    assert "integrated" in excluded_reasons(result)["0000:00:02.0"]
    # Intel's chipset audio at 00:1f.3 is neither companion nor listed
    assert "0000:00:1f.3" not in by_address
    assert "0000:00:1f.3" not in excluded_reasons(result)


def test_odd_domain_gpu_and_hyper_v_vga() -> None:
    result = discover("azure-nv6-m60-nn.txt")
    (gpu,) = result.gpus
    assert (gpu.address, gpu.vendor_product) == ("61f0:00:00.0", "10de:13f2")
    assert "Microsoft" in excluded_reasons(result)["0000:00:08.0"]


def test_sriov_virtual_functions_beside_their_physical_function() -> None:
    result = discover("a100-sriov-vfs-nnk.txt")
    functions = {gpu.address: gpu.function for gpu in result.gpus}
    assert functions.pop("0000:3b:00.0") == "physical"
    assert len(functions) == 6
    assert set(functions.values()) == {"virtual"}


def test_two_physical_gpus_on_one_bus_are_not_taken_for_virtual_functions() -> None:
    line = (
        "00:{slot}.0 3D controller [0302]: NVIDIA Corporation GA100 [A100 PCIe 80GB]"
        " [10de:20b5] (rev a1)"
    )
    text = "\n".join(line.format(slot=slot) for slot in ("05", "06"))
    result = discover_from_lspci(text, "guest.txt")
    assert [gpu.function for gpu in result.gpus] == ["physical", "physical"]


def test_virtual_function_named_so_by_lspci() -> None:
    text = (
        "05:02.0 Display controller [0380]: Intel Corporation Data Center GPU Flex 170 Virtual"
        " Function [8086:56c0]\n"
    )
    (gpu,) = discover_from_lspci(text, "vf.txt").gpus
    assert gpu.function == "virtual"


def test_intel_max_habana_and_fpga() -> None:
    result = discover("spr-max1550-gaudi2-Dnn.txt")
    gaudi = result.gpus[2]
    assert (gaudi.vendor_product, gaudi.class_id) == ("1da3:1020", "1200")
    assert gaudi.device == "Gaudi2 AI Training Accelerator"  # lspci said only "Device"
    reasons = excluded_reasons(result)
    assert "Xilinx" in reasons["0000:9a:00.0"]
    assert "not a known GPU vendor" in reasons["0000:9a:00.1"]
    assert {gpu.vendor_id for gpu in result.gpus[:2]} == {"8086"}


def test_two_captures_of_one_host_merge() -> None:
    text = read_capture("hyper18-k40c-nnk.txt") + read_capture("hyper18-iommu-groups-inline.txt")
    result = discover_from_lspci(text, "both.txt")
    assert result.gpus == (
        GpuDevice(**{**K40C.__dict__, "iommu_group": 42}),  # the group from the loop
    )


def test_the_same_address_with_other_ids_is_an_error() -> None:
    text = (
        "86:00.0 3D controller [0302]: NVIDIA Corporation GK110BGL [Tesla K40c] [10de:1024]\n"
        "86:00.0 3D controller [0302]: NVIDIA Corporation GK110BGL [Tesla K40m] [10de:1023]\n"
    )
    with pytest.raises(InputError, match="line 1") as caught:
        parse_lspci(text, "two.txt")
    assert caught.value.line == 2


def test_shell_command_lines_are_skipped() -> None:
    text = read_capture("hyper18-k40c-nnk.txt")
    assert text.startswith("[root@hyper18 ~]# lspci -nnk\n")
    capture = parse_lspci(text, "x")
    assert capture.functions[0].line == 2
    assert len(capture.functions) == 14


def test_parse_keeps_the_line_of_each_function() -> None:
    text = read_capture("epyc-mi210-vnn.txt")
    capture = parse_lspci(text, "x")
    first_lines = {
        f"0000:{line.split()[0]}": number
        for number, line in enumerate(text.splitlines(), start=1)
        if line[:1].isalnum()
    }
    assert len(first_lines) == 6
    assert {str(f.address): f.line for f in capture.functions} == first_lines


def test_machine_readable_form_equals_the_nn_form() -> None:
    result = discover("hyper18-k40c-mmnn.txt")
    (gpu,) = result.gpus
    assert gpu == GpuDevice(**{**K40C.__dict__, "driver": None})
    assert [item.address for item in result.excluded] == ["0000:0a:00.0"]


def test_verbose_detail_lines_of_their_own_and_with_lost_indentation() -> None:
    text = (
        "86:00.0 3D controller [0302]: NVIDIA Corporation GK110BGL [Tesla K40c] [10de:1024]\n"
        "Subsystem: NVIDIA Corporation 12GB Computational Accelerator [10de:0983]\n"
        "Control: I/O- Mem+ BusMaster+ SpecCycle- MemWINV- VGASnoop- ParErr- Stepping-\n"
        "NUMA node: 1\n"
        "IOMMU group: 42\n"
        "Region 0: Memory at c8000000 (32-bit, non-prefetchable) [size=16M]\n"
        "Kernel driver in use: vfio-pci\n"
    )
    (gpu,) = discover_from_lspci(text, "vv.txt").gpus
    assert (gpu.numa_node, gpu.iommu_group, gpu.driver) == (1, 42, "vfio-pci")


def test_hex_dump_of_config_space_is_skipped() -> None:
    text = (
        "86:00.0 3D controller [0302]: NVIDIA Corporation GK110BGL [Tesla K40c] [10de:1024]\n"
        "00: de 10 24 10 07 04 10 00 a1 00 02 03 00 00 00 00\n"
        "10: 00 00 00 c8 0c 00 00 00 00 00 00 00 0c 00 00 00\n"
        "\n"
    )
    (function,) = parse_lspci(text, "x.txt").functions
    assert function.vendor_id == "10de"


def test_conflicting_driver_in_two_captures_is_a_warning() -> None:
    line = "86:00.0 3D controller [0302]: NVIDIA Corporation GK110BGL [Tesla K40c] [10de:1024]\n"
    text = line + "\tKernel driver in use: nouveau\n" + line + "\tKernel driver in use: vfio-pci\n"
    capture = parse_lspci(text, "two.txt")
    assert capture.functions[0].driver == "nouveau"
    assert capture.warnings == (
        "two.txt:3: 0000:86:00.0 driver is 'vfio-pci' here but 'nouveau' at line 1; "
        "keeping 'nouveau'",
    )


@pytest.mark.parametrize(
    "command",
    [
        "$ lspci -nnk",
        "[root@hyper18 ~]# lspci -nnk | grep -A3 -i nvidia",
        "user@hyper18:~$ sudo lspci -vnn",
        "for d in /sys/kernel/iommu_groups/*/devices/*; do n=${d#*/iommu_groups/*}; n=${n%%/*};"
        ' printf \'IOMMU Group %s \' "$n"; lspci -nns "${d##*/}"; done',
        "lspci -vmm",
    ],
)
def test_the_command_that_made_the_capture_is_skipped(command: str) -> None:
    text = command + "\n" + read_capture("hyper18-iommu-groups-inline.txt")
    assert discover_from_lspci(text, "x") == discover("hyper18-iommu-groups-inline.txt")


def test_names_lspci_printed_win_over_the_table() -> None:
    plain = "1a:00.0 Display controller: Intel Corporation Ponte Vecchio XT (2 Tile) (rev 2f)\n"
    numeric = "1a:00.0 0380: 8086:0bd5 (rev 2f)\n"
    for text in (plain + numeric, numeric + plain):
        capture = parse_lspci(text, "both.txt")
        (function,) = capture.functions
        assert function.device == "Ponte Vecchio XT (2 Tile)"
        assert (function.vendor_id, function.product_id, function.class_id) == (
            "8086",
            "0bd5",
            "0380",
        )
        assert capture.warnings == ()
    (alone,) = parse_lspci(numeric, "n.txt").functions
    assert alone.device == "Ponte Vecchio XT [Data Center GPU Max 1550]"


def test_group_paths_from_find_give_groups_to_an_nn_capture() -> None:
    paths = (
        "# find /sys/kernel/iommu_groups/ -type l\n"
        "/sys/kernel/iommu_groups/1/devices/0000:00:01.0\n"
        "/sys/kernel/iommu_groups/1/devices/0000:01:00.0\n"
        "/sys/kernel/iommu_groups/1/devices/0000:01:00.1\n"
        "/sys/kernel/iommu_groups/1/devices/0000:01:00.2\n"
        "/sys/kernel/iommu_groups/1/devices/0000:01:00.3\n"
        "/sys/kernel/iommu_groups/2/devices/0000:00:02.0\n"
    )
    nn = read_capture("workstation-rtx2080ti-nn.txt")
    for text in (nn + paths, paths + nn):
        result = discover_from_lspci(text, "both.txt")
        assert [(gpu.address, gpu.iommu_group) for gpu in result.gpus] == [
            ("0000:01:00.0", 1),
            ("0000:02:00.0", None),
        ]
        assert not any("numeric ids" in w for w in result.warnings)


def test_group_paths_alone_find_no_gpu() -> None:
    result = discover_from_lspci("/sys/kernel/iommu_groups/42/devices/0000:86:00.0\n", "p.txt")
    assert result.gpus == ()
    assert result.warnings == ("no passthrough GPU candidate found",)


def test_windows_line_ends_and_byte_order_mark() -> None:
    text = read_capture("hyper18-k40c-nnk.txt")
    windows = "\ufeff" + text.replace("\n", "\r\n")
    assert discover_from_lspci(windows, "x") == discover_from_lspci(text, "x")
