"""apply and audit of a GPU menu (two models, 1/2/4-GPU flavors, a mixed host) on real nova-api
and Placement, with an operator's SR-IOV NIC flavor beside it: no false alarm, GPUs per model."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip(
    "nova", reason="real nova is not installed in this interpreter: run scripts/test-live"
)
pytest.importorskip(
    "placement", reason="real Placement is not installed in this interpreter: run scripts/test-live"
)

from tests.live.conftest import MENU_FLEET
from tests.live.livecloud import LiveCloud

MENU = ["g1.a100", "g2.a100", "g4.a100", "g1.l40s", "g2.l40s"]


def _audit(cloud: LiveCloud, *args: str) -> tuple[int, dict[str, Any]]:
    result = cloud.gpuslice("audit", "--json", *args)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_apply_makes_every_flavor_of_the_menu(menu_cloud: LiveCloud) -> None:
    result = menu_cloud.gpuslice("apply", str(MENU_FLEET))
    assert result.returncode == 0, result.stderr
    flavors = menu_cloud.nova("GET", "/flavors/detail?is_public=None", version="2.61")["flavors"]
    specs = {f["name"]: f["extra_specs"] for f in flavors}
    assert [specs[name]["pci_passthrough:alias"] for name in MENU] == [
        "a100:1",
        "a100:2",
        "a100:4",
        "l40s:1",
        "l40s:2",
    ]
    assert specs["g4.a100"]["resources:CUSTOM_GPU_VCPU"] == "32"
    assert specs["g4.a100"]["resources:CUSTOM_GPU_MEMORY_MB"] == str(4 * 32768)
    # an operator's SR-IOV NIC flavor (not gpuslice's)
    made = menu_cloud.nova(
        "POST", "/flavors", {"flavor": {"name": "m1.sriov", "vcpus": 4, "ram": 8192, "disk": 20}}
    )["flavor"]["id"]
    menu_cloud.nova(
        "POST",
        f"/flavors/{made}/os-extra_specs",
        {"extra_specs": {"pci_passthrough:alias": "mlx-vf:1"}},
    )
    assert "no change" in menu_cloud.gpuslice("apply", str(MENU_FLEET)).stdout


def test_audit_with_the_fleet_judges_per_model_and_size(menu_cloud: LiveCloud) -> None:
    code, report = _audit(menu_cloud, "--fleet", str(MENU_FLEET))
    assert code == 0, report["violations"]
    assert report["gpu_flavors"] == MENU  # the NIC flavor is not a GPU flavor
    hosts = {h["name"]: h for h in report["hosts"]}
    assert sorted(hosts) == ["duo", "mixed", "quad"]
    assert hosts["mixed"]["gpus_by_model"] == {
        "a100": {"total": 2, "free": 2},
        "l40s": {"total": 1, "free": 1},
    }
    assert hosts["quad"]["bootable"]["g4.a100"] is True
    assert hosts["mixed"]["bootable"]["g2.a100"] is True
    assert hosts["mixed"]["bootable"]["g4.a100"] is False
    # Placement would place g1.a100's slice on duo (its L40S pool is as large); duo has no A100
    assert hosts["duo"]["bootable"]["g1.a100"] is False
    assert hosts["duo"]["bootable"]["g2.l40s"] is True
    states = {f["name"]: f for f in report["flavors"]}
    assert states["g4.a100"]["bootable_hosts"] == ["quad"]
    assert states["g2.l40s"]["bootable_hosts"] == ["duo"]
    assert states["g1.a100"]["gpus_free"] == 6
    assert all(f["can_boot"] and not f["fragmented"] for f in report["flavors"])


def test_audit_without_the_fleet_raises_no_false_alarm(menu_cloud: LiveCloud) -> None:
    code, report = _audit(menu_cloud)
    assert code == 0, report["violations"]
    assert report["gpu_flavors"] == MENU
    assert "m1.sriov" not in json.dumps(report["hosts"])
