"""The parsers of the kernel command line, modprobe.d and initramfs settings."""

from __future__ import annotations

from gpuslice.doctor.config import (
    Cmdline,
    module_name,
    parse_dracut,
    parse_initramfs_tools,
    parse_modprobe,
)


def test_cmdline_last_value_wins_and_module_params_ignore_dash_or_underscore() -> None:
    line = Cmdline.parse("ro intel_iommu=off quiet intel_iommu=on vfio_pci.ids=10de:1024 iommu")
    assert line.value("intel_iommu") == "on"
    assert line.value("iommu") == ""
    assert line.value("amd_iommu") is None
    assert line.module_param("vfio-pci", "ids") == "10de:1024"


def test_cmdline_comma_lists() -> None:
    line = Cmdline.parse("modprobe.blacklist=nouveau,snd-hda-intel rd.driver.pre=vfio-pci")
    assert line.lists("modprobe.blacklist", "snd_hda_intel")
    assert line.lists("rd.driver.pre", "vfio_pci")
    assert not line.lists("modprobe.blacklist", "amdgpu")


def test_modprobe_joins_continued_lines_and_keeps_the_first_line_number() -> None:
    text = (
        "# comment\n"
        "options vfio-pci \\\n"
        "  ids=10de:1024,10de:0e1a disable_vga=1\n"
        "softdep nouveau pre: vfio-pci post: something\n"
        "softdep amdgpu post: vfio-pci\n"
        "blacklist radeon\n"
        "install i915 /bin/false\n"
    )
    config = parse_modprobe([("etc/modprobe.d/v.conf", text)])
    assert config.options("vfio_pci", "ids") == [("10de:1024,10de:0e1a", "etc/modprobe.d/v.conf:2")]
    assert config.soft_pre("nouveau", "vfio_pci") == "etc/modprobe.d/v.conf:4"
    assert config.soft_pre("amdgpu", "vfio-pci") is None  # post:, not pre:
    assert config.blocked("radeon") == "etc/modprobe.d/v.conf:6"
    assert config.blocked("i915") == "etc/modprobe.d/v.conf:7"
    assert config.blocked("nouveau") is None


def test_dracut_and_initramfs_tools_modules() -> None:
    dracut = parse_dracut([("etc/dracut.conf.d/v.conf", 'force_drivers+=" vfio vfio-pci " # x\n')])
    assert dracut.tool == "dracut"
    assert dracut.source_of("vfio_pci") == "etc/dracut.conf.d/v.conf:1"
    tools = parse_initramfs_tools("etc/initramfs-tools/modules", "# list\nvfio\nvfio_pci ids=1\n")
    assert tools.source_of("vfio-pci") == "etc/initramfs-tools/modules:3"
    assert tools.source_of("nouveau") is None
    assert module_name("snd-hda-intel") == "snd_hda_intel"
