"""The CPU-set rule of the merge, pinned on real nova 34's own start-up check.

nova-compute runs `LibvirtDriver._check_cpu_set_configuration` before it starts: it refuses
`reserved_host_cpus` beside `[compute] cpu_shared_set` (or `cpu_dedicated_set`) unless
`vcpu_pin_set` is set. The merged file passes it; writing the plan's option naively does not;
and, unlike the issue's wording, nova accepts `reserved_host_cpus` beside `vcpu_pin_set`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from gpuslice.plan.types import Option
from gpuslice.render.merge import merge_ini
from gpuslice.render.merge_cpu import parse_nova_cpus
from tests.twin.nova import needs_nova

pytestmark = [needs_nova]

RESERVE = [Option("etc/nova/nova.conf", "DEFAULT", "reserved_host_cpus", "4", "r")]
CPU_OPTIONS = {
    ("DEFAULT", "reserved_host_cpus"),
    ("DEFAULT", "vcpu_pin_set"),
    ("compute", "cpu_shared_set"),
    ("compute", "cpu_dedicated_set"),
}


@pytest.fixture
def nova() -> Iterator[dict[str, Any]]:
    """nova's CONF, its libvirt driver and its exception module (functional package first: it
    switches eventlet on before anything else of nova is imported)."""
    importlib.import_module("nova.tests.functional")
    conf = importlib.import_module("nova.conf").CONF
    driver = importlib.import_module("nova.virt.libvirt.driver")
    exception = importlib.import_module("nova.exception")
    hardware = importlib.import_module("nova.virt.hardware")
    yield {"conf": conf, "driver": driver, "exception": exception, "hardware": hardware}
    for section, name in CPU_OPTIONS:
        conf.clear_override(name, group=None if section == "DEFAULT" else section)


def nova_check(nova: dict[str, Any], text: str, tmp_path: Path) -> None:
    """Load the CPU options of `text` as nova-compute would and run nova's start-up check."""
    path = tmp_path / "nova.conf"
    path.write_text(text, encoding="utf-8")
    sections: dict[str, dict[str, list[str]]] = {}
    cfg.ConfigParser(str(path), sections).parse()
    conf = nova["conf"]
    for section, name in CPU_OPTIONS:
        group = None if section == "DEFAULT" else section
        values = sections.get(section, {}).get(name)
        conf.set_override(name, values[-1] if values else None, group=group)
    nova["driver"].LibvirtDriver._check_cpu_set_configuration(None)


def test_reserved_host_cpus_beside_cpu_shared_set_stops_nova_and_the_merge_avoids_it(
    nova: dict[str, Any], tmp_path: Path
) -> None:
    existing = "[compute]\ncpu_shared_set = 2-23\n"
    naive = merge_ini(existing, RESERVE, cpu_sets_exclude_reserved=False)
    with pytest.raises(nova["exception"].InvalidConfiguration, match="reserved_host_cpus"):
        nova_check(nova, naive, tmp_path)
    merged = merge_ini(existing, RESERVE, cpu_sets_exclude_reserved=True)
    nova_check(nova, merged, tmp_path)
    assert nova["hardware"].get_cpu_shared_set() == set(range(2, 20))


def test_nova_accepts_reserved_host_cpus_beside_vcpu_pin_set(
    nova: dict[str, Any], tmp_path: Path
) -> None:
    merged = merge_ini("[DEFAULT]\nvcpu_pin_set = 2-23\n", RESERVE, cpu_sets_exclude_reserved=True)
    assert "reserved_host_cpus = 4" in merged
    nova_check(nova, merged, tmp_path)


@pytest.mark.parametrize("spec", ["0-7", "0-7,^3", "1,3,5-6", "0-15,^0-1,^8", " 4 , 6-7 "])
def test_cpu_sets_are_read_as_nova_reads_them(nova: dict[str, Any], spec: str) -> None:
    assert parse_nova_cpus(spec, source=None, field="f") == nova["hardware"].parse_cpu_spec(spec)
