"""Merging into an operator's hand-kept nova.conf: their lines stay, the plan's hold, twice is once.

The operator files here are written unlike the lab's: an SR-IOV NIC passthrough spec spread over
continuation lines, a NIC alias, a JSON list holding a NIC and a GPU, their own filters,
`key=value` without spaces, non-ASCII comments, CRLF line ends and a BOM.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from oslo_config import cfg

from gpuslice.errors import InputError
from gpuslice.plan import make_plan
from gpuslice.plan.types import NOVA_CONF, Option
from gpuslice.render.merge import merge_ini
from tests.core.fleets import lab_fleet

NIC_SPEC = '{"vendor_id": "8086",\n    "product_id": "154c",\n    "physical_network": "physnet2"}'
OPERATOR = f"""\
# nova.conf kept by hand – Grüße from the ops team
[DEFAULT]
debug=True
my_ip = 10.0.0.18

[filter_scheduler]
# our own filters, in our order
enabled_filters = ComputeFilter,SameHostFilter,DifferentHostFilter

[pci]
device_spec = {NIC_SPEC}
alias = {{"name": "nic", "vendor_id": "8086", "product_id": "154c", "device_type": "type-VF"}}
# keep: the NIC's alias above
[libvirt]
virt_type = kvm
"""


def parse_back(text: str, tmp_path: Path) -> dict[str, dict[str, list[str]]]:
    """What oslo.config's own parser reads from `text` (a BOM taken off first: oslo refuses it)."""
    path = tmp_path / "parse.conf"
    path.write_text(text.removeprefix("\ufeff"), encoding="utf-8", newline="")
    sections: dict[str, dict[str, list[str]]] = {}
    cfg.ConfigParser(str(path), sections).parse()
    return sections


def is_subsequence(wanted: list[str], lines: list[str]) -> bool:
    """Whether `wanted` appear in `lines` in this order (others may come between)."""
    remaining = iter(lines)
    return all(any(line == w for line in remaining) for w in wanted)


def hyper18_nova_conf(release: int = 31, strategy: str = "placement", **kw: object) -> list[Option]:
    plan = make_plan(lab_fleet(release, strategy, **kw))  # type: ignore[arg-type]
    return [o for o in plan.node("hyper18").options if o.path == NOVA_CONF]


def controller_nova_conf(release: int = 31) -> list[Option]:
    plan = make_plan(lab_fleet(release, "placement"))
    return [o for o in plan.node("ctl1").options if o.path == NOVA_CONF]


def test_operator_values_survive_and_the_plan_holds_parsed_by_oslo(tmp_path: Path) -> None:
    options = hyper18_nova_conf() + [
        o for o in controller_nova_conf() if o.name == "enabled_filters"
    ]
    merged = merge_ini(OPERATOR, options)
    parsed = parse_back(merged, tmp_path)
    assert parsed["DEFAULT"]["debug"] == ["True"]
    assert parsed["DEFAULT"]["my_ip"] == ["10.0.0.18"]
    assert parsed["libvirt"]["virt_type"] == ["kvm"]
    specs = [json.loads(v) for v in parsed["pci"]["device_spec"]]
    assert specs[0] == {"vendor_id": "8086", "product_id": "154c", "physical_network": "physnet2"}
    assert {"vendor_id": "10de", "product_id": "1024"} in specs
    aliases = [json.loads(v)["name"] for v in parsed["pci"]["alias"]]
    assert aliases == ["nic", "gpu"]
    (filters,) = parsed["filter_scheduler"]["enabled_filters"]
    names = filters.split(",")
    assert names[:3] == ["ComputeFilter", "SameHostFilter", "DifferentHostFilter"]
    assert "PciPassthroughFilter" in names
    assert len(names) == len(set(names))
    for option in options:
        if option.name in {"enabled_filters", "device_spec", "alias"}:
            continue
        values = list(option.value) if isinstance(option.value, tuple) else [option.value]
        assert parsed[option.section][option.name] == values, option.name
    assert merge_ini(merged, options) == merged


def test_operator_lines_stay_byte_for_byte_in_place() -> None:
    merged = merge_ini(OPERATOR, hyper18_nova_conf())
    kept = [line for line in OPERATOR.splitlines() if "alias" not in line or "nic" in line]
    lines = merged.splitlines()
    assert is_subsequence(kept, lines)
    nic_alias = next(i for i, line in enumerate(lines) if '"name": "nic"' in line)
    gpu_alias = next(i for i, line in enumerate(lines) if '"name": "gpu"' in line)
    assert nic_alias < gpu_alias
    assert lines[gpu_alias - 1] == (
        '# gpuslice: alias owns ["gpu"] (a rerun replaces or removes only these entries)'
    )


def test_an_entry_with_the_plans_identity_is_replaced_in_place() -> None:
    existing = (
        "[pci]\n"
        'alias = {"name": "gpu", "vendor_id": "10de", "product_id": "dead"}\n'
        'alias = {"name": "nic", "vendor_id": "8086", "product_id": "154c"}\n'
        'device_spec = {"vendor_id": "10de", "product_id": "1024", "physical_network": null}\n'
    )
    merged = merge_ini(existing, hyper18_nova_conf()).splitlines()
    assert '"product_id": "1024"' in merged[2]
    assert merged[2].startswith("alias = ")
    assert '"name": "nic"' in merged[3]
    assert merged[5] == 'device_spec = {"vendor_id": "10de", "product_id": "1024"}'


def test_a_json_list_loses_only_gpuslices_items() -> None:
    nic = {"vendor_id": "8086", "product_id": "154c", "physical_network": "physnet2"}
    gpu = {"vendor_id": "10de", "product_id": "1024"}
    existing = f"[pci]\ndevice_spec = {json.dumps([nic, gpu])}\n"
    merged = merge_ini(existing, hyper18_nova_conf())
    entries = [line for line in merged.splitlines() if line.startswith("device_spec")]
    assert [json.loads(e.split("=", 1)[1]) for e in entries] == [[nic], gpu]
    assert merge_ini(merged, hyper18_nova_conf()) == merged


def test_a_rerun_with_another_plan_takes_back_only_its_own() -> None:
    first = [
        Option("f", "pci", "alias", ('{"name": "gpu"}', '{"name": "old"}'), "r"),
        Option("f", "filter_scheduler", "enabled_filters", "ComputeFilter,Extra,Pci", "r"),
    ]
    second = [
        Option("f", "pci", "alias", ('{"name": "gpu", "x": 1}',), "r"),
        Option("f", "filter_scheduler", "enabled_filters", "Pci", "r"),
    ]
    existing = (
        '[pci]\nalias = {"name": "nic"}\n\n[filter_scheduler]\nenabled_filters = ComputeFilter\n'
    )
    after_second = merge_ini(merge_ini(existing, first), second)
    assert after_second == (
        "[pci]\n"
        'alias = {"name": "nic"}\n'
        '# gpuslice: alias owns ["gpu"] (a rerun replaces or removes only these entries)\n'
        'alias = {"name": "gpu", "x": 1}\n'
        "\n"
        "[filter_scheduler]\n"
        '# gpuslice: enabled_filters added ["Pci"] (a rerun takes back only these)\n'
        "enabled_filters = ComputeFilter,Pci\n"
    )
    assert merge_ini(after_second, []) == existing


def test_a_new_list_option_is_all_gpuslices_and_goes_away_whole() -> None:
    option = Option("f", "filter_scheduler", "enabled_filters", "A,B", "r")
    merged = merge_ini("[DEFAULT]\ndebug = True\n", [option])
    assert merged.endswith("enabled_filters = A,B\n")
    assert merge_ini(merged, []) == "[DEFAULT]\ndebug = True\n\n[filter_scheduler]\n"


def test_mechanism_drivers_keep_the_operators_order_after_gpuslices_driver() -> None:
    option = Option("f", "ml2", "mechanism_drivers", "gpuslice_host_alias,openvswitch", "r")
    merged = merge_ini("[ml2]\nmechanism_drivers = openvswitch, l2population\n", [option])
    assert "mechanism_drivers = gpuslice_host_alias,openvswitch,l2population\n" in merged


def test_crlf_and_bom_are_kept(tmp_path: Path) -> None:
    existing = "\ufeff" + OPERATOR.replace("\n", "\r\n")
    merged = merge_ini(existing, hyper18_nova_conf())
    assert merged.startswith("\ufeff# nova.conf kept by hand")
    assert "\n" not in merged.replace("\r\n", "")
    assert parse_back(merged, tmp_path)["DEFAULT"]["debug"] == ["True"]
    assert merge_ini(merged, hyper18_nova_conf()) == merged


def cpu_options(count: int) -> list[Option]:
    return [Option("f", "DEFAULT", "reserved_host_cpus", str(count), "r")]


def test_shared_cpu_set_holds_the_slice_instead_of_reserved_host_cpus() -> None:
    existing = "[DEFAULT]\nreserved_host_cpus = 1\n[compute]\ncpu_shared_set = 0-11,^0\n"
    merged = merge_ini(existing, cpu_options(3), cpu_sets_exclude_reserved=True)
    assert "reserved_host_cpus" not in merged.replace("in place of reserved_host_cpus", "")
    assert merged.splitlines()[-1] == "cpu_shared_set = 1-8"
    assert '# gpuslice: cpu_shared_set took ["9-11"]' in merged
    assert merge_ini(merged, cpu_options(3), cpu_sets_exclude_reserved=True) == merged
    bigger = merge_ini(merged, cpu_options(5), cpu_sets_exclude_reserved=True)
    assert bigger.splitlines()[-1] == "cpu_shared_set = 1-6"
    assert merge_ini(bigger, [], cpu_sets_exclude_reserved=True).endswith("cpu_shared_set = 1-11\n")


def test_before_train_reserved_host_cpus_is_written_beside_a_cpu_set() -> None:
    existing = "[compute]\ncpu_shared_set = 0-11\n"
    merged = merge_ini(existing, cpu_options(3), cpu_sets_exclude_reserved=False)
    assert "reserved_host_cpus = 3" in merged
    assert "cpu_shared_set = 0-11" in merged


def test_vcpu_pin_set_takes_reserved_host_cpus_as_real_nova_does() -> None:
    """nova 34 checks reserved_host_cpus only when vcpu_pin_set is unset (tests/twin pins it)."""
    merged = merge_ini(
        "[DEFAULT]\nvcpu_pin_set = 2-23\n", cpu_options(3), cpu_sets_exclude_reserved=True
    )
    assert merged == "[DEFAULT]\nvcpu_pin_set = 2-23\nreserved_host_cpus = 3\n"


@pytest.mark.parametrize(
    ("existing", "says"),
    [
        ("[compute]\ncpu_dedicated_set = 4-11\n", "has only dedicated CPUs"),
        ("[DEFAULT]\nvcpu_pin_set = 0-3\n[compute]\ncpu_dedicated_set = 4-7\n", "refuses to start"),
        ("[compute]\ncpu_shared_set = 0-2\n", "none would be left for ordinary VMs"),
        ("[compute]\ncpu_shared_set = 0-x\n", "cannot read the CPU set"),
    ],
)
def test_cpu_sets_nova_would_refuse_are_refused_with_the_reason(existing: str, says: str) -> None:
    with pytest.raises(InputError) as caught:
        merge_ini(existing, cpu_options(3), cpu_sets_exclude_reserved=True, source="x/nova.conf")
    assert says in str(caught.value)
    assert str(caught.value).startswith("x/nova.conf: [")


def test_the_plans_own_cpu_sets_are_no_conflict() -> None:
    options = hyper18_nova_conf(31, "placement", cpu_mode="dedicated")
    assert {o.name for o in options} >= {"cpu_shared_set", "cpu_dedicated_set"}
    merged = merge_ini(
        "[compute]\ncpu_shared_set = 0-23\n", options, cpu_sets_exclude_reserved=True
    )
    assert "reserved_host_cpus" not in merged
    assert "took" not in merged


def test_continuation_lines_belong_to_their_value() -> None:
    option = Option(
        "f", "pci", "device_spec", ('{"vendor_id": "8086", "product_id": "154c"}',), "r"
    )
    merged = merge_ini(f"[pci]\ndevice_spec = {NIC_SPEC}\nnext = 1\n", [option])
    assert merged == (
        "[pci]\n"
        '# gpuslice: device_spec owns ["8086:154c"] '
        "(a rerun replaces or removes only these entries)\n"
        'device_spec = {"vendor_id": "8086", "product_id": "154c"}\n'
        "next = 1\n"
    )


def test_a_new_option_goes_before_the_comment_that_heads_the_next_section() -> None:
    existing = "[DEFAULT]\ndebug = True\n\n# libvirt: ours\n[libvirt]\nvirt_type = kvm\n"
    option = Option("f", "DEFAULT", "reserved_host_memory_mb", "512", "r")
    assert merge_ini(existing, [option]) == (
        "[DEFAULT]\ndebug = True\nreserved_host_memory_mb = 512\n\n"
        "# libvirt: ours\n[libvirt]\nvirt_type = kvm\n"
    )


def test_the_plans_entries_under_an_older_name_go_the_operators_stay(tmp_path: Path) -> None:
    """oslo.config reads a multi-valued option under all its names together: an old
    `[DEFAULT] pci_alias` named like the plan's alias would be a second, disagreeing `gpu`."""
    both = [json.loads(NIC_SPEC), {"vendor_id": "10de", "product_id": "1024"}]
    existing = (
        "[DEFAULT]\n"
        'pci_alias = {"name": "gpu", "vendor_id": "10de", "product_id": "1024", '
        '"device_type": "type-PF"}\n'
        'pci_alias = {"name": "nic", "vendor_id": "8086", "product_id": "154c"}\n'
        "[pci]\n"
        f"passthrough_whitelist = {json.dumps(both)}\n"
    )
    merged = merge_ini(existing, hyper18_nova_conf())
    parsed = parse_back(merged, tmp_path)
    assert [json.loads(v)["name"] for v in parsed["DEFAULT"]["pci_alias"]] == ["nic"]
    assert [json.loads(v)["name"] for v in parsed["pci"]["alias"]] == ["gpu"]
    (old,) = parsed["pci"]["passthrough_whitelist"]
    assert json.loads(old) == [json.loads(NIC_SPEC)]
    assert [json.loads(v) for v in parsed["pci"]["device_spec"]] == [
        {"vendor_id": "10de", "product_id": "1024"}
    ]
    assert merge_ini(merged, hyper18_nova_conf()) == merged


def test_filters_under_the_older_name_are_the_operators_list() -> None:
    option = Option("f", "filter_scheduler", "enabled_filters", "ComputeFilter,Pci", "r")
    existing = "[DEFAULT]\nscheduler_default_filters = RetryFilter,MineFilter\n"
    merged = merge_ini(existing, [option])
    assert "enabled_filters = RetryFilter,MineFilter,ComputeFilter,Pci\n" in merged
    assert '"ComputeFilter", "Pci"' in merged
    assert merge_ini(merged, [option]) == merged
