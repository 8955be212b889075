"""The release check's vGPU (mdev) facts: dynamic `[mdev_<type>]` groups read from nova's source."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuslice.plan import make_plan
from gpuslice.releasecheck.matrix import ReleaseSource, cases, check_facts, check_file
from gpuslice.releasecheck.options import registered_options
from gpuslice.releasecheck.source import NOVA_VERSIONS, cache_dir, read_sources, wheel_path
from gpuslice.releases import Release
from gpuslice.render.tree import render_files

# Shaped like a nova 29+ nova/conf/devices.py (written for this test).
DEVICES = """
from oslo_config import cfg

devices_group = cfg.OptGroup(name='devices')
mdev_opts = [cfg.ListOpt('enabled_mdev_types', default=[],
                         deprecated_name='enabled_vgpu_types')]


def register_opts(conf):
    conf.register_group(devices_group)
    conf.register_opts(mdev_opts, group=devices_group)


def register_dynamic_opts(conf):
    for mdev_type in conf.devices.enabled_mdev_types:
        opt = cfg.ListOpt('device_addresses', default=[],
                          deprecated_group='vgpu_%s' % mdev_type)
        conf.register_opt(opt, group='mdev_%s' % mdev_type)
        class_opt = cfg.StrOpt('mdev_class', default='VGPU',
                               regex=r'^(VGPU|CUSTOM_[A-Z0-9_]+)$')
        conf.register_opt(class_opt, group='mdev_%s' % mdev_type)
        conf.register_opt(cfg.IntOpt('max_instances', min=1), group='mdev_%s' % mdev_type)
"""


def source(number: int = 34, text: str = DEVICES) -> ReleaseSource:
    return ReleaseSource(
        release=Release(number),
        version=f"{number}.0.0",
        registry=registered_options({"nova/conf/devices.py": text}),
        schema=None,
        validate=None,
        filters=frozenset(),
    )


def test_dynamic_groups_are_read_with_the_option_that_names_them() -> None:
    registry = source().registry
    group = registry.dynamic["mdev_"]
    assert group.source == ("devices", "enabled_mdev_types")
    assert set(group.options) == {"device_addresses", "mdev_class", "max_instances"}
    assert group.options["mdev_class"].regex == "^(VGPU|CUSTOM_[A-Z0-9_]+)$"
    assert group.options["max_instances"].minimum == 1
    assert registry.dynamic_aliases == {("vgpu_", "device_addresses"): "mdev_"}
    assert registry.aliases[("devices", "enabled_vgpu_types")] == ("devices", "enabled_mdev_types")
    # Static options stay as they were: the dynamic groups are not among them.
    assert set(registry.options) == {("devices", "enabled_mdev_types")}


def problems(text: str, number: int = 34) -> dict[str, str | None]:
    return {
        c.subject: c.problem
        for c in check_file(source(number), "case", "h/etc/nova/nova.conf", text)
    }


def test_a_dynamic_group_needs_its_type_enabled_the_new_names_and_fitting_values() -> None:
    found = problems(
        "[devices]\nenabled_mdev_types = nvidia-592,nvidia-35\n"
        "[mdev_nvidia-592]\ndevice_addresses = 0000:17:00.4,0000:17:00.5\nmdev_class = VGPU\n"
        "max_instances = 8\n"
        "[mdev_nvidia-35]\ndevice_addresses = 17:00.6\nmdev_class = vgpu\nmax_instances = 0\n"
        "[mdev_nvidia-36]\nmdev_class = VGPU\n"
        "[vgpu_nvidia-35]\ndevice_addresses = 0000:65:00.0\n"
    )
    assert found == {
        "[devices] enabled_mdev_types": None,
        "[mdev_nvidia-592] device_addresses": None,
        "[mdev_nvidia-592] mdev_class": None,
        "[mdev_nvidia-592] max_instances": None,
        "[mdev_nvidia-35] device_addresses": "not PCI addresses (nova's parse_address refuses "
        "them): 17:00.6",
        "[mdev_nvidia-35] mdev_class": "'vgpu' does not match ^(VGPU|CUSTOM_[A-Z0-9_]+)$",
        "[mdev_nvidia-35] max_instances": "0 is below the minimum 1",
        "[mdev_nvidia-36] mdev_class": "nova 34.0.0 registers [mdev_nvidia-36] only when "
        "[devices] enabled_mdev_types lists 'nvidia-36'",
        "[vgpu_nvidia-35] device_addresses": "only a deprecated alias of [mdev_<value>] "
        "device_addresses in nova 34.0.0",
    }


def test_the_mdev_rows_of_the_table_are_checked_against_the_dynamic_groups() -> None:
    passed = {c.subject: c.problem for c in check_facts(source(34))}
    assert passed["mdev_type_section_prefix = mdev_"] is None
    assert passed["[<prefix><type>] max_instances = True"] is None
    # Release 28's row says no max_instances; this source registers it: the table is caught.
    failed = {c.subject: c.problem for c in check_facts(source(28)) if not c.ok}
    assert failed["[<prefix><type>] max_instances = False"] == "table differs"
    # A source without the loop has no [mdev_<type>] group at all.
    static_only = DEVICES.split("def register_dynamic_opts")[0]
    failed = {c.subject: c.problem for c in check_facts(source(34, static_only)) if not c.ok}
    assert failed["mdev_type_section_prefix = mdev_"] == "nova 34.0.0 registers None"


def test_the_matrix_renders_the_vgpu_fleet_on_cards_and_on_vfs() -> None:
    labels = [label for label, _ in cases(Release(34))]
    assert "34 placement vgpu-card per_card" in labels
    assert "34 placement vgpu-vfs pooled" in labels
    fleet = dict(cases(Release(34)))["34 placement vgpu-vfs per_card"]
    conf = render_files(make_plan(fleet))["vgpu-01/etc/nova/nova.conf"]
    assert "[mdev_nvidia-592]" in conf
    assert "0000:17:00.4" in conf


WHEELS = {n: wheel_path(NOVA_VERSIONS[n], cache_dir()) for n in (20, 21, 24, 29)}


@pytest.mark.skipif(
    any(w is None for w in WHEELS.values()), reason="nova wheels not cached; scripts/test-releases"
)
@pytest.mark.parametrize(
    ("number", "prefix", "options"),
    [
        (20, None, set()),
        (21, "vgpu_", {"device_addresses"}),
        (24, "mdev_", {"device_addresses", "mdev_class"}),
        (29, "mdev_", {"device_addresses", "mdev_class", "max_instances"}),
    ],
)
def test_real_nova_registers_the_mdev_groups_the_table_says(
    number: int, prefix: str | None, options: set[str]
) -> None:
    wheel = WHEELS[number]
    assert isinstance(wheel, Path)
    registry = registered_options(read_sources(wheel))
    found = {
        p: set(g.options)
        for p, g in registry.dynamic.items()
        if g.source is not None and g.source[0] == "devices"
    }
    assert found == ({prefix: options} if prefix else {})
    assert Release(number).fact("mdev_type_section_prefix") == prefix
