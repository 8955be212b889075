"""verify on an operator's merged files (issue 10 §7), on real nova 34: the options gpuslice did
not write are no errors, and nova's api-paste.ini is found wherever pip put it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gpuslice.cli import main
from tests.twin.nova import LAB, needs_nova, row, verify_json

pytestmark = [needs_nova, pytest.mark.slow]

HAND_KEPT = """\
[DEFAULT]
debug = True
transport_url = rabbit://nova:secret@ctl1:5672/
my_ip = 10.0.0.18
state_path = /var/lib/nova
my_plugin_option = 1

[database]
connection = mysql+pymysql://nova:secret@ctl1/nova

[keystone_authtoken]
www_authenticate_uri = http://ctl1:5000/
auth_url = http://ctl1:5000/
memcached_servers = ctl1:11211
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = nova
password = secret

[libvirt]
virt_type = kvm

[filter_schedular]
host_subset_size = 2

[pci]
device_spec = {"vendor_id": "8086", "product_id": "1515", "physical_network": "physnet1"}
alias = {"vendor_id": "8086", "product_id": "1515", "name": "nic", "device_type": "type-VF"}
"""


def test_verify_on_hand_kept_files_merged_with_the_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "cloud"
    for node in ("ctl1", "hyper18"):
        conf = root / node / "etc" / "nova" / "nova.conf"
        conf.parent.mkdir(parents=True)
        conf.write_text(HAND_KEPT, encoding="utf-8")
    assert main(["render", str(LAB), "--merge-into", str(root)]) == 0
    capsys.readouterr()
    code, report = verify_json(capsys, str(LAB), "--rendered", str(root), "--host", "hyper18")
    assert code == 0, [r for r in report["rows"] if not r["ok"]]
    assert row(report, "hyper18", "ordinary first: GPU VM 1 of 1")["seen"].startswith("ACTIVE")
    notes = report["notes"]
    kept = [n for n in notes if n.startswith("hyper18/etc/nova/nova.conf:") and "kept" in n]
    assert len(kept) == 1
    for name in ("[DEFAULT] debug", "[DEFAULT] transport_url", "[database] connection"):
        assert name in kept[0]
    warnings = [n for n in notes if n.startswith("warning:")]
    # Options nova does not know stay the operator's: warnings naming file and line, no error.
    assert any(
        "[DEFAULT] my_plugin_option: unknown option" in w and "not written by gpuslice" in w
        for w in warnings
    )
    assert any("did you mean [filter_scheduler]?" in w for w in warnings)
    # The whole registry: oslo.log, oslo.messaging, oslo.db, keystonemiddleware and the
    # password plugin's options are known, so they raise nothing.
    for known in ("debug", "transport_url", "connection", "auth_url", "password", "virt_type"):
        assert not any(f"] {known}:" in w for w in warnings), known


def test_gpuslices_own_bad_value_is_still_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "render"
    assert main(["render", str(LAB), "--out", str(out)]) == 0
    conf = out / "hyper18" / "etc" / "nova" / "nova.conf"
    lines = conf.read_text(encoding="utf-8").splitlines()
    lines = [
        "reserved_host_cpus = lots" if line.startswith("reserved_host_cpus") else line
        for line in lines
    ]
    lines += ["[pci]", "aliass = {}"]
    conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = next(i for i, line in enumerate(lines, 1) if line.startswith("reserved_host_cpus"))
    capsys.readouterr()
    code = main(["verify", str(LAB), "--rendered", str(out), "--host", "hyper18"])
    flat = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert (
        f"hyper18/etc/nova/nova.conf:{bad}: [DEFAULT] reserved_host_cpus: bad value 'lots'" in flat
    )
    # The misspelt option is not one gpuslice writes: not among the errors.
    assert "aliass" not in flat


_RUN_WITH_STATE_PATH = textwrap.dedent(
    """
    import sys
    from gpuslice.twin import _nova34
    from gpuslice.twin.ini import ConfEntry

    seen = []
    state = ConfEntry("test", 1, "DEFAULT", "state_path", sys.argv[1])
    _nova34.run(_nova34.RunSpec([state], lambda twin: seen.append(len(twin.flavors()))))
    print("api answered", seen)
    """
)


def test_nova_api_starts_where_its_default_api_paste_is_missing(tmp_path: Path) -> None:
    """nova's test configuration looks for api-paste.ini below state_path; with state_path
    where no copy lies (as after a plain pip install) the API still starts."""
    assert not (tmp_path / "etc" / "nova" / "api-paste.ini").exists()
    result = subprocess.run(
        [sys.executable, "-c", _RUN_WITH_STATE_PATH, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "api answered [" in result.stdout
