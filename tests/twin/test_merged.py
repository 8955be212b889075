"""Verify on an operator's merged files: their options are not gpuslice's errors, and a run
applies only what shapes scheduling; nova's api-paste.ini is found wherever pip put it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuslice.errors import ServiceUnreachableError
from gpuslice.twin.apipaste import RELATIVE, find_api_paste
from gpuslice.twin.confcheck import check_entries
from gpuslice.twin.ini import parse_ini
from gpuslice.twin.merged import kept_note, keys_of, split_applied, weigh_findings
from tests.twin.test_confcheck import REGISTRY

OURS = """\
[DEFAULT]
reserved_host_cpus = 2
[pci]
alias = {"vendor_id": "10de", "product_id": "20b5", "name": "a100", "device_type": "type-PF"}
"""

MERGED = """\
[DEFAULT]
debug = True
transport_url = rabbit://nova:secret@ctl1:5672/
reserved_host_cpus = 2
cpu_allocation_ratio = 4.0
[database]
connection = mysql+pymysql://nova:secret@ctl1/nova
[pci]
alias = {"vendor_id": "10de", "product_id": "20b5", "name": "a100", "device_type": "type-PF"}
alias = {"vendor_id": "8086", "product_id": "1515", "name": "nic", "device_type": "type-VF"}
device_spec = {"vendor_id": "8086", "product_id": "1515", "physical_network": "physnet1"}
[filter_scheduler]
enabled_filters = ComputeFilter,PciPassthroughFilter
"""


def test_the_operators_unknown_options_are_warnings_gpuslices_stay_errors() -> None:
    own = keys_of(parse_ini(OURS, "h/nova.conf"))
    entries = parse_ini(MERGED + "[DEFAULT]\nreserved_host_cpus = lots\n", "h/nova.conf")
    weighed = weigh_findings(check_entries(entries, REGISTRY), own)
    fatal = [str(f) for f in weighed if f.fatal]
    warned = [str(f) for f in weighed if not f.fatal]
    # The test registry lacks debug, transport_url and [database]: the operator's, so warnings.
    assert any("[DEFAULT] debug: unknown option" in w for w in warned)
    assert any("[database] connection: unknown section" in w for w in warned)
    assert all("not written by gpuslice" in w for w in warned)
    # gpuslice's own option set twice, the second time with a bad value: still errors.
    assert any("[DEFAULT] reserved_host_cpus: bad value 'lots'" in f for f in fatal)
    assert not any("debug" in f or "database" in f for f in fatal)


def test_a_run_applies_gpuslices_options_and_the_operators_scheduling_ones() -> None:
    own = keys_of(parse_ini(OURS, "h/nova.conf"))
    applied, kept = split_applied(parse_ini(MERGED, "h/nova.conf"), own)
    assert [(e.section, e.name) for e in applied] == [
        ("DEFAULT", "reserved_host_cpus"),
        ("DEFAULT", "cpu_allocation_ratio"),
        ("pci", "alias"),
        ("pci", "alias"),
        ("pci", "device_spec"),
        ("filter_scheduler", "enabled_filters"),
    ]
    assert [(e.section, e.name) for e in kept] == [
        ("DEFAULT", "debug"),
        ("DEFAULT", "transport_url"),
        ("database", "connection"),
    ]
    note = kept_note("h/nova.conf", kept)
    assert note is not None
    assert "3 option(s) gpuslice did not write" in note
    assert "[DEFAULT] debug, [DEFAULT] transport_url, [database] connection" in note
    assert kept_note("h/nova.conf", []) is None


def test_api_paste_is_found_below_the_venv_when_nova_looks_elsewhere(tmp_path: Path) -> None:
    missing = tmp_path / "site-packages" / RELATIVE
    shipped = tmp_path / "venv" / RELATIVE
    shipped.parent.mkdir(parents=True)
    shipped.write_text("[composite:osapi_compute]\n", encoding="utf-8")
    assert find_api_paste([missing, shipped]) == shipped


def test_api_paste_missing_everywhere_says_what_to_do(tmp_path: Path) -> None:
    places = [tmp_path / "a" / RELATIVE, tmp_path / "b" / RELATIVE]
    with pytest.raises(ServiceUnreachableError) as caught:
        find_api_paste(places)
    message = str(caught.value)
    assert str(places[0]) in message
    assert str(places[1]) in message
    assert "pip install --force-reinstall --no-deps nova==34.0.0" in message
    assert caught.value.exit_code == 3
