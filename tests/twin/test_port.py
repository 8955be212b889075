"""The Newton split recipe is moved to a newer nova's option names through the release table."""

from __future__ import annotations

from gpuslice.releases import Release
from gpuslice.twin.ini import parse_ini
from gpuslice.twin.verify import port_entries

NEWTON = """[DEFAULT]
host = gpu18
vcpu_pin_set = 6-7
pci_passthrough_whitelist = {"vendor_id": "10de", "product_id": "1024"}
scheduler_default_filters = RamFilter,PciPassthroughFilter
reserved_host_memory_mb = 12288
"""


def test_newton_names_move_to_nova_34_names() -> None:
    ported = port_entries(parse_ini(NEWTON, "f"), Release(14), Release(34))
    assert [(e.section, e.name, e.line) for e in ported] == [
        ("DEFAULT", "host", 2),
        ("compute", "cpu_shared_set", 3),
        ("pci", "device_spec", 4),
        ("filter_scheduler", "enabled_filters", 5),
        ("DEFAULT", "reserved_host_memory_mb", 6),
    ]


def test_porting_to_the_same_release_changes_nothing() -> None:
    entries = parse_ini(NEWTON, "f")
    assert port_entries(entries, Release(14), Release(14)) == entries
