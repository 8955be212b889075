"""GPU menus: several flavors per model (1/2/4-GPU), several models per fleet and per host."""

from __future__ import annotations

import pytest

from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan
from tests.conftest import EXAMPLES, Writer, error_of

MENU = """\
release: "2025.1"
strategy: placement
slice: {vcpus: 2, memory_mb: 4096, disk_gb: 40}
controllers: [ctl1]
gpu_models:
  - vendor_id: "10de"
    product_id: "20f1"
    alias: a100
    slice: {vcpus: 12, memory_mb: 98304, disk_gb: 200}
    flavors:
      - {name: g4.a100, gpus: 4}
      - {name: g1.a100, gpus: 1}
      - {name: g2.a100, gpus: 2, vcpus: 16}
  - vendor_id: "10de"
    product_id: "26b5"
    alias: l40s
    slice: {vcpus: 8, memory_mb: 65536, disk_gb: 100}
hosts:
  - name: quad
    cpus: 128
    memory_mb: 1048576
    disk_gb: 3840
    gpus:
      - {address: "17:00.0", vendor_id: "10de", product_id: "20f1"}
      - {address: "31:00.0", vendor_id: "10de", product_id: "20f1"}
      - {address: "b1:00.0", vendor_id: "10de", product_id: "20f1"}
      - {address: "ca:00.0", vendor_id: "10de", product_id: "20f1"}
  - name: mixed
    cpus: 96
    memory_mb: 786432
    disk_gb: 3840
    gpus:
      - {address: "17:00.0", vendor_id: "10de", product_id: "20f1"}
      - {address: "31:00.0", vendor_id: "10de", product_id: "20f1"}
      - {address: "41:00.0", vendor_id: "10de", product_id: "26b5"}
"""


def test_menu_is_sorted_by_gpus_and_the_default_is_the_smallest(write_fleet: Writer) -> None:
    fleet = load_fleet(write_fleet(MENU))
    a100, l40s = fleet.models
    assert [(f.name, f.gpus) for f in a100.menu] == [("g1.a100", 1), ("g2.a100", 2), ("g4.a100", 4)]
    assert a100.flavor == "g1.a100"
    assert [(f.name, f.gpus) for f in l40s.menu] == [("g1.gpu.l40s", 1)]


def test_k_gpu_flavor_asks_k_slices_and_alias_k(write_fleet: Writer) -> None:
    plan = make_plan(load_fleet(write_fleet(MENU)))
    flavors = {f.name: f for f in plan.cloud.flavors}
    assert list(flavors) == ["g1.a100", "g2.a100", "g4.a100", "g1.gpu.l40s"]
    g4 = flavors["g4.a100"]
    assert (g4.vcpus, g4.ram, g4.disk) == (48, 4 * 98304, 800)
    assert g4.extra_specs["pci_passthrough:alias"] == "a100:4"
    assert g4.extra_specs["resources:CUSTOM_GPU_VCPU"] == "48"
    assert g4.extra_specs["resources:CUSTOM_GPU_MEMORY_MB"] == str(4 * 98304)
    assert g4.extra_specs["resources:CUSTOM_GPU_DISK_GB"] == "800"
    # the override lowers only what it names
    g2 = flavors["g2.a100"]
    assert (g2.vcpus, g2.ram, g2.disk) == (16, 2 * 98304, 400)
    assert g2.extra_specs["resources:CUSTOM_GPU_VCPU"] == "16"
    assert flavors["g1.gpu.l40s"].extra_specs["pci_passthrough:alias"] == "l40s:1"


def test_mixed_host_pools_each_models_slices(write_fleet: Writer) -> None:
    plan = make_plan(load_fleet(write_fleet(MENU)))
    (provider,) = next(h for h in plan.hosts if h.host.name == "mixed").providers
    assert provider.inventories["CUSTOM_GPU_VCPU"].total == 2 * 12 + 8
    assert provider.inventories["CUSTOM_GPU_MEMORY_MB"].total == 2 * 98304 + 65536


def test_type_affinity_lists_every_menu_flavor(write_fleet: Writer) -> None:
    plan = make_plan(
        load_fleet(
            write_fleet(MENU.replace("placement", "dedicated", 1).replace('"2025.1"', "stein"))
        )
    )
    (aggregate,) = plan.cloud.aggregates
    assert aggregate.metadata["instance_type"] == "g1.a100,g2.a100,g4.a100,g1.gpu.l40s"


def test_second_entry_for_the_same_model_points_to_flavors(write_fleet: Writer) -> None:
    text = MENU.replace(
        'product_id: "26b5"\n    alias: l40s', 'product_id: "20f1"\n    alias: l40s'
    )
    error = error_of(write_fleet, text)
    assert error.field == "gpu_models.1"
    assert "vendor:product" in str(error)
    assert "flavors:" in str(error)


@pytest.mark.parametrize(
    ("override", "key"),
    [("vcpus: 25", "vcpus"), ("memory_mb: 196609", "memory_mb"), ("disk_gb: 401", "disk_gb")],
)
def test_override_above_k_slices_is_refused(write_fleet: Writer, override: str, key: str) -> None:
    text = MENU.replace(
        "{name: g2.a100, gpus: 2, vcpus: 16}", f"{{name: g2.a100, gpus: 2, {override}}}"
    )
    error = error_of(write_fleet, text)
    assert error.field == "gpu_models.0.flavors.2"
    assert error.line == 13
    assert f"asks {key}" in str(error)
    assert "2 slice(s)" in str(error)


def test_override_of_exactly_k_slices_is_fine(write_fleet: Writer) -> None:
    text = MENU.replace("vcpus: 16}", "vcpus: 24, memory_mb: 196608, disk_gb: 0}")
    flavors = {f.name: f for f in make_plan(load_fleet(write_fleet(text))).cloud.flavors}
    g2 = flavors["g2.a100"]
    assert (g2.vcpus, g2.ram, g2.disk) == (24, 196608, 0)
    assert "resources:CUSTOM_GPU_DISK_GB" not in g2.extra_specs


def test_flavor_larger_than_any_host_is_refused(write_fleet: Writer) -> None:
    text = MENU.replace("{name: g4.a100, gpus: 4}", "{name: g8.a100, gpus: 8}")
    error = error_of(write_fleet, text)
    assert "g8.a100 asks 8 a100 GPUs, but no host has more than 4" in str(error)
    assert error.field == "gpu_models.0.flavors"


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("{name: g1.a100, gpus: 1}", "{name: g4.a100, gpus: 1}", "share a name"),
        ("{name: g1.a100, gpus: 1}", "{name: g1.a100, gpus: 4}", "share a GPU count"),
        (
            "    alias: l40s\n",
            "    alias: l40s\n    flavors: [{name: g1.a100}]\n",
            "two GPU models",
        ),
        ("    alias: a100\n", "    alias: a100\n    flavor: g1.x\n", "not both"),
        (
            "      - {name: g4.a100, gpus: 4}\n",
            "      - {name: g4.a100, gpus: 0}\n",
            "greater than 0",
        ),
    ],
)
def test_menu_mistakes_are_named(write_fleet: Writer, old: str, new: str, words: str) -> None:
    assert old in MENU
    error = error_of(write_fleet, MENU.replace(old, new, 1))
    assert words in str(error)
    assert error.line is not None


def test_example_menu_fleet_plans_every_flavor() -> None:
    plan = make_plan(load_fleet(EXAMPLES / "gpu-menu" / "fleet.yaml"))
    names = [(f.name, f.extra_specs["pci_passthrough:alias"]) for f in plan.cloud.flavors]
    assert names == [
        ("g1.a100", "a100:1"),
        ("g2.a100", "a100:2"),
        ("g4.a100", "a100:4"),
        ("g1.l40s", "l40s:1"),
    ]
    assert plan.promise == "holds"


def _menu_fleet(write_fleet: Writer, **changes: str) -> str:
    text = (EXAMPLES / "gpu-menu" / "fleet.yaml").read_text(encoding="utf-8")
    for old, new in changes.items():
        text = text.replace(old.replace("_", " "), new)
    return text


def test_dedicated_cpus_split_a_socket_spanning_flavor_over_numa_nodes(
    write_fleet: Writer,
) -> None:
    text = _menu_fleet(write_fleet).replace(
        "strategy: placement", "strategy: placement\ncpu_mode: dedicated"
    )
    plan = make_plan(load_fleet(write_fleet(text)))
    specs = {f.name: f.extra_specs for f in plan.cloud.flavors}
    assert specs["g4.a100"]["hw:numa_nodes"] == "2"  # 2 A100 per socket: 4 span both
    assert "hw:numa_nodes" not in specs["g2.a100"]  # 2 fit one socket
    assert "hw:numa_nodes" not in specs["g1.a100"]
    assert any("g4.a100" in n.text and "hw:numa_nodes=2" in n.text for n in plan.notes)
    notes = [n.text for n in plan.notes if n.topic == "numa"]
    # 2 + 2 A100: g2 takes one node's pair, but two 1-GPU VMs (spread by nova) leave 1 + 1;
    # g4 takes the whole host, so it cannot be refused while 4 are free
    assert any(
        t.startswith("g2.a100 (guest NUMA nodes: 1) can be refused on a100-01") for t in notes
    )
    assert not any(t.startswith("g4.a100 (guest") for t in notes)


def test_dedicated_cpus_say_when_a_flavor_cannot_be_numa_local(write_fleet: Writer) -> None:
    text = (
        _menu_fleet(write_fleet)
        .replace("strategy: placement", "strategy: placement\ncpu_mode: dedicated")
        .replace(
            '"0000:31:00.0", vendor_id: "10de", product_id: "20f1", numa_node: 0',
            '"0000:31:00.0", vendor_id: "10de", product_id: "20f1", numa_node: 1',
        )
        .replace("{name: g2.a100, gpus: 2}", "{name: g3.a100, gpus: 3}")
    )
    plan = make_plan(load_fleet(write_fleet(text)))
    notes = [n.text for n in plan.notes if n.topic == "numa"]
    # 1 + 3 A100 over two nodes: 3 fit one node, 4 split evenly nowhere; a 1-GPU VM on the
    # 3-GPU node leaves 3 free but 2 on that node, so g3 can be refused there
    assert not any(t.startswith("g3.a100 cannot boot") for t in notes)
    assert any(
        t.startswith("g3.a100 (guest NUMA nodes: 1) can be refused on a100-01") for t in notes
    )
    assert "hw:numa_nodes" not in {f.name: f for f in plan.cloud.flavors}["g3.a100"].extra_specs
    assert any(t.startswith("g4.a100 cannot boot with dedicated CPUs") for t in notes)


def test_dedicated_cpus_warn_of_an_unknown_numa_node(write_fleet: Writer) -> None:
    text = MENU.replace("strategy: placement", "strategy: placement\ncpu_mode: dedicated")
    plan = make_plan(load_fleet(write_fleet(text)))
    notes = [n.text for n in plan.notes if n.topic == "numa"]
    assert any(t.startswith("host quad: NUMA node of GPU(s) 0000:17:00.0") for t in notes)
    accounted = make_plan(load_fleet(write_fleet(MENU)))
    assert not [n for n in accounted.notes if n.topic == "numa"]


EIGHT = "\n".join(
    f'      - {{address: "{bus:02x}:00.0", vendor_id: "10de", product_id: "20f1"}}'
    for bus in range(0x60, 0x68)
)


@pytest.mark.parametrize(
    ("release", "options"),
    [
        ("zed", set()),
        ("2025.1", {"max_allocation_candidates", "allocation_candidates_generation_strategy"}),
        (
            "2026.2",
            {
                "max_allocation_candidates",
                "allocation_candidates_generation_strategy",
                "optimize_for_wide_provider_trees",
            },
        ),
    ],
)
def test_eight_gpus_of_one_class_in_placement_warn_and_set_limits(
    write_fleet: Writer, release: str, options: set[str]
) -> None:
    wide = MENU.replace('release: "2025.1"', f'release: "{release}"\npci_in_placement: true')
    wide = wide.replace(
        '      - {address: "17:00.0", vendor_id: "10de", product_id: "20f1"}\n'
        '      - {address: "31:00.0", vendor_id: "10de", product_id: "20f1"}\n'
        '      - {address: "b1:00.0"',
        EIGHT + '\n      - {address: "b1:00.0"',
        1,
    )
    plan = make_plan(load_fleet(write_fleet(wide)))
    (note,) = [n for n in plan.notes if n.topic == "placement-scale"]
    assert "quad (10 a100)" in note.text
    assert "2070257" in note.text
    set_on_controller = {
        o.name for o in plan.node("ctl1").options if o.path == "etc/placement/placement.conf"
    }
    assert set_on_controller == options
    if not options:
        assert "none of the limits" in note.text
    without = make_plan(load_fleet(write_fleet(wide.replace("pci_in_placement: true", ""))))
    assert not [n for n in without.notes if n.topic == "placement-scale"]


def test_dedicated_cpus_note_a_split_flavor_on_a_host_with_uneven_nodes(
    write_fleet: Writer,
) -> None:
    extra = "".join(
        f'      - {{address: "0000:{bus}:00.0", vendor_id: "10de", product_id: "20f1", '
        f"numa_node: {node}}}\n"
        for bus, node in (("18", 0), ("b2", 1))
    )
    text = (
        _menu_fleet(write_fleet)
        .replace("strategy: placement", "strategy: placement\ncpu_mode: dedicated")
        .replace("{name: g2.a100, gpus: 2}", "{name: g3.a100, gpus: 3}")
        .replace("  - name: l40s-01", extra + "  - name: l40s-01")  # a100-04: 3 + 3
    )
    plan = make_plan(load_fleet(write_fleet(text)))
    notes = [n.text for n in plan.notes if n.topic == "numa"]
    # a100-01..03 hold 2 + 2 (g4 split 2 per node holds there), a100-04 3 + 3: a split g4 may
    # take 3 GPUs of one node with 2 slices' CPUs from each, stranding the rest
    assert {f.name: f for f in plan.cloud.flavors}["g4.a100"].extra_specs["hw:numa_nodes"] == "2"
    fragile = [t for t in notes if t.startswith("g4.a100 (guest NUMA nodes: 2) can be refused")]
    assert len(fragile) == 1
    assert "on a100-04 while 4" in fragile[0]
    assert "exactly 2 a100 GPU(s) on each of 2 nodes" in fragile[0]
