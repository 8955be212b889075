"""SR-IOV vGPU through a vendor vfio variant driver: VFs passed through with managed=no."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gpuslice.errors import InputError
from gpuslice.fleet import Fleet
from gpuslice.fleetfile import parse_fleet
from gpuslice.plan import make_plan
from gpuslice.plan.types import NOVA_CONF, Plan
from gpuslice.releasecheck.pci import device_spec_tags, spec_problem
from gpuslice.releasecheck.source import NOVA_VERSIONS, cache_dir, read_sources, wheel_path

VFS = "\n".join(
    f'      - {{{{address: "ca:00.{n}", vendor_id: "10de", product_id: "26b5"}}}}'
    for n in range(4, 8)
)
FLEET = f"""\
release: "{{release}}"
strategy: {{strategy}}
slice: {{{{vcpus: 4, memory_mb: 16384, disk_gb: 40}}}}
host_reserve: {{{{memory_mb: 1024}}}}
controllers: [ctl1]
gpu_models:
  - vendor_id: "10de"
    product_id: "26b5"
    alias: l40s-vgpu
    device_type: type-VF
    vfio_variant: true
    flavors: [{{{{name: v1.l40s, gpus: 1}}}}, {{{{name: v2.l40s, gpus: 2}}}}]
  - vendor_id: "10de"
    product_id: "1024"
    alias: k40c
hosts:
  - name: vf1
    cpus: 64
    memory_mb: 262144
    disk_gb: 1000
    gpus:
{VFS}
      - {{{{address: "86:00.0", vendor_id: "10de", product_id: "1024"}}}}
"""


def fleet(release: str = "2025.1", strategy: str = "placement", text: str = FLEET) -> Fleet:
    return parse_fleet(
        text.format(release=release, strategy=strategy), source="f.yaml", base_dir=Path()
    )


def options(plan: Plan, node: str) -> dict[tuple[str, str], Any]:
    return {(o.section, o.name): o.value for o in plan.node(node).options if o.path == NOVA_CONF}


@pytest.mark.parametrize("strategy", ["placement", "none", "dedicated"])
def test_each_vf_is_whitelisted_by_address_with_managed_no(strategy: str) -> None:
    plan = make_plan(fleet(strategy=strategy))
    specs = [json.loads(line) for line in options(plan, "vf1")["pci", "device_spec"]]
    assert specs == [
        *(
            {
                "vendor_id": "10de",
                "product_id": "26b5",
                "address": f"0000:ca:00.{n}",
                "managed": "no",
            }
            for n in range(4, 8)
        ),
        {"vendor_id": "10de", "product_id": "1024"},
    ]
    alias = {a.name: a for a in plan.aliases}["l40s-vgpu"]
    assert alias.device_type == "type-VF"
    # Only the K40c goes to vfio-pci: the VFs share their card's ids and stay on its driver.
    vfio = [d for d in plan.node("vf1").documents if d.path.startswith("etc/modprobe.d")]
    assert [d.content for d in vfio] == [{"options vfio-pci ids": "10de:1024"}]


def test_each_vf_holds_one_pooled_slice_like_a_passed_through_gpu() -> None:
    plan = make_plan(fleet())
    conf = options(plan, "vf1")
    # 4 VFs x 4 vCPUs + the K40c's 4; 5 slices of 16 GiB.
    assert conf["DEFAULT", "reserved_host_cpus"] == str(5 * 4)
    assert conf["DEFAULT", "reserved_host_memory_mb"] == str(1024 + 5 * 16384)
    assert any(n.topic == "vgpu-vfio-variant" and "managed: no" in n.text for n in plan.notes)
    v2 = next(f for f in plan.cloud.flavors if f.name == "v2.l40s")
    assert v2.extra_specs["pci_passthrough:alias"] == "l40s-vgpu:2"


def test_before_2025_1_the_managed_tag_does_nothing_and_the_plan_is_refused() -> None:
    with pytest.raises(InputError, match=r"managed: no, which nova has from 2025.1 \(31\)"):
        make_plan(fleet(release="2024.2"))


def test_vfio_variant_is_for_virtual_functions() -> None:
    text = FLEET.replace("    device_type: type-VF\n", "    device_type: type-PF\n")
    with pytest.raises(InputError, match="GPUs are type-PF") as caught:
        fleet(text=text)
    assert "gpu_models.0.vfio_variant" in str(caught.value)


def test_vfio_variant_is_not_for_a_model_cut_into_mdevs() -> None:
    text = FLEET.replace(
        "    flavors: [{{name: v1.l40s, gpus: 1}}, {{name: v2.l40s, gpus: 2}}]\n",
        "    mode: vgpu\n    mdev_type: nvidia-1\n    vgpus_per_gpu: 1\n"
        "    slice: {{vcpus: 1, memory_mb: 1024, disk_gb: 1}}\n",
    )
    with pytest.raises(InputError, match="a model in mode: vgpu is cut into mdevs") as caught:
        fleet(text=text)
    assert "gpu_models.0.vfio_variant" in str(caught.value)


DEVSPEC = """
class PciDeviceSpec:
    def enhanced_pci_device_with_spec_tags(self, dev):
        spec_tags = ["managed", "live_migratable"]
        for tag in spec_tags:
            pass
"""


def test_the_release_check_knows_which_tags_a_release_acts_on() -> None:
    tags = device_spec_tags({"nova/pci/devspec.py": DEVSPEC})
    assert tags == {"managed", "live_migratable"}
    assert device_spec_tags({"nova/pci/devspec.py": "class PciDeviceSpec:\n    pass\n"}) == set()
    line = '{"vendor_id": "10de", "address": "0000:ca:00.4", "managed": "no"}'
    assert spec_problem(line, tags) is None
    assert spec_problem(line, frozenset()) == (
        "this release keeps managed as a plain tag: it has no effect"
    )
    assert spec_problem('{"vendor_id": "10de"}', frozenset()) is None
    assert spec_problem("[{}", frozenset()) is not None


WHEELS = {n: wheel_path(NOVA_VERSIONS[n], cache_dir()) for n in (30, 31)}


@pytest.mark.skipif(
    any(w is None for w in WHEELS.values()), reason="nova wheels not cached; scripts/test-releases"
)
def test_nova_31_is_the_first_release_that_acts_on_managed() -> None:
    found = {}
    for number, wheel in WHEELS.items():
        assert isinstance(wheel, Path)
        found[number] = "managed" in device_spec_tags(read_sources(wheel))
    assert found == {30: False, 31: True}
