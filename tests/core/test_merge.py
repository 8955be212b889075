"""Merging into an operator's nova.conf keeps their lines and is idempotent."""

from __future__ import annotations

from pathlib import Path

from gpuslice.plan import make_plan
from gpuslice.plan.types import Option
from gpuslice.render.apply_tree import merged_files, write_merged
from gpuslice.render.merge import merge_ini
from tests.core.fleets import lab_fleet

EXISTING = """\
# Operator's own nova.conf
[DEFAULT]
debug = True
# keep this comment
reserved_host_memory_mb = 2048
pci_alias = {"name": "old"}
pci_alias = {"name": "older"}

[libvirt]
virt_type = kvm
"""


def test_replaces_in_place_appends_and_keeps_comments() -> None:
    options = [
        Option("f", "DEFAULT", "reserved_host_memory_mb", "4608", "r"),
        Option("f", "DEFAULT", "pci_alias", ('{"name": "gpu"}',), "r"),
        Option("f", "DEFAULT", "vcpu_pin_set", "0-21", "r"),
        Option("f", "pci", "device_spec", ("a", "b"), "r"),
    ]
    merged = merge_ini(EXISTING, options)
    assert (
        merged
        == """\
# Operator's own nova.conf
[DEFAULT]
debug = True
# keep this comment
reserved_host_memory_mb = 4608
pci_alias = {"name": "gpu"}
vcpu_pin_set = 0-21

[libvirt]
virt_type = kvm

[pci]
device_spec = a
device_spec = b
"""
    )
    assert merge_ini(merged, options) == merged


def test_merge_into_a_tree_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    plan = make_plan(lab_fleet(14, "split"))
    conf = tmp_path / "hyper18/etc/nova/nova.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(EXISTING)
    first = write_merged(merged_files(plan, tmp_path))
    assert conf in first
    text = conf.read_text()
    assert "debug = True" in text
    assert "# keep this comment" in text
    assert "vcpu_pin_set = 0-21" in text
    assert write_merged(merged_files(plan, tmp_path)) == []
    assert conf.read_text() == text


def test_merge_into_one_nodes_root(tmp_path: Path) -> None:
    plan = make_plan(lab_fleet(31, "placement"))
    write_merged(merged_files(plan, tmp_path, node="hyper18"))
    assert (tmp_path / "etc/nova/nova.conf").exists()
    assert (tmp_path / "etc/nova/provider_config/gpuslice.yaml").exists()
    assert not (tmp_path / "cloud-objects.json").exists()
