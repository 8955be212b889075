"""The issue's fleet (4 hosts with 4x A100, 2 with 2x L40S, plain hosts; 2025.1) merged into
hand-kept files on every node: each file kept as the operator wrote it where gpuslice has no
say, the plan's options read back by oslo.config, and a rerun changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from oslo_config import cfg

from gpuslice.cli import main
from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan
from gpuslice.plan.types import NOVA_CONF

MENU = Path(__file__).resolve().parents[2] / "examples" / "gpu-menu" / "fleet.yaml"
NIC = {"vendor_id": "8086", "product_id": "154c", "physical_network": "physnet2"}
COMPUTE = (
    "# hand-kept: SR-IOV NICs on every compute – Grüße\n"
    "[DEFAULT]\n"
    "debug=True\n"
    "[pci]\n"
    f"device_spec = {json.dumps(NIC)}\n"
)
CONTROLLER = (
    "[filter_scheduler]\n"
    "enabled_filters = ComputeFilter,MineFilter\n"
    "[pci]\n"
    'alias = {"name": "nic", "vendor_id": "8086", "product_id": "154c", "device_type": "type-VF"}\n'
)


def oslo(path: Path) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    cfg.ConfigParser(str(path), sections).parse()
    return sections


def test_the_menu_fleet_merges_into_hand_kept_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = load_fleet(MENU)
    plan = make_plan(fleet)
    products = {h.name: {g.product_id for g in h.gpus} for h in fleet.hosts}
    computes = [n.name for n in plan.nodes if n.role == "compute"]
    controllers = [n.name for n in plan.nodes if n.role == "controller"]
    for name in computes + controllers:
        conf = tmp_path / name / NOVA_CONF
        conf.parent.mkdir(parents=True)
        text = COMPUTE if name in computes else CONTROLLER
        if name == computes[0]:
            text = text.replace("\n", "\r\n")
        if name == computes[1]:
            text += "[compute]\ncpu_shared_set = 0-127\n"
        conf.write_text(text, encoding="utf-8", newline="")
    assert main(["render", str(MENU), "--merge-into", str(tmp_path)]) == 0
    capsys.readouterr()

    models = {"20f1": "a100", "26b5": "l40s"}
    for name in computes:
        path = tmp_path / name / NOVA_CONF
        parsed = oslo(path)
        assert parsed["DEFAULT"]["debug"] == ["True"]
        specs = [json.loads(v) for v in parsed["pci"]["device_spec"]]
        assert specs[0] == NIC
        assert {s["product_id"] for s in specs[1:]} == products[name]
        reserved = parsed["DEFAULT"].get("reserved_host_cpus")
        if name == computes[1]:
            assert reserved is None
            (shared,) = parsed["compute"]["cpu_shared_set"]
            planned = next(
                o.value
                for o in plan.node(name).options
                if o.name == "reserved_host_cpus" and o.path == NOVA_CONF
            )
            assert shared == f"0-{127 - int(str(planned))}"
            assert "took" in path.read_text(encoding="utf-8")
    first = (tmp_path / computes[0] / NOVA_CONF).read_bytes()
    assert first.startswith("# hand-kept: SR-IOV NICs on every compute – Grüße\r\n".encode())
    assert b"\n" not in first.replace(b"\r\n", b"")

    for name in controllers:
        parsed = oslo(tmp_path / name / NOVA_CONF)
        names = parsed["filter_scheduler"]["enabled_filters"][0].split(",")
        assert names[:2] == ["ComputeFilter", "MineFilter"]
        assert "PciPassthroughFilter" in names
        aliases = [json.loads(v)["name"] for v in parsed["pci"]["alias"]]
        assert aliases == ["nic", *sorted(models.values())]

    assert main(["render", str(MENU), "--merge-into", str(tmp_path)]) == 0
    assert "nothing to change: the files already hold the plan" in capsys.readouterr().out
