"""Properties of the merge on generated operator files: twice is once, and every operator line not
about an option gpuslice sets survives byte for byte, in its order."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from gpuslice.plan.types import Option
from gpuslice.render.inidoc import parse_ini
from gpuslice.render.merge import merge_ini

PLANNED = [
    Option("f", "DEFAULT", "reserved_host_memory_mb", "4608", "r"),
    Option("f", "DEFAULT", "reserved_host_cpus", "2", "r"),
    Option("f", "pci", "device_spec", ('{"vendor_id": "10de", "product_id": "1024"}',), "r"),
    Option(
        "f",
        "pci",
        "alias",
        ('{"vendor_id": "10de", "product_id": "1024", "name": "gpu"}',),
        "r",
    ),
    Option("f", "filter_scheduler", "enabled_filters", "ComputeFilter,PciPassthroughFilter", "r"),
    Option("f", "ml2", "mechanism_drivers", "gpuslice_host_alias,openvswitch", "r"),
]
ABOUT = {(o.section, o.name) for o in PLANNED}

SECTIONS = ["DEFAULT", "pci", "filter_scheduler", "libvirt", "ml2", "compute"]
text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=20
).map(str.strip)
other_key = st.sampled_from(["debug", "my_ip", "virt_type", "state_path", "x.y-z"])
separator = st.sampled_from(["=", " = ", ": ", " =  "])
names = st.sampled_from(["gpu", "nic", "fpga", "a100"])
spec = st.sampled_from(
    [
        {"vendor_id": "8086", "product_id": "154c", "physical_network": "physnet2"},
        {"vendor_id": "10de", "product_id": "1024"},
        {"address": "0000:86:00.0"},
        {"devname": "eth3", "physical_network": "physnet1"},
    ]
)


@st.composite
def line_group(draw: st.DrawFn) -> list[str]:
    """One or a few lines an operator might write (an assignment with its continuations)."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return [f"[{draw(st.sampled_from(SECTIONS))}]"]
    if kind == 1:
        return [draw(st.sampled_from(["#", ";", "# ", "#gpuslice"])) + draw(text)]
    if kind == 2:
        return [""]
    if kind == 3:
        return [f"{draw(other_key)}{draw(separator)}{draw(text)}"]
    if kind == 4:
        alias = {"name": draw(names), "vendor_id": "8086", "product_id": "154c"}
        return [f"alias{draw(separator)}{json.dumps(alias)}"]
    if kind == 5:
        items = json.dumps(draw(st.lists(spec, min_size=1, max_size=3)))
        return [f"device_spec{draw(separator)}{items}"]
    if kind == 6:
        parts = [f'"{k}": {json.dumps(v)}' for k, v in draw(spec).items()]
        if len(parts) == 1:
            return [f"device_spec = {{{parts[0]}}}"]
        middle = [f"    {p}," for p in parts[1:-1]]
        return [f"device_spec = {{{parts[0]},", *middle, f"  {parts[-1]}}}"]
    if kind == 7:
        filters = draw(
            st.lists(
                st.sampled_from(["ComputeFilter", "MineFilter", "PciPassthroughFilter", "X"]),
                unique=True,
                max_size=4,
            )
        )
        return [f"enabled_filters{draw(separator)}{','.join(filters)}"]
    if kind == 8:
        return [f"reserved_host_memory_mb = {draw(st.integers(0, 9999))}"]
    return [f"mechanism_drivers = {draw(st.sampled_from(['openvswitch', 'ovn,sriovnicswitch']))}"]


@st.composite
def operator_file(draw: st.DrawFn) -> str:
    sections = draw(
        st.lists(
            st.tuples(st.sampled_from(SECTIONS), st.lists(line_group(), max_size=8)), max_size=5
        )
    )
    lines = [
        line
        for name, groups in sections
        for line in [f"[{name}]", *(line for group in groups for line in group)]
    ]
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    bom = "\ufeff" if draw(st.booleans()) else ""
    return bom + "".join(line + eol for line in lines)


def _is_the_plans(section: str | None, key: str | None, value: str) -> bool:
    """Whether an entry of a multi-valued option names what the plan writes (alias `gpu`, or a
    spec for 10de:1024 without an address); anything else of the operator's must stay."""
    try:
        data = json.loads(value)
    except ValueError:
        return False
    items = data if isinstance(data, list) else [data]
    if (section, key) == ("pci", "alias"):
        return any(isinstance(i, dict) and i.get("name") == "gpu" for i in items)
    return any(
        isinstance(i, dict)
        and "address" not in i
        and (i.get("vendor_id"), i.get("product_id")) == ("10de", "1024")
        for i in items
    )


MULTI = {("pci", "alias"), ("pci", "device_spec")}


def operator_lines(existing: str) -> list[str]:
    """The lines (with their ends) of every block not about an option gpuslice sets, and of
    every entry of a multi-valued option that is not the plan's."""
    doc = parse_ini(existing)
    return [
        line
        for block in doc.blocks
        if not (block.kind == "entry" and (block.section, block.key) in ABOUT)
        or (
            (block.section, block.key) in MULTI
            and not _is_the_plans(block.section, block.key, block.value or "")
        )
        for line in block.lines
    ]


@settings(max_examples=300, deadline=None)
@given(operator_file())
def test_merging_twice_changes_nothing_and_keeps_every_other_line(existing: str) -> None:
    merged = merge_ini(existing, PLANNED)
    assert merge_ini(merged, PLANNED) == merged
    remaining = iter(merged.removeprefix("\ufeff").splitlines(keepends=True))
    for line in operator_lines(existing):
        assert any(candidate == line for candidate in remaining), line
    assert merged.startswith("\ufeff") == existing.startswith("\ufeff")


@settings(max_examples=200, deadline=None)
@given(
    st.sets(st.integers(0, 127), min_size=2, max_size=64),
    st.integers(1, 70),
    st.integers(1, 70),
)
def test_the_cpu_set_hold_takes_exactly_the_count_and_gives_it_back(
    cpus: set[int], count: int, later: int
) -> None:
    from gpuslice.cpuset import format_cpuset
    from gpuslice.errors import InputError
    from gpuslice.render.merge_cpu import parse_nova_cpus

    existing = f"[compute]\ncpu_shared_set = {format_cpuset(cpus)}\n"

    def merged_with(text: str, n: int) -> str:
        option = Option("f", "DEFAULT", "reserved_host_cpus", str(n), "r")
        return merge_ini(text, [option], cpu_sets_exclude_reserved=True)

    def shared(text: str) -> set[int]:
        (entry,) = parse_ini(text).entries("compute", "cpu_shared_set")
        return parse_nova_cpus(entry.value or "", source=None, field="f")

    if count >= len(cpus):
        try:
            merged_with(existing, count)
        except InputError:
            return
        raise AssertionError("a hold as large as the set must be refused")
    merged = merged_with(existing, count)
    assert shared(merged) == set(sorted(cpus)[: len(cpus) - count])
    assert merged_with(merged, count) == merged
    assert not [line for line in merged.splitlines() if line.startswith("reserved_host_cpus")]
    if later < len(cpus):
        assert len(shared(merged_with(merged, later))) == len(cpus) - later
    assert shared(merge_ini(merged, [], cpu_sets_exclude_reserved=True)) == cpus
