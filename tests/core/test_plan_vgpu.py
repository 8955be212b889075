"""vGPU models: the fleet contract, the mdev options per release, per-card slices, flavors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gpuslice.errors import InputError
from gpuslice.fleet import Fleet
from gpuslice.fleetfile import load_fleet, parse_fleet
from gpuslice.plan import make_plan
from gpuslice.plan.types import NOVA_CONF, PROVIDER_YAML, Plan
from gpuslice.plan.vgpu import child_provider_name

EXAMPLE = Path(__file__).parents[2] / "examples" / "vgpu" / "fleet.yaml"

FLEET = """\
release: "{release}"
strategy: {strategy}
slice: {{vcpus: 2, memory_mb: 4096}}
host_reserve: {{memory_mb: 1024}}
controllers: [ctl1]
gpu_models:
  - vendor_id: "10de"
    product_id: "2236"
    alias: a10
    mode: vgpu
    mdev_type: nvidia-592
    vgpus_per_gpu: 4
    slice: {{vcpus: 2, memory_mb: 8192, disk_gb: 10}}
    flavors: [{{name: v1.a10, vgpus: 1}}, {{name: v2.a10, vgpus: 2}}]
hosts:
  - name: vg1
    hypervisor_hostname: vg1.example.org
    cpus: 32
    memory_mb: 131072
    disk_gb: 1000
    gpus:
      - {{address: "17:00.0", vendor_id: "10de", product_id: "2236"}}
      - {{address: "65:00.0", vendor_id: "10de", product_id: "2236"}}
  - {{name: plain, cpus: 32, memory_mb: 131072, disk_gb: 1000}}
"""


def fleet(release: str = "2025.1", strategy: str = "placement", text: str = FLEET) -> Fleet:
    return parse_fleet(
        text.format(release=release, strategy=strategy), source="f.yaml", base_dir=Path()
    )


def options(plan: Plan, node: str) -> dict[tuple[str, str], Any]:
    return {(o.section, o.name): o.value for o in plan.node(node).options if o.path == NOVA_CONF}


def provider_yaml(plan: Plan, node: str) -> dict[str, Any]:
    return dict(next(d.content for d in plan.node(node).documents if d.path == PROVIDER_YAML))


def test_the_fleet_file_states_a_vgpu_model_and_the_hypervisor_hostname() -> None:
    loaded = fleet()
    model = loaded.models[0]
    assert model.mode == "vgpu"
    assert model.vgpu is not None
    assert (model.vgpu.mdev_type, model.vgpu.vgpus_per_gpu) == ("nvidia-592", 4)
    assert [(f.name, f.vgpus) for f in model.vgpu.flavors] == [("v1.a10", 1), ("v2.a10", 2)]
    assert (model.gpu_slice.vcpus, model.gpu_slice.memory_mb) == (8, 32768)
    assert loaded.hosts[0].hypervisor == "vg1.example.org"
    assert loaded.hosts[1].hypervisor == "plain"


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("    mdev_type: nvidia-592\n", "", "needs mdev_type"),
        ("{name: v2.a10, vgpus: 2}", "{name: v2.a10, vgpus: 5}", "a card offers 4"),
        ("{name: v2.a10, vgpus: 2}", "{name: v2.a10, vgpus: 2, vcpus: 3}", "not vcpus"),
        ("{name: v2.a10, vgpus: 2}", "{name: v2.a10, gpus: 2}", "not gpus"),
        ("{name: v2.a10, vgpus: 2}", "{name: v1.a10, vgpus: 2}", "share a name"),
        ("    mode: vgpu\n", "", "mdev_type is for a model in mode: vgpu"),
        ("    mode: vgpu\n", "    mode: vgpus\n", "Input should be"),
    ],
)
def test_bad_vgpu_models_are_refused_with_the_field(old: str, new: str, says: str) -> None:
    assert old in FLEET
    with pytest.raises(InputError, match=says) as caught:
        fleet(text=FLEET.replace(old, new))
    assert "gpu_models.0" in str(caught.value)


def test_a_vgpu_slice_without_disk_is_refused_with_the_reason() -> None:
    text = FLEET.replace("disk_gb: 10}}", "disk_gb: 0}}")
    with pytest.raises(InputError, match="skips a host whose root provider") as caught:
        fleet(text=text)
    assert "gpu_models.0.slice.disk_gb" in str(caught.value)


def test_a_vgpu_count_on_a_passthrough_flavor_is_refused() -> None:
    text = FLEET.replace("    mode: vgpu\n    mdev_type: nvidia-592\n    vgpus_per_gpu: 4\n", "")
    with pytest.raises(InputError, match="vgpus: is for a model in mode: vgpu"):
        fleet(text=text)


def test_placement_ties_each_cards_slice_to_the_cards_own_provider() -> None:
    plan = make_plan(fleet())
    doc = provider_yaml(plan, "vg1")
    entries = doc["providers"]
    assert entries[0]["identification"] == {"uuid": "$COMPUTE_NODE"}
    # Only the slices' disk is pooled on the root (2 cards x 4 vGPUs x 10 GB): a vGPU VM must
    # take something from the root or nova's scheduler skips the host.
    assert entries[0]["inventories"]["additional"] == [{"CUSTOM_GPU_DISK_GB": {"total": 80}}]
    names = [e["identification"].get("name") for e in entries[1:]]
    assert names == [
        "vg1.example.org_pci_0000_17_00_0",
        "vg1.example.org_pci_0000_65_00_0",
    ]
    for entry in entries[1:]:
        assert entry["inventories"]["additional"] == [
            {"CUSTOM_VGPU_VCPU": {"total": 8}},
            {"CUSTOM_VGPU_MEMORY_MB": {"total": 32768}},
        ]
        assert entry["traits"]["additional"] == ["CUSTOM_VGPU_A10"]
    conf = options(plan, "vg1")
    # The root withholds both cards' slices: 2 x 4 vGPUs x (2 vCPU, 8 GiB).
    assert conf["DEFAULT", "reserved_host_cpus"] == "16"
    assert conf["DEFAULT", "reserved_host_memory_mb"] == str(1024 + 2 * 32768)
    assert ("pci", "device_spec") not in conf  # vGPU cards are not passed through
    assert not any(d.path.startswith("etc/modprobe.d") for d in plan.node("vg1").documents)
    host = plan.hosts[0]
    assert host.reserve + host.general + host.gpu_slice == host.total


def test_vgpu_flavors_ask_one_numbered_group_and_nothing_standard() -> None:
    plan = make_plan(fleet())
    by_name = {f.name: f for f in plan.cloud.flavors}
    v2 = by_name["v2.a10"]
    assert (v2.vcpus, v2.ram, v2.disk) == (4, 16384, 20)
    assert dict(v2.extra_specs) == {
        "resources:VCPU": "0",
        "resources:MEMORY_MB": "0",
        "resources:DISK_GB": "0",
        "resources:CUSTOM_GPU_DISK_GB": "20",
        "resources1:VGPU": "2",
        "resources1:CUSTOM_VGPU_VCPU": "4",
        "resources1:CUSTOM_VGPU_MEMORY_MB": "16384",
        "trait1:CUSTOM_VGPU_A10": "required",
    }
    assert "CUSTOM_VGPU_A10" in plan.cloud.traits
    assert not plan.aliases  # no passthrough model, no alias


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        ("queens", {("devices", "enabled_vgpu_types"): "nvidia-592"}),
        (
            "ussuri",
            {
                ("devices", "enabled_vgpu_types"): "nvidia-592",
                ("vgpu_nvidia-592", "device_addresses"): "0000:17:00.0,0000:65:00.0",
            },
        ),
        (
            "xena",
            {
                ("devices", "enabled_mdev_types"): "nvidia-592",
                ("mdev_nvidia-592", "device_addresses"): "0000:17:00.0,0000:65:00.0",
                ("mdev_nvidia-592", "mdev_class"): "VGPU",
            },
        ),
        (
            "2023.2",
            {
                ("devices", "enabled_mdev_types"): "nvidia-592",
                ("mdev_nvidia-592", "device_addresses"): "0000:17:00.0,0000:65:00.0",
                ("mdev_nvidia-592", "mdev_class"): "VGPU",
            },
        ),
        (
            "2024.1",
            {
                ("devices", "enabled_mdev_types"): "nvidia-592",
                ("mdev_nvidia-592", "device_addresses"): "0000:17:00.0,0000:65:00.0",
                ("mdev_nvidia-592", "mdev_class"): "VGPU",
                ("mdev_nvidia-592", "max_instances"): "8",
            },
        ),
    ],
)
def test_mdev_options_follow_the_release(release: str, expected: dict[Any, str]) -> None:
    plan = make_plan(fleet(release, "auto"))
    conf = options(plan, "vg1")
    mdev = {k: v for k, v in conf.items() if k[0] in ("devices",) or "nvidia" in k[0]}
    assert mdev == expected


def test_before_victoria_vgpu_flavors_ask_vgpus_alone_and_say_why() -> None:
    plan = make_plan(fleet("ussuri", "auto"))
    assert plan.strategy == "dedicated"
    v1 = next(f for f in plan.cloud.flavors if f.name == "v1.a10")
    assert v1.extra_specs["resources:VGPU"] == "1"
    assert not any(k.startswith("resources1") for k in v1.extra_specs)
    assert any(n.topic == "vgpu" and "before Victoria" in n.text for n in plan.notes)


@pytest.mark.parametrize(
    ("release", "strategy", "cpu_mode", "says"),
    [
        ("pike", "auto", "accounted", "from Queens"),
        ("2025.1", "split", "accounted", "split cannot serve vGPU"),
        ("2025.1", "placement", "dedicated", "cpu_mode dedicated cannot hold vGPU"),
    ],
)
def test_what_nova_cannot_run_is_refused(
    release: str, strategy: str, cpu_mode: str, says: str
) -> None:
    text = FLEET.replace("controllers:", f"cpu_mode: {cpu_mode}\ncontrollers:")
    with pytest.raises(InputError, match=says):
        make_plan(fleet(release, strategy, text))


def test_the_example_fleet_mixes_vgpu_cards_and_a_pooled_passthrough_gpu() -> None:
    loaded = load_fleet(EXAMPLE)
    plan = make_plan(loaded)
    mixed = next(h for h in loaded.hosts if h.name == "mixed-01")
    doc = provider_yaml(plan, "mixed-01")
    root, *cards = doc["providers"]
    # The L40S's slice is pooled on the root; each A10's on its card.
    assert root["inventories"]["additional"] == [
        {"CUSTOM_GPU_VCPU": {"total": 8}},
        {"CUSTOM_GPU_MEMORY_MB": {"total": 65536}},
        {"CUSTOM_GPU_DISK_GB": {"total": 100 + 2 * 4 * 40}},
    ]
    # ... in classes the passthrough flavor asks; the cards' in classes of their own, so the
    # L40S's unnumbered slice request cannot be served from a card
    for card in cards:
        classes = [next(iter(i)) for i in card["inventories"]["additional"]]
        assert classes == ["CUSTOM_VGPU_VCPU", "CUSTOM_VGPU_MEMORY_MB"]
    assert [c["identification"]["name"] for c in cards] == [
        child_provider_name(mixed, g) for g in mixed.gpus[:2]
    ]
    conf = options(plan, "mixed-01")
    # Only the passed-through L40S is in the device spec; the A10 cards stay with their driver.
    assert conf["pci", "device_spec"] == ('{"vendor_id": "10de", "product_id": "26b5"}',)
    assert conf["devices", "enabled_mdev_types"] == "nvidia-592"
    assert conf["DEFAULT", "reserved_host_cpus"] == str(2 * 16 + 8)
    vgpu01 = provider_yaml(plan, "vgpu-01")["providers"][1]["identification"]["name"]
    assert vgpu01 == "vgpu-01.example.org_pci_0000_17_00_0"


def test_the_embedded_model_has_each_card_with_its_slice_under_its_host() -> None:
    from gpuslice.model import from_plan

    model = from_plan(make_plan(fleet()))
    assert [(c.name, model.providers[c.host].name, c.alias) for c in model.cards] == [
        ("vg1.example.org_pci_0000_17_00_0", "vg1", "a10"),
        ("vg1.example.org_pci_0000_65_00_0", "vg1", "a10"),
    ]
    assert dict(model.cards[0].capacity) == {
        "VGPU": 4,
        "CUSTOM_VGPU_VCPU": 8,
        "CUSTOM_VGPU_MEMORY_MB": 32768,
    }
    assert model.cards[0].traits == {"CUSTOM_VGPU_A10"}


def test_hypervisor_hostnames_are_unique() -> None:
    text = FLEET.replace(
        "  - {{name: plain, cpus: 32",
        "  - {{name: plain, hypervisor_hostname: vg1.example.org, cpus: 32",
    )
    with pytest.raises(InputError, match=r"hypervisor_hostname 'vg1\.example\.org'"):
        fleet(text=text)


def test_no_mix_of_vgpu_flavors_strands_part_of_a_cards_slice() -> None:
    """Any mix of the menu that takes every vGPU of a card takes exactly the card's slice."""
    from itertools import combinations_with_replacement

    loaded = load_fleet(EXAMPLE)
    plan = make_plan(loaded)
    model = next(m for m in loaded.models if m.vgpu is not None)
    assert model.vgpu is not None
    flavors = {f.name: f for f in plan.cloud.flavors}
    menu = [flavors[f.name] for f in model.vgpu.flavors]
    per_card = model.vgpu.vgpus_per_gpu
    card = model.gpu_slice
    checked = 0
    for size in range(1, per_card + 1):
        for mix in combinations_with_replacement(menu, size):
            vgpus = sum(int(f.extra_specs["resources1:VGPU"]) for f in mix)
            if vgpus != per_card:
                continue
            checked += 1
            taken_vcpu = sum(int(f.extra_specs["resources1:CUSTOM_VGPU_VCPU"]) for f in mix)
            taken_ram = sum(int(f.extra_specs["resources1:CUSTOM_VGPU_MEMORY_MB"]) for f in mix)
            assert (taken_vcpu, taken_ram) == (card.vcpus, card.memory_mb), [f.name for f in mix]
    assert checked >= 3  # 4x1, 2x1+1x2, 2x2, 1x4


def test_unified_limits_register_what_the_cards_offer() -> None:
    text = FLEET.replace("controllers:", "unified_limits: true\ncontrollers:")
    plan = make_plan(fleet("2024.1", "placement", text))
    limits = {limit.resource_name: limit.default_limit for limit in plan.cloud.registered_limits}
    # 2 cards x 4 vGPUs, each card 8 vCPUs and 32 GiB of slice; the disk pooled on the root.
    assert limits == {
        "class:VGPU": 8,
        "class:CUSTOM_VGPU_VCPU": 16,
        "class:CUSTOM_VGPU_MEMORY_MB": 65536,
        "class:CUSTOM_GPU_DISK_GB": 80,
    }
    assert [c.name for c in plan.hosts[0].vgpu_cards] == [
        "vg1.example.org_pci_0000_17_00_0",
        "vg1.example.org_pci_0000_65_00_0",
    ]
