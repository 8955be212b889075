"""The merge's rules pinned on real nova 34: the CPU-set start-up check, and PCI options read
under all their names.

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


def nova_pci(nova: dict[str, Any], text: str, tmp_path: Path) -> tuple[list[str], Any]:
    """nova's own view of a file's PCI options: `[pci] device_spec` with every older name
    folded in (a fresh ConfigOpts with nova's PCI options), and its aliases as nova-api reads
    them (`nova.pci.request.get_alias_from_config`)."""
    path = tmp_path / "pci.conf"
    path.write_text(text, encoding="utf-8")
    conf = cfg.ConfigOpts()
    importlib.import_module("nova.conf.pci").register_opts(conf)
    conf(["--config-file", str(path)], project="nova", default_config_files=[])
    request = importlib.import_module("nova.pci.request")
    nova["conf"].set_override("alias", conf.pci.alias, group="pci")
    try:
        return list(conf.pci.device_spec), request.get_alias_from_config()
    finally:
        nova["conf"].clear_override("alias", group="pci")


def test_older_option_names_are_read_together_and_the_merge_keeps_one_gpu_alias(
    nova: dict[str, Any], tmp_path: Path
) -> None:
    nic_spec = '{"vendor_id": "8086", "product_id": "154c", "physical_network": "physnet2"}'
    existing = (
        "[DEFAULT]\n"
        'pci_alias = {"name": "gpu", "vendor_id": "10de", "product_id": "1024", '
        '"device_type": "type-PF"}\n'
        'pci_alias = {"name": "nic", "vendor_id": "8086", "product_id": "154c"}\n'
        "[pci]\n"
        f"passthrough_whitelist = {nic_spec}\n"
    )
    planned = [
        Option("f", "pci", "device_spec", ('{"vendor_id": "10de", "product_id": "1024"}',), "r"),
        Option(
            "f",
            "pci",
            "alias",
            (
                '{"vendor_id": "10de", "product_id": "1024", "name": "gpu", '
                '"device_type": "type-PCI"}',
            ),
            "r",
        ),
    ]
    naive = existing + "".join(f"{o.name} = {o.value[0]}\n" for o in planned)
    with pytest.raises(nova["exception"].PciInvalidAlias):
        nova_pci(nova, naive, tmp_path)
    specs, aliases = nova_pci(nova, merge_ini(existing, planned), tmp_path)
    assert specs == [nic_spec, '{"vendor_id": "10de", "product_id": "1024"}']
    assert sorted(aliases) == ["gpu", "nic"]
    assert [spec["dev_type"] for spec in aliases["gpu"][1]] == ["type-PCI"]
