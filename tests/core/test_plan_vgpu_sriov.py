"""SR-IOV based vGPU (`vgpu_on: vfs`): types on the virtual functions, a provider per VF."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuslice.errors import InputError
from gpuslice.fleet import Fleet
from gpuslice.fleetfile import parse_fleet
from gpuslice.plan import make_plan
from tests.core.test_plan_vgpu import fleet as vgpu_fleet
from tests.core.test_plan_vgpu import options, provider_yaml

VFS_17 = ", ".join(f'"17:00.{n}"' for n in range(4, 8)) + ', "17:01.0"'
VFS_65 = ", ".join(f'"65:00.{n}"' for n in range(4, 8))

FLEET = f"""\
release: "{{release}}"
strategy: {{strategy}}
slice: {{{{vcpus: 2, memory_mb: 4096}}}}
host_reserve: {{{{memory_mb: 1024}}}}
controllers: [ctl1]
gpu_models:
  - vendor_id: "10de"
    product_id: "2236"
    alias: a10
    mode: vgpu
    vgpu_on: vfs
    mdev_type: nvidia-592
    vgpus_per_gpu: 4
    slice: {{{{vcpus: 2, memory_mb: 8192, disk_gb: 10}}}}
    flavors: [{{{{name: v1.a10, vgpus: 1}}}}, {{{{name: v2.a10, vgpus: 2}}}}]
hosts:
  - name: vg1
    hypervisor_hostname: vg1.example.org
    cpus: 32
    memory_mb: 131072
    disk_gb: 1000
    gpus:
      - {{{{address: "17:00.0", vendor_id: "10de", product_id: "2236", vfs: [{VFS_17}]}}}}
      - {{{{address: "65:00.0", vendor_id: "10de", product_id: "2236", vfs: [{VFS_65}]}}}}
  - {{{{name: plain, cpus: 32, memory_mb: 131072, disk_gb: 1000}}}}
"""


def fleet(release: str = "2025.1", strategy: str = "placement", text: str = FLEET) -> Fleet:
    return vgpu_fleet(release, strategy, text)


def used_vfs(card: str) -> list[str]:
    return [f"0000:{card}:00.{n}" for n in range(4, 8)]


def test_the_fleet_lists_each_cards_virtual_functions() -> None:
    loaded = fleet()
    model = loaded.models[0]
    assert model.vgpu is not None
    assert model.vgpu.on == "vfs"
    host = loaded.hosts[0]
    assert host.vfs_of(host.gpus[0]) == (*used_vfs("17"), "0000:17:01.0")
    assert host.vfs_of(host.gpus[1]) == tuple(used_vfs("65"))


def test_device_addresses_name_vgpus_per_gpu_vfs_of_each_card() -> None:
    conf = options(make_plan(fleet()), "vg1")
    assert conf["devices", "enabled_mdev_types"] == "nvidia-592"
    # The fifth VF of 17:00.0 is left out: the card holds 4 vGPUs.
    assert conf["mdev_nvidia-592", "device_addresses"] == ",".join(used_vfs("17") + used_vfs("65"))
    assert conf["mdev_nvidia-592", "max_instances"] == "8"
    assert conf["mdev_nvidia-592", "mdev_class"] == "VGPU"
    # The root withholds every vGPU's slice: 2 cards x 4 x (2 vCPU, 8 GiB).
    assert conf["DEFAULT", "reserved_host_cpus"] == "16"
    assert conf["DEFAULT", "reserved_host_memory_mb"] == str(1024 + 8 * 8192)


def test_each_vf_provider_holds_one_vgpus_slice_by_nova_s_name() -> None:
    plan = make_plan(fleet())
    entries = provider_yaml(plan, "vg1")["providers"]
    assert entries[0]["inventories"]["additional"] == [{"CUSTOM_GPU_DISK_GB": {"total": 80}}]
    names = [e["identification"]["name"] for e in entries[1:]]
    assert names == [
        "vg1.example.org_pci_" + vf.replace(":", "_").replace(".", "_")
        for vf in used_vfs("17") + used_vfs("65")
    ]
    for entry in entries[1:]:
        assert entry["inventories"]["additional"] == [
            {"CUSTOM_VGPU_VCPU": {"total": 2}},
            {"CUSTOM_VGPU_MEMORY_MB": {"total": 8192}},
        ]
        assert entry["traits"]["additional"] == ["CUSTOM_VGPU_A10"]
    cards = plan.hosts[0].vgpu_cards
    assert len(cards) == 8
    assert {c.inventories["VGPU"].total for c in cards} == {1}
    host = plan.hosts[0]
    assert host.reserve + host.general + host.gpu_slice == host.total
    assert any(n.topic == "vgpu-sriov" and "0000:17:01.0" in n.text for n in plan.notes)


def test_a_k_vgpu_flavor_asks_k_isolated_groups_of_one_vgpu_and_its_slice() -> None:
    flavors = {f.name: f for f in make_plan(fleet()).cloud.flavors}
    assert dict(flavors["v1.a10"].extra_specs) == {
        "resources:VCPU": "0",
        "resources:MEMORY_MB": "0",
        "resources:DISK_GB": "0",
        "resources:CUSTOM_GPU_DISK_GB": "10",
        "resources1:VGPU": "1",
        "resources1:CUSTOM_VGPU_VCPU": "2",
        "resources1:CUSTOM_VGPU_MEMORY_MB": "8192",
        "trait1:CUSTOM_VGPU_A10": "required",
    }
    v2 = dict(flavors["v2.a10"].extra_specs)
    assert v2["group_policy"] == "isolate"
    assert v2["resources:CUSTOM_GPU_DISK_GB"] == "20"
    for group in ("1", "2"):
        assert v2[f"resources{group}:VGPU"] == "1"
        assert v2[f"resources{group}:CUSTOM_VGPU_VCPU"] == "2"
        assert v2[f"resources{group}:CUSTOM_VGPU_MEMORY_MB"] == "8192"


def test_every_group_takes_one_vgpu_with_exactly_one_vf_s_slice() -> None:
    """A VF's provider holds one vGPU and one slice: a group asking it takes both, whole."""
    for flavor in make_plan(fleet()).cloud.flavors:
        specs = dict(flavor.extra_specs)
        groups = [k[len("resources") : -len(":VGPU")] for k in specs if k.endswith(":VGPU")]
        assert len(groups) == int(flavor.name[1])
        for g in groups:
            taken = (
                specs[f"resources{g}:VGPU"],
                specs[f"resources{g}:CUSTOM_VGPU_VCPU"],
                specs[f"resources{g}:CUSTOM_VGPU_MEMORY_MB"],
            )
            assert taken == ("1", "2", "8192")


def test_pooled_and_vgpu_only_forms_ask_one_vgpu_per_group() -> None:
    pooled = fleet(text=FLEET.replace("controllers:", "vgpu_slices: pooled\ncontrollers:"))
    v2 = dict(next(f for f in make_plan(pooled).cloud.flavors if f.name == "v2.a10").extra_specs)
    assert (v2["resources1:VGPU"], v2["resources2:VGPU"], v2["group_policy"]) == (
        "1",
        "1",
        "isolate",
    )
    assert v2["resources:CUSTOM_GPU_VCPU"] == "4"
    none = {f.name: dict(f.extra_specs) for f in make_plan(fleet(strategy="none")).cloud.flavors}
    assert none["v1.a10"]["resources:VGPU"] == "1"
    assert (none["v2.a10"]["resources1:VGPU"], none["v2.a10"]["group_policy"]) == ("1", "isolate")
    assert "resources:VGPU" not in none["v2.a10"]


def test_ussuri_lists_vfs_under_the_vgpu_group_and_train_is_refused() -> None:
    conf = options(make_plan(fleet(release="ussuri", strategy="none")), "vg1")
    assert conf["vgpu_nvidia-592", "device_addresses"] == ",".join(used_vfs("17") + used_vfs("65"))
    with pytest.raises(InputError, match=r"vgpu_on: vfs needs \[vgpu_<type>\] device_addresses"):
        make_plan(fleet(release="train", strategy="none"))


@pytest.mark.parametrize(
    ("old", "new", "says", "field"),
    [
        (
            f"vfs: [{VFS_65}]",
            'vfs: ["65:00.4"]',
            r"lists 1 virtual functions under vfs: but holds 4 vGPUs",
            "hosts.0.gpus.1.vfs",
        ),
        (
            f", vfs: [{VFS_65}]",
            "",
            r"lists 0 virtual functions",
            "hosts.0.gpus.1",
        ),
        (
            f"vfs: [{VFS_65}]",
            'vfs: ["65:00.4", "65:00.5", "65:00.6", "17:00.4"]',
            r"virtual function 0000:17:00.4 is listed twice",
            "hosts.0.gpus.1.vfs",
        ),
        (
            f"vfs: [{VFS_65}]",
            'vfs: ["65:00.4", "65:00.5", "65:00.6", "17:00.0"]',
            r"listed as a GPU and as a virtual function",
            "hosts.0.gpus.1.vfs",
        ),
        (
            f"vfs: [{VFS_65}]",
            'vfs: ["65:00.4", "65:00.5", "65:00.6", "bogus"]',
            r"not a PCI address",
            "hosts.0.gpus.1.vfs",
        ),
        ("    vgpu_on: vfs\n", "", r"vfs: is for a card whose model has", "hosts.0.gpus.0.vfs"),
        ("    vgpu_on: vfs\n", "    vgpu_on: pf\n", r"Input should be", "gpu_models.0.vgpu_on"),
    ],
)
def test_bad_vf_lists_are_refused_with_the_field(old: str, new: str, says: str, field: str) -> None:
    assert old in FLEET
    with pytest.raises(InputError, match=says) as caught:
        fleet(text=FLEET.replace(old, new))
    assert field in str(caught.value)


def test_vgpu_on_is_for_vgpu_models_only() -> None:
    text = FLEET.replace("    mode: vgpu\n", "").replace("    mdev_type: nvidia-592\n", "")
    text = text.replace("    vgpus_per_gpu: 4\n", "")
    with pytest.raises(InputError, match="vgpu_on is for a model in mode: vgpu"):
        fleet(text=text)


def test_a_card_only_in_an_lspci_capture_is_refused(tmp_path: Path) -> None:
    capture = tmp_path / "vg2.txt"
    capture.write_text(
        "17:00.0 3D controller [0302]: NVIDIA Corporation GA102GL [A10] [10de:2236] (rev a1)\n"
    )
    text = FLEET.replace(
        "  - {{name: plain,",
        "  - {{name: vg2, cpus: 32, memory_mb: 131072, disk_gb: 1000, lspci: vg2.txt}}\n"
        "  - {{name: plain,",
    )
    with pytest.raises(InputError, match="only in the lspci capture") as caught:
        parse_fleet(
            text.format(release="2025.1", strategy="placement"),
            source="f.yaml",
            base_dir=tmp_path,
        )
    assert "hosts.1.lspci" in str(caught.value)


def test_the_example_fleet_plans_both_kinds_of_sriov_vgpu() -> None:
    from gpuslice.fleetfile import load_fleet
    from gpuslice.render.tree import render_files

    example = Path(__file__).parents[2] / "examples" / "vgpu-sriov" / "fleet.yaml"
    plan = make_plan(load_fleet(example))
    files = render_files(plan)
    assert "device_addresses = 0000:17:00.4,0000:17:00.5" in files["sriov-01/etc/nova/nova.conf"]
    assert files["vf-01/etc/nova/nova.conf"].count('"managed": "no"') == 4
    assert {n.topic for n in plan.notes} >= {"vgpu-sriov", "vgpu-vfio-variant"}


@settings(max_examples=40, deadline=None)
@given(
    per_card=st.integers(min_value=1, max_value=6),
    extra=st.integers(min_value=0, max_value=2),
    cards=st.integers(min_value=1, max_value=3),
)
def test_vf_providers_hold_each_card_s_slice_and_the_root_withholds_it(
    per_card: int, extra: int, cards: int
) -> None:
    """Whatever the card count, vGPUs per card and extra listed VFs: one provider per used VF,
    each with one vGPU and one slice; together a card's slice; the root withholds all."""
    gpus = "\n".join(
        f'      - {{{{address: "{0x17 + c:02x}:00.0", vendor_id: "10de", product_id: "2236", '
        "vfs: ["
        + ", ".join(f'"{0x17 + c:02x}:{1 + n // 8:02x}.{n % 8}"' for n in range(per_card + extra))
        + "]}}"
        for c in range(cards)
    )
    text = FLEET.replace("vgpus_per_gpu: 4", f"vgpus_per_gpu: {per_card}")
    text = text.replace("cpus: 32\n    memory_mb: 131072", "cpus: 64\n    memory_mb: 262144", 1)
    largest_flavor = (
        f"{{{{name: vmax.a10, vgpus: {per_card}}}}}" if per_card > 1 else "{{name: v1.a10}}"
    )
    text = text.replace("{{name: v1.a10, vgpus: 1}}, {{name: v2.a10, vgpus: 2}}", largest_flavor)
    if per_card > 1:
        text = text.replace("[" + largest_flavor, "[{{name: v1.a10, vgpus: 1}}, " + largest_flavor)
    start = text.index("    gpus:\n") + len("    gpus:\n")
    end = text.index("  - {{name: plain")
    text = text[:start] + gpus + "\n" + text[end:]
    plan = make_plan(fleet(text=text))
    vf_providers = plan.hosts[0].vgpu_cards
    assert len(vf_providers) == cards * per_card
    assert all(p.inventories["VGPU"].total == 1 for p in vf_providers)
    assert (
        sum(p.inventories["CUSTOM_VGPU_VCPU"].total for p in vf_providers) == cards * per_card * 2
    )
    conf = options(plan, "vg1")
    assert len(conf["mdev_nvidia-592", "device_addresses"].split(",")) == cards * per_card
    assert conf["DEFAULT", "reserved_host_cpus"] == str(cards * per_card * 2)
    largest = dict(plan.cloud.flavors[-1].extra_specs)
    groups = [k for k in largest if k.endswith(":VGPU")]
    assert len(groups) == per_card
    assert ("group_policy" in largest) == (per_card > 1)
