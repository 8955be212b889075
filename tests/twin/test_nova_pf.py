"""SR-IOV-capable GPUs are type-PF to nova 34: the rendered type-PF alias boots the GPU VM; an
alias asking for type-PCI (or for no type) gets No valid host with the GPU idle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpuslice.cli import main
from tests.twin.nova import LAB, needs_nova, row, verify_json

pytestmark = [needs_nova, pytest.mark.slow]

LAB_PF = LAB.with_name("lab-pf.yaml")
HOST = "gpu-a01"


def test_the_rendered_type_pf_alias_boots_the_gpu_vm(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = verify_json(capsys, str(LAB_PF))
    assert code == 0, [r for r in report["rows"] if not r["ok"]]
    seen = row(report, HOST, "nova sees the fleet's host")["seen"]
    assert "0000:3b:00.0 10de:20b5 type-PF" in seen
    for order in ("ordinary first", "GPU first"):
        gpu = row(report, HOST, f"{order}: GPU VM 1 of 1")["seen"]
        assert gpu.startswith("ACTIVE, guest XML: 0000:3b:00.0"), gpu


@pytest.mark.parametrize("alias_type", ["type-PCI", None])
def test_an_alias_not_asking_for_type_pf_gets_no_valid_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], alias_type: str | None
) -> None:
    out = tmp_path / "render"
    assert main(["render", str(LAB_PF), "--out", str(out)]) == 0
    for node in ("ctl1", HOST):
        conf = out / node / "etc" / "nova" / "nova.conf"
        lines = conf.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            if line.startswith("alias = "):
                alias = json.loads(line.removeprefix("alias = "))
                assert alias["device_type"] == "type-PF"
                if alias_type is None:
                    del alias["device_type"]
                else:
                    alias["device_type"] = alias_type
                lines[index] = "alias = " + json.dumps(alias)
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
    capsys.readouterr()
    code, report = verify_json(capsys, str(LAB_PF), "--rendered", str(out))
    assert code == 1
    for order in ("ordinary first", "GPU first"):
        gpu = row(report, HOST, f"{order}: GPU VM 1 of 1")["seen"]
        assert gpu.startswith("ERROR: No valid host"), gpu


def test_nova_device_spec_by_pf_address_would_match_its_vfs_too() -> None:
    """Why gpuslice's passthrough spec for a type-PF GPU stays vendor/product: nova 34 reads a
    single address as a PF's when sysfs says it has VFs, and then matches every VF below it."""
    from unittest import mock

    from nova.pci import devspec

    with mock.patch("nova.pci.utils.is_physical_function", return_value=True):
        spec = devspec.PciDeviceSpec({"address": "0000:3b:00.0"})
    vf = {"vendor_id": "10de", "product_id": "20b5", "address": "0000:3b:00.4"}
    assert spec.match({**vf, "parent_addr": "0000:3b:00.0"})
    by_ids = devspec.PciDeviceSpec({"vendor_id": "10de", "product_id": "20b5"})
    assert by_ids.match({**vf, "address": "0000:3b:00.0", "parent_addr": None})
    # device_type is no device_spec key: it would only become a tag.
    tagged = devspec.PciDeviceSpec({"vendor_id": "10de", "device_type": "type-PF"})
    assert tagged.get_tags() == {"device_type": "type-PF"}
