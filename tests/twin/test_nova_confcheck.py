"""Rendered nova.conf is checked against nova 34's own registered options before anything boots
(gpuslice's own options: test_nova_merged.py); and DESIGN.md's claim that GPU flavors need both
zero overrides, shown on real nova."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpuslice.cli import main
from tests.twin.nova import LAB, needs_nova, row, verify_json

pytestmark = [needs_nova, pytest.mark.slow]


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    out = tmp_path / "render"
    assert main(["render", str(LAB), "--out", str(out)]) == 0
    return out


def test_gpu_flavor_without_the_vcpu_zero_override_loses_its_slice(
    rendered: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """DESIGN.md: 'Both zero overrides are needed.' Without resources:VCPU=0 the GPU flavor asks
    for ordinary vCPUs too, which the ordinary VMs have taken: real nova refuses it."""
    objects = rendered / "cloud-objects.json"
    data = json.loads(objects.read_text(encoding="utf-8"))
    for flavor in data["flavors"]:
        del flavor["extra_specs"]["resources:VCPU"]
    objects.write_text(json.dumps(data), encoding="utf-8")
    code, report = verify_json(capsys, str(LAB), "--rendered", str(rendered), "--host", "hyper18")
    assert code == 1
    gpu = row(report, "hyper18", "ordinary first: GPU VM 1 of 1")
    assert gpu["seen"].startswith("ERROR: No valid host")
    assert row(report, "hyper18", "GPU first: GPU VM 1 of 1")["ok"]


def test_nova_34_takes_a_json_list_in_device_spec_but_not_in_alias(
    rendered: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """DESIGN.md's trap, checked with nova's own parsers: write one alias per line."""
    conf = rendered / "hyper18" / "etc" / "nova" / "nova.conf"
    text = conf.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(text):
        if line.startswith(("alias = ", "device_spec = ")):
            name, value = line.split(" = ", 1)
            text[index] = f"{name} = [{value}]"
    conf.write_text("\n".join(text) + "\n", encoding="utf-8")
    alias_line = next(i for i, line in enumerate(text, 1) if line.startswith("alias = "))
    code = main(["verify", str(LAB), "--rendered", str(rendered), "--host", "hyper18"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert f"hyper18/etc/nova/nova.conf:{alias_line}: [pci] alias: nova refuses the value" in err
    assert "device_spec" not in err
