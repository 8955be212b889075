"""The plan and render commands as a user runs them: output, exit codes, nothing half-written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from gpuslice.cli import main
from tests.conftest import BRIGHT_LAB

NEWTON = str(BRIGHT_LAB / "fleet.yaml")
CURRENT = str(BRIGHT_LAB / "fleet-2025.1.yaml")


def test_plan_table_shows_the_carving_and_the_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", NEWTON]) == 0
    out = capsys.readouterr().out
    assert "Strategy split on newton (14)" in out
    assert "vcpu_pin_set" in out
    assert "g1.gpu" in out
    assert "pci_alias" in out


def test_plan_json_has_hosts_options_and_cloud_objects(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["plan", CURRENT, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["strategy"] == "placement"
    hyper18 = next(h for h in data["hosts"] if h["name"] == "hyper18")
    assert hyper18["gpu_slice"] == {"vcpus": 2, "memory_mb": 4096, "disk_gb": 40}
    assert hyper18["gpus"][0]["address"] == "0000:86:00.0"
    options = next(n for n in data["nodes"] if n["name"] == "hyper18")["options"]
    assert all(o["rule"] for o in options)
    assert data["cloud_objects"]["flavors"][0]["name"] == "g1.gpu"


def test_split_after_newton_exits_2_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", CURRENT, "--strategy", "split"]) == 2
    err = capsys.readouterr().err
    assert "409 Conflicting resource provider name" in err
    assert "Use strategy placement" in err


def test_render_writes_the_tree(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["render", NEWTON, "--out", str(out)]) == 0
    assert (out / "hyper18/etc/nova/nova-gpu.conf").is_file()
    assert (out / "hyper18/etc/systemd/system/openstack-nova-gpu.service").is_file()
    assert (out / "ctl1/etc/neutron/plugins/ml2/ml2_conf.ini").is_file()
    assert json.loads((out / "cloud-objects.json").read_text())["flavors"]


def test_bad_fleet_exits_2_and_writes_nothing(
    tmp_path: Path, write_fleet: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    text = (BRIGHT_LAB / "fleet-2025.1.yaml").read_text().replace("disk_gb: 2000", "disk_gib: 2")
    bad = write_fleet(text)
    out = tmp_path / "out"
    assert main(["render", str(bad), "--out", str(out)]) == 2
    assert "did you mean 'disk_gb'" in capsys.readouterr().err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["fleet.yaml"]


def test_merge_into_twice_reports_no_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", CURRENT, "--merge-into", str(tmp_path), "--node", "hyper18"]) == 0
    assert "updated" in capsys.readouterr().out
    assert main(["render", CURRENT, "--merge-into", str(tmp_path), "--node", "hyper18"]) == 0
    assert "nothing to change" in capsys.readouterr().out


def test_render_needs_exactly_one_destination(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", CURRENT]) == 2
    assert "--out" in capsys.readouterr().err


def test_cmsh_target_prints_overlays_and_the_managed_service(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["render", NEWTON, "--target", "cmsh"]) == 0
    out = capsys.readouterr().out
    assert "configurationoverlay" in out
    assert "add gpuslice-hyper18" in out
    assert "add [DEFAULT]vcpu_pin_set '0-21'" in out
    assert "add openstack-nova-gpu" in out


def test_missing_fleet_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "/nonexistent/fleet.yaml"]) == 2
    assert "cannot read the fleet file" in capsys.readouterr().err
