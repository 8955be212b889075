"""`gpuslice verify` of VFs passed through by a vendor vfio variant driver, on real nova 34:
the rendered device_spec (one per VF, `managed: no`) makes libvirt leave each VF alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuslice.cli import main
from tests.twin.nova import needs_nova, row, verify_json

pytestmark = [needs_nova, pytest.mark.slow]

FLEET = Path(__file__).resolve().parent / "data" / "vfio_variant.yaml"
VFS = [f"0000:ca:00.{n}" for n in range(4, 8)]


def test_each_vf_boots_with_managed_no_and_the_slice_holds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = verify_json(capsys, str(FLEET))
    assert code == 0, [r for r in report["rows"] if not r["ok"]]
    seen = row(report, "vf1", "nova sees the fleet's host")["seen"]
    assert all(f"{vf} 10de:26b5 type-VF" in seen for vf in VFS)
    for index in range(1, 5):
        vm = row(report, "vf1", f"ordinary first: GPU VM {index} of 4")["seen"]
        assert vm.startswith("ACTIVE, guest XML: 0000:ca:00.")
        assert vm.endswith(", managed=no")
    assert row(report, "vf1", "ordinary first: each GPU attached once")["seen"] == ", ".join(VFS)
    extra = row(report, "vf1", "ordinary first: one more GPU VM (all GPUs in use)")
    assert extra["seen"].startswith("ERROR: No valid host")


def test_without_the_managed_tag_libvirt_would_rebind_each_vf(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "rendered"
    assert main(["render", str(FLEET), "--out", str(out)]) == 0
    capsys.readouterr()
    conf = out / "vf1" / "etc" / "nova" / "nova.conf"
    text = conf.read_text(encoding="utf-8")
    assert text.count(', "managed": "no"') == 4
    conf.write_text(text.replace(', "managed": "no"', ""), encoding="utf-8")
    code, report = verify_json(capsys, str(FLEET), "--rendered", str(out))
    assert code == 1
    vm = row(report, "vf1", "ordinary first: GPU VM 1 of 4")
    assert not vm["ok"]
    assert vm["seen"].endswith(", managed=yes")
