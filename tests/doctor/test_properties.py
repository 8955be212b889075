"""Rendered fixes parse back to the same values with the parsers the checks use; parsers of
snapshot text never raise on any text."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gpuslice.doctor.config import Cmdline, parse_dracut, parse_modprobe
from gpuslice.doctor.fix import HostFix, render_dracut, render_grub, render_modprobe
from gpuslice.errors import InputError
from tests.doctor.helpers import copy_snapshot, examine

_HEX = st.text(alphabet="0123456789abcdef", min_size=4, max_size=4)
_IDS = st.lists(st.builds(lambda v, p: f"{v}:{p}", _HEX, _HEX), max_size=6, unique=True)
_MODULE = st.from_regex(r"[a-z][a-z0-9_]{1,15}", fullmatch=True)
_MODULES = st.lists(_MODULE, max_size=4, unique=True)
_ARGS = st.lists(st.from_regex(r"[a-z_]{1,10}=[a-z0-9]{1,6}", fullmatch=True), max_size=4)


@settings(max_examples=30, deadline=None)
@given(ids=_IDS, softdeps=_MODULES, blacklist=_MODULES)
def test_modprobe_fix_parses_back(
    ids: list[str], softdeps: list[str], blacklist: list[str]
) -> None:
    fix = HostFix(
        "h", vfio_ids=tuple(sorted(ids)), softdeps=tuple(softdeps), blacklist=tuple(blacklist)
    )
    config = parse_modprobe([("f.conf", render_modprobe(fix))])
    parsed = [v for value, _ in config.options("vfio-pci", "ids") for v in value.split(",")]
    assert parsed == sorted(ids)
    assert all(config.soft_pre(m, "vfio_pci") is not None for m in softdeps)
    assert all(config.blocked(m) is not None for m in blacklist)


@settings(max_examples=30, deadline=None)
@given(args=_ARGS, modules=_MODULES)
def test_grub_and_dracut_fixes_parse_back(args: list[str], modules: list[str]) -> None:
    grub = render_grub(HostFix("h", kernel_args=tuple(args)))
    line = next((row for row in grub.splitlines() if row.startswith("GRUB_CMDLINE_LINUX=")), "")
    words = Cmdline.parse(line.split("} ", 1)[1].rstrip('"') if args else "")
    for arg in args:
        key = arg.split("=", 1)[0]
        assert words.value(key) == dict(a.split("=", 1) for a in args)[key]
    if modules:
        dracut = parse_dracut(
            [("d.conf", render_dracut(HostFix("h", early_modules=tuple(modules))))]
        )
        assert all(dracut.source_of(m) == "d.conf:4" for m in modules)


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=400))
def test_parsers_take_any_text(text: str) -> None:
    Cmdline.parse(text).value("iommu")
    config = parse_modprobe([("f.conf", text)])
    config.options("vfio-pci", "ids")
    config.soft_pre("nouveau", "vfio-pci")
    config.blocked("nouveau")
    parse_dracut([("d.conf", text)]).source_of("vfio_pci")


_FILES = (
    "proc/cmdline",
    "proc/modules",
    "proc/interrupts",
    "etc/modprobe.d/vfio.conf",
    "etc/dracut.conf.d/vfio.conf",
    "sys/bus/pci/devices/0000:86:00.0/vendor",
    "sys/bus/pci/devices/0000:86:00.0/class",
    "sys/bus/pci/devices/0000:86:00.0/numa_node",
    "sys/bus/pci/devices/0000:86:00.0/sriov_totalvfs",
    "sys/devices/system/node/online",
    "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts",
    "etc/driverctl.d/pci-0000:86:00.1",
)


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(_FILES), data=st.binary(max_size=200))
def test_any_file_content_gives_a_report_or_an_input_error(name: str, data: bytes) -> None:
    """Bad items are verdicts or a clear InputError (exit 2), never another exception."""
    with tempfile.TemporaryDirectory() as tmp:
        root = copy_snapshot("ready", Path(tmp))
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
        source: str | None = "-"
        try:
            report = examine(root)
        except InputError as error:
            source = error.source
        else:
            assert report.host == "gpu-ready"
            return
        assert source is not None
        assert source.endswith(name)
