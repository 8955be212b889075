"""gpuslice apply and audit against real nova-api and Placement, through openstacksdk.

One cloud for the module (starting it takes ~15 s); the tests run in file order and each leaves
the cloud as the next expects: errors first, then apply, then audit of a healthy cloud, then
breaking it in three ways.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "nova", reason="real nova is not installed in this interpreter: run scripts/test-live"
)
pytest.importorskip(
    "placement", reason="real Placement is not installed in this interpreter: run scripts/test-live"
)

from tests.live.livecloud import DATA, LiveCloud

OBJECTS = DATA / "cloud-objects.json"
FLEET = Path(__file__).resolve().parents[2] / "examples/bright-lab/fleet-2025.1.yaml"
"""The fleet cloudserver.py deploys (hyper18 and hyper16 with one GPU each, hyper20 without)."""


def _objects(tmp_path: Path, **changes: Any) -> Path:
    data = json.loads(OBJECTS.read_text())
    data.update(changes)
    path = tmp_path / "objects.json"
    path.write_text(json.dumps(data))
    return path


def _audit(cloud: LiveCloud, *args: str) -> tuple[int, dict[str, Any]]:
    result = cloud.gpuslice("audit", "--json", *args)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


def _rules(report: dict[str, Any]) -> set[tuple[str, str | None]]:
    return {(v["rule"], v["host"]) for v in report["violations"]}


# ---------------------------------------------------------------------------- errors


def test_unknown_cloud_exits_3(live_cloud: LiveCloud) -> None:
    result = live_cloud.gpuslice("audit", cloud="no-such-cloud")
    assert result.returncode == 3
    assert "no-such-cloud" in result.stderr
    assert "clouds.yaml" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_credentials_exit_3_without_printing_them(live_cloud: LiveCloud) -> None:
    result = live_cloud.gpuslice("apply", str(OBJECTS), cloud="badcreds")
    assert result.returncode == 3
    assert "credentials were refused" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout


def test_unreachable_endpoint_exits_3(live_cloud: LiveCloud) -> None:
    result = live_cloud.gpuslice("audit", cloud="unreachable")
    assert result.returncode == 3
    assert "cannot reach" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


# ---------------------------------------------------------------------------- apply


def test_dry_run_shows_the_diff_and_changes_nothing(live_cloud: LiveCloud) -> None:
    first = live_cloud.gpuslice("apply", str(FLEET), "--dry-run")
    assert first.returncode == 0, first.stderr
    assert "+ aggregate gpu" in first.stdout
    assert "+ flavor g1.gpu (2 vCPU, 4096 MB, 40 GB, private)" in first.stdout
    assert "dry run: nothing changed" in first.stdout
    second = live_cloud.gpuslice("apply", str(FLEET), "--dry-run")
    assert second.stdout == first.stdout
    names = [a["name"] for a in live_cloud.nova("GET", "/os-aggregates")["aggregates"]]
    assert "gpu" not in names


def test_failure_half_way_is_accounted_and_a_rerun_completes(
    live_cloud: LiveCloud, tmp_path: Path
) -> None:
    # Another team's aggregate puts hyper16 in availability zone az-ml. nova refuses to put a
    # host in a second zone: a real failure in the middle of the run, caused by the cloud.
    theirs = live_cloud.nova(
        "POST", "/os-aggregates", {"aggregate": {"name": "ml", "availability_zone": "az-ml"}}
    )["aggregate"]["id"]
    live_cloud.nova("POST", f"/os-aggregates/{theirs}/action", {"add_host": {"host": "hyper16"}})
    zone = {
        "name": "gpu-zone",
        "metadata": {"availability_zone": "az-gpu", "gpu": "true"},
        "hosts": ["hyper18", "hyper16"],
    }
    objects = _objects(
        tmp_path,
        resource_classes=["CUSTOM_GPU_VCPU", "CUSTOM_GPU_A100_VCPU"],
        aggregates=[zone],
    )
    result = live_cloud.gpuslice("apply", str(objects), "--json")
    assert result.returncode == 3, result.stderr
    outcome = json.loads(result.stdout)
    # CUSTOM_GPU_* and CUSTOM_GPU_HOST exist already: nova-compute made them from provider.yaml
    assert outcome["done"] == [
        "+ resource class CUSTOM_GPU_A100_VCPU",
        "+ trait CUSTOM_GPU_K40C",
        "+ traits CUSTOM_GPU_K40C on resource provider hyper16",
        "+ traits CUSTOM_GPU_K40C on resource provider hyper18",
        "+ aggregate gpu-zone",
        "~ aggregate gpu-zone metadata: availability_zone=az-gpu, gpu=true, gpuslice:managed=true",
        "+ host hyper18 in aggregate gpu-zone",
    ]
    assert outcome["failed"]["change"] == "+ host hyper16 in aggregate gpu-zone"
    assert "az-ml" in outcome["failed"]["error"]  # nova's own reason
    assert outcome["not_done"][0] == "+ flavor g1.gpu (2 vCPU, 4096 MB, 40 GB, private)"
    assert "run `gpuslice apply` again" in result.stderr
    classes = live_cloud.placement_call("GET", "/resource_classes")["resource_classes"]
    assert "CUSTOM_GPU_A100_VCPU" in {rc["name"] for rc in classes}

    # The operator takes hyper16 out of the other zone; the same command completes the job.
    live_cloud.nova("POST", f"/os-aggregates/{theirs}/action", {"remove_host": {"host": "hyper16"}})
    live_cloud.nova("DELETE", f"/os-aggregates/{theirs}")
    rerun = live_cloud.gpuslice("apply", str(objects), "--json")
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["done"] == [
        "+ host hyper16 in aggregate gpu-zone",
        *outcome["not_done"][:-1],
        "+ project gpu-project may use flavor g1.gpu",
    ]
    assert "no change" in live_cloud.gpuslice("apply", str(objects)).stdout

    # gpu-zone was only for this test: take it away again through nova
    aggregates = live_cloud.nova("GET", "/os-aggregates")["aggregates"]
    made = next(a for a in aggregates if a["name"] == "gpu-zone")
    action = f"/os-aggregates/{made['id']}/action"
    for host in made["hosts"]:
        live_cloud.nova("POST", action, {"remove_host": {"host": host}})
    live_cloud.nova("DELETE", f"/os-aggregates/{made['id']}")


def test_apply_fleet_makes_the_objects_and_a_second_run_changes_nothing(
    live_cloud: LiveCloud,
) -> None:
    first = live_cloud.gpuslice("apply", str(FLEET))
    assert first.returncode == 0, first.stderr
    # the fleet's g1.gpu has no project list: the access the JSON above granted goes
    assert "- project gpu-project from flavor g1.gpu" in first.stdout
    result = live_cloud.gpuslice("apply", str(FLEET))
    assert result.returncode == 0, result.stderr
    assert "no change" in result.stdout
    aggregates = {a["name"]: a for a in live_cloud.nova("GET", "/os-aggregates")["aggregates"]}
    gpu = aggregates["gpu"]
    assert sorted(gpu["hosts"]) == ["hyper16", "hyper18"]
    assert gpu["metadata"]["gpu"] == "true"
    assert gpu["metadata"]["gpuslice:managed"] == "true"
    flavors = live_cloud.nova("GET", "/flavors/detail?is_public=None", version="2.61")["flavors"]
    g1 = next(f for f in flavors if f["name"] == "g1.gpu")
    assert g1["os-flavor-access:is_public"] is False
    assert g1["extra_specs"]["pci_passthrough:alias"] == "gpu:1"
    assert g1["extra_specs"]["resources:CUSTOM_GPU_VCPU"] == "2"
    assert g1["extra_specs"]["resources:VCPU"] == "0"
    assert g1["description"].startswith("[gpuslice]")
    access = live_cloud.nova("GET", f"/flavors/{g1['id']}/os-flavor-access")["flavor_access"]
    assert access == []
    for host in ("hyper18", "hyper16"):
        rp = live_cloud.placement_call("GET", f"/resource_providers?name={host}")
        uuid = rp["resource_providers"][0]["uuid"]
        traits = live_cloud.placement_call("GET", f"/resource_providers/{uuid}/traits")
        assert {"CUSTOM_GPU_HOST", "CUSTOM_GPU_K40C"} <= set(traits["traits"])


def test_apply_leaves_what_it_did_not_create(live_cloud: LiveCloud, tmp_path: Path) -> None:
    made = live_cloud.nova("POST", "/os-aggregates", {"aggregate": {"name": "theirs"}})
    agg_id = made["aggregate"]["id"]
    live_cloud.nova(
        "POST", f"/os-aggregates/{agg_id}/action", {"set_metadata": {"metadata": {"team": "ml"}}}
    )
    live_cloud.nova("POST", f"/os-aggregates/{agg_id}/action", {"add_host": {"host": "hyper20"}})
    data = json.loads(OBJECTS.read_text())
    data["aggregates"].append({"name": "theirs", "metadata": {"gpu": "true"}, "hosts": ["hyper18"]})
    path = tmp_path / "objects.json"
    path.write_text(json.dumps(data))
    result = live_cloud.gpuslice("apply", str(path))
    assert result.returncode == 2
    assert "! aggregate theirs: exists but was not created by gpuslice" in result.stdout
    assert "conflict(s) left alone" in result.stderr
    after = live_cloud.nova("GET", f"/os-aggregates/{agg_id}")["aggregate"]
    assert after["hosts"] == ["hyper20"]
    assert after["metadata"] == {"team": "ml"}
    live_cloud.nova("POST", f"/os-aggregates/{agg_id}/action", {"remove_host": {"host": "hyper20"}})
    live_cloud.nova("DELETE", f"/os-aggregates/{agg_id}")
    assert live_cloud.gpuslice("apply", str(FLEET)).returncode == 0  # back to the fleet's objects


# ---------------------------------------------------------------------------- audit


def test_audit_of_the_healthy_cloud_exits_0(live_cloud: LiveCloud) -> None:
    metrics = live_cloud.state / "gpuslice.prom"
    code, report = _audit(live_cloud, "--fleet", str(FLEET), "--prometheus", str(metrics))
    assert code == 0, report["violations"]
    assert report["promise_broken"] is False
    hosts = {h["name"]: h for h in report["hosts"]}
    assert sorted(hosts) == ["hyper16", "hyper18"]  # hyper20 has no GPU
    for host in hosts.values():
        assert (host["gpus_total"], host["gpus_free"]) == (1, 1)
        assert host["slice_held"] == {
            "CUSTOM_GPU_DISK_GB": 40,
            "CUSTOM_GPU_MEMORY_MB": 4096,
            "CUSTOM_GPU_VCPU": 2,
        }
        assert host["bootable"] == {"g1.gpu": True}
    text = metrics.read_text()
    assert "gpuslice_promise_broken 0" in text
    assert 'gpuslice_gpus_free{host="hyper18"} 1' in text
    assert 'gpuslice_gpu_flavors_bootable{host="hyper16"} 1' in text


def test_audit_catches_a_deleted_alias_spec(live_cloud: LiveCloud) -> None:
    flavors = live_cloud.nova("GET", "/flavors?is_public=None")["flavors"]
    flavor_id = next(f["id"] for f in flavors if f["name"] == "g1.gpu")
    live_cloud.nova("DELETE", f"/flavors/{flavor_id}/os-extra_specs/pci_passthrough:alias")
    code, report = _audit(live_cloud)
    assert code == 1
    assert ("flavor_slice_without_alias", None) in _rules(report)
    assert any(v["subject"] == "g1.gpu" for v in report["violations"])
    # apply puts the spec back (the flavor is gpuslice's), and the promise holds again
    fixed = live_cloud.gpuslice("apply", str(FLEET))
    assert fixed.returncode == 0, fixed.stderr
    assert "~ flavor g1.gpu extra specs: pci_passthrough:alias=gpu:1" in fixed.stdout
    assert _audit(live_cloud)[0] == 0


def test_audit_catches_a_gpu_host_removed_from_its_aggregate(live_cloud: LiveCloud) -> None:
    aggregates = live_cloud.nova("GET", "/os-aggregates")["aggregates"]
    agg_id = next(a["id"] for a in aggregates if a["name"] == "gpu")
    live_cloud.nova("POST", f"/os-aggregates/{agg_id}/action", {"remove_host": {"host": "hyper18"}})
    code, report = _audit(live_cloud, "--fleet", str(FLEET))
    assert code == 1
    assert _rules(report) == {("host_outside_aggregate", "hyper18")}
    code, report = _audit(live_cloud)  # without a fleet: gpuslice's own aggregates
    assert code == 1
    assert _rules(report) == {("host_outside_aggregate", "hyper18")}
    fixed = live_cloud.gpuslice("apply", str(FLEET))
    assert "+ host hyper18 in aggregate gpu" in fixed.stdout
    assert _audit(live_cloud)[0] == 0


def test_audit_catches_inventory_that_drifted_from_the_plan(live_cloud: LiveCloud) -> None:
    rp = live_cloud.placement_call("GET", "/resource_providers?name=hyper16")
    uuid = rp["resource_providers"][0]["uuid"]
    path = f"/resource_providers/{uuid}/inventories/CUSTOM_GPU_VCPU"
    inventory = live_cloud.placement_call("GET", path)
    # someone shrinks the slice by hand (`openstack resource provider inventory set`)
    changed = {**inventory, "total": 1}
    live_cloud.placement_call("PUT", path, changed)
    code, report = _audit(live_cloud, "--fleet", str(FLEET))
    assert code == 1
    drift = [v for v in report["violations"] if v["rule"] == "inventory_drift"]
    assert [(v["host"], v["subject"]) for v in drift] == [("hyper16", "hyper16/CUSTOM_GPU_VCPU")]
    assert "total 1 reserved 0, the plan has total 2 reserved 0" in drift[0]["message"]
    # with too little slice left for a GPU VM, its idle GPU cannot be used either
    assert ("gpu_free_not_bootable", "hyper16") in _rules(report)
    restored = live_cloud.placement_call("GET", path)
    live_cloud.placement_call("PUT", path, {**restored, "total": inventory["total"]})
    assert _audit(live_cloud, "--fleet", str(FLEET))[0] == 0


def test_audit_catches_an_ordinary_vm_on_the_slice(live_cloud: LiveCloud) -> None:
    made = live_cloud.nova(
        "POST", "/flavors", {"flavor": {"name": "m1.sneaky", "vcpus": 2, "ram": 1024, "disk": 1}}
    )
    flavor_id = made["flavor"]["id"]
    live_cloud.nova(
        "POST",
        f"/flavors/{flavor_id}/os-extra_specs",
        {"extra_specs": {"resources:VCPU": "0", "resources:CUSTOM_GPU_VCPU": "2"}},
    )
    server = live_cloud.nova(
        "POST",
        "/servers",
        {
            "server": {
                "name": "sneaky",
                "flavorRef": flavor_id,
                "imageRef": live_cloud.image,
                "networks": "none",
            }
        },
    )["server"]
    deadline = time.monotonic() + 120
    while True:
        shown = live_cloud.nova("GET", f"/servers/{server['id']}")["server"]
        if shown["status"] != "BUILD" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert shown["status"] == "ACTIVE", shown.get("fault")
    host = shown["OS-EXT-SRV-ATTR:host"]
    assert host in ("hyper18", "hyper16")  # the only hosts with CUSTOM_GPU_VCPU

    metrics = live_cloud.state / "broken.prom"
    code, report = _audit(live_cloud, "--fleet", str(FLEET), "--prometheus", str(metrics))
    assert code == 1
    rules = _rules(report)
    assert ("slice_consumer_without_gpu", host) in rules
    assert ("flavor_slice_without_alias", None) in rules
    assert ("gpu_free_not_bootable", host) in rules  # its GPU is idle, g1.gpu cannot boot there
    assert ("quota_from_placement", None) in rules  # the server counts 0 cores
    hosts = {h["name"]: h for h in report["hosts"]}
    assert hosts[host]["gpus_free"] == 1
    assert hosts[host]["bootable"] == {"g1.gpu": False}
    assert hosts[host]["slice_used"]["CUSTOM_GPU_VCPU"] == 2
    text = metrics.read_text()
    assert "gpuslice_promise_broken 1" in text
    assert f'gpuslice_flavor_bootable{{host="{host}",flavor="g1.gpu"}} 0' in text
    assert 'gpuslice_violations{rule="slice_consumer_without_gpu"} 1' in text


def _boot(cloud: LiveCloud, name: str, flavor_id: str, host: str) -> dict[str, Any]:
    server = cloud.nova(
        "POST",
        "/servers",
        {
            "server": {
                "name": name,
                "flavorRef": flavor_id,
                "imageRef": cloud.image,
                "networks": "none",
                "host": host,  # 2.74: ask the scheduler for this host (still filtered)
            }
        },
    )["server"]
    deadline = time.monotonic() + 120
    while True:
        shown: dict[str, Any] = cloud.nova("GET", f"/servers/{server['id']}")["server"]
        if shown["status"] != "BUILD" or time.monotonic() > deadline:
            return shown


def test_audit_bootable_matches_what_nova_scheduler_does(live_cloud: LiveCloud) -> None:
    """audit's "can boot" asks Placement; nova's scheduler must agree.

    nova's fake virt driver has no PCI devices, so a probe flavor asks for the same resources as
    g1.gpu without the alias, and is booted on each GPU host through the real scheduler.
    """
    code, report = _audit(live_cloud, "--fleet", str(FLEET))
    assert code == 1  # the sneaky VM is still there
    bootable = {h["name"]: h["bootable"]["g1.gpu"] for h in report["hosts"]}
    assert sorted(bootable.values()) == [False, True]  # the sneaky VM took one host's slice
    flavors = live_cloud.nova("GET", "/flavors/detail?is_public=None", version="2.61")["flavors"]
    g1 = next(f for f in flavors if f["name"] == "g1.gpu")
    specs = {k: v for k, v in g1["extra_specs"].items() if k.startswith("resources:")}
    made = live_cloud.nova(
        "POST", "/flavors", {"flavor": {"name": "probe", "vcpus": 2, "ram": 4096, "disk": 40}}
    )["flavor"]["id"]
    live_cloud.nova("POST", f"/flavors/{made}/os-extra_specs", {"extra_specs": specs})
    for host, expected in sorted(bootable.items()):
        shown = _boot(live_cloud, f"probe-{host}", made, host)
        assert shown["status"] == ("ACTIVE" if expected else "ERROR"), (host, shown.get("fault"))
        if not expected:
            assert "No valid host" in shown["fault"]["message"]
        live_cloud.nova("DELETE", f"/servers/{shown['id']}")


def test_traits_apply_set_survive_nova_compute_updating_the_provider(
    live_cloud: LiveCloud,
) -> None:
    """The boot above made nova-compute update its provider (a claim); apply's trait stays."""
    for host in ("hyper18", "hyper16"):
        rp = live_cloud.placement_call("GET", f"/resource_providers?name={host}")
        provider = rp["resource_providers"][0]
        traits = live_cloud.placement_call("GET", f"/resource_providers/{provider['uuid']}/traits")[
            "traits"
        ]
        assert "CUSTOM_GPU_K40C" in traits, (host, traits)
        assert "CUSTOM_GPU_HOST" in traits, (host, traits)
