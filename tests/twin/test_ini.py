"""Reading rendered INI text keeps each option's file and line."""

from __future__ import annotations

import pytest

from gpuslice.errors import InputError
from gpuslice.twin.ini import ConfEntry, parse_ini

TEXT = """# Managed by gpuslice
[DEFAULT]
reserved_host_cpus = 2

[pci]
alias = {"name": "gpu"}
alias = {"name": "gpu2"}
device_spec = {"vendor_id": "10de",
  "product_id": "1024"}
"""


def test_every_option_keeps_its_starting_line() -> None:
    entries = parse_ini(TEXT, "hyper18/etc/nova/nova.conf")
    assert [(e.line, e.section, e.name) for e in entries] == [
        (3, "DEFAULT", "reserved_host_cpus"),
        (6, "pci", "alias"),
        (7, "pci", "alias"),
        (8, "pci", "device_spec"),
    ]
    assert entries[3].value == '{"vendor_id": "10de",\n"product_id": "1024"}'
    assert entries[0].where == "hyper18/etc/nova/nova.conf:3"


def test_option_before_any_section_names_file_and_line() -> None:
    with pytest.raises(InputError) as caught:
        parse_ini("\nhost = gpu18\n", "x.conf")
    assert str(caught.value).startswith("x.conf:2:")


def test_broken_section_header_names_file_and_line() -> None:
    with pytest.raises(InputError, match=r"^x\.conf:3: section header must end"):
        parse_ini("[DEFAULT]\na = 1\n[pci\n", "x.conf")


def test_entries_are_plain_values() -> None:
    assert parse_ini("[compute]\ncpu_shared_set = 2-7\n", "f") == [
        ConfEntry("f", 2, "compute", "cpu_shared_set", "2-7")
    ]
