"""Merge planned options into an operator's existing INI file, never losing a line of theirs.

Rules, per kind of option:
- a single value replaces the file's assignment of it in place (a repeated assignment of the
  same key in the section is dropped: oslo.config would only read the last); a missing option
  goes at the end of its section, a missing section at the end of the file;
- a list option gpuslice extends (`enabled_filters`, `scheduler_default_filters`,
  `mechanism_drivers`) becomes the union of the operator's items and the plan's: the operator's
  keep their order; the plan's new items go after them (filters: their order does not change
  which hosts pass) or before them (mechanism drivers: gpuslice's driver must bind first). A
  marker comment records the items gpuslice added, and a rerun takes back only those;
- a multi-valued option (MultiStrOpt: `device_spec`, `passthrough_whitelist`, `alias`, ...)
  merges entry by entry: an entry is the operator's unless its identity (alias: its name;
  passthrough spec: its address, else vendor_id:product_id; others: the whole value) is one the
  plan writes or an earlier run recorded as its own; gpuslice's entries are replaced in place or
  dropped, the operator's stay where they stand (from a JSON list holding both, only gpuslice's
  items are taken out); new entries go after the option's last entry. oslo.config reads such an
  option under its older names too (`[DEFAULT] pci_alias`, `[pci] passthrough_whitelist`), so
  entries of the plan's identities there go as well, and the operator's others stay;
- a list option set only under its older name (`[DEFAULT] scheduler_default_filters`) gives the
  operator's items for the union;
- `reserved_host_cpus` beside an operator's CPU set follows `gpuslice.render.merge_cpu`.
Every line not about an option gpuslice sets or recorded stays byte for byte (line ends, a BOM,
any encoding), so merging twice changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from gpuslice.plan.types import Option
from gpuslice.render.ini import ordered_sections
from gpuslice.render.inidoc import Block, IniDoc, parse_ini
from gpuslice.render.markers import Marker, items_of, marker_line, take_markers
from gpuslice.render.merge_cpu import hold_with_cpu_sets, restore_taken_cpus
from gpuslice.render.option_kinds import (
    LIST_OPTIONS,
    MULTI_OPTIONS,
    Identity,
    Placement,
    other_names,
    whole_value,
)

_ADDED_WHY = "a rerun takes back only these"
_OWNS_WHY = "a rerun replaces or removes only these entries"


def merge_ini(
    existing: str,
    options: Iterable[Option],
    *,
    systemd: bool = False,
    cpu_sets_exclude_reserved: bool = False,
    source: str | None = None,
) -> str:
    """`existing` with `options` merged in (see the module's rules).

    `cpu_sets_exclude_reserved`: the release's nova-compute refuses `reserved_host_cpus` beside
    a CPU set (Train and later). `source` names the file in errors.
    """
    doc = parse_ini(existing)
    markers = take_markers(doc)
    restore_taken_cpus(doc, markers, source)
    planned = list(options)
    if cpu_sets_exclude_reserved and not systemd:
        planned = hold_with_cpu_sets(doc, planned, source)
    separator = "=" if systemd else " = "
    done: set[tuple[str, str]] = set()
    for section, in_section in ordered_sections(planned).items():
        for option in in_section:
            done.add((section, option.name))
            _merge_option(doc, option, markers, separator, systemd=systemd)
    for marker in markers:
        if (marker.section, marker.key) in done or marker.section is None:
            continue
        done.add((marker.section, marker.key))
        _take_back(doc, marker.section, marker.key, markers, separator)
    return doc.text()


def _merge_option(
    doc: IniDoc, option: Option, markers: list[Marker], separator: str, *, systemd: bool
) -> None:
    where = (option.section, option.name)
    if where in LIST_OPTIONS and isinstance(option.value, str):
        plan_items = _split_list(option.value)
        _merge_list(doc, option.section, option.name, plan_items, markers, separator)
    elif isinstance(option.value, tuple) and not systemd:
        identity = MULTI_OPTIONS.get(where, whole_value)
        owned = items_of(markers, option.section, option.name, "owns")
        _merge_multi(doc, option.section, option.name, option.value, owned, identity, separator)
    else:
        values = option.value if isinstance(option.value, tuple) else (option.value,)
        set_lines(doc, option.section, option.name, list(values), separator)


def _take_back(doc: IniDoc, section: str, key: str, markers: list[Marker], separator: str) -> None:
    """Undo what an earlier run recorded for an option the plan no longer sets."""
    if (section, key) in LIST_OPTIONS:
        _merge_list(doc, section, key, [], markers, separator)
    elif items_of(markers, section, key, "owns"):
        identity = MULTI_OPTIONS.get((section, key), whole_value)
        owned = items_of(markers, section, key, "owns")
        _merge_multi(doc, section, key, (), owned, identity, separator)


def set_lines(doc: IniDoc, section: str, key: str, values: list[str], separator: str) -> Block:
    """Make `values` the assignments of `[section] key`: in place of the first existing one
    (the others dropped), else at the end of the section. An assignment already holding exactly
    the value is left as written. Returns the (first) block now holding the option."""
    entries = doc.entries(section, key)
    new = [Block("entry", [doc.line(f"{key}{separator}{v}")], section, key, v) for v in values]
    if len(entries) == len(values) and all(
        e.value == v for e, v in zip(entries, values, strict=True)
    ):
        return entries[0]
    if entries:
        at = doc.blocks.index(entries[0])
        new[0].before = entries[0].before
        for entry in entries:
            doc.blocks.remove(entry)
    else:
        at = doc.section_end(section) if doc.has_section(section) else doc.append_section(section)
    doc.blocks[at:at] = new
    return new[0]


def _split_list(value: str | None) -> list[str]:
    if value is None:
        return []
    return [item.strip() for item in value.split(",") if item.strip()]


def union(
    operator: list[str], plan: list[str], placement: Placement
) -> tuple[list[str], list[str]]:
    """The operator's items in their order plus the plan's missing ones (after them, or before
    them for `prepend`, in the plan's order); returns (all items, the items added)."""
    added = [item for item in dict.fromkeys(plan) if item not in operator]
    merged = [*operator, *added] if placement == "append" else [*added, *operator]
    return merged, added


def _merge_list(
    doc: IniDoc,
    section: str,
    key: str,
    plan_items: list[str],
    markers: list[Marker],
    separator: str,
) -> None:
    entries = doc.entries(section, key)
    current = _split_list(entries[-1].value) if entries else _other_name_items(doc, section, key)
    before = items_of(markers, section, key, "added")
    operator = [item for item in current if item not in before]
    merged, added = union(operator, plan_items, LIST_OPTIONS.get((section, key), "append"))
    if not merged:
        for entry in entries:
            doc.blocks.remove(entry)
        return
    if entries and _split_list(entries[-1].value) == merged:
        block = entries[-1]
        for entry in entries[:-1]:
            doc.blocks.remove(entry)
    else:
        block = set_lines(doc, section, key, [",".join(merged)], separator)
    if added:
        block.before = [doc.line(marker_line(key, "added", added, _ADDED_WHY))]


def _other_name_items(doc: IniDoc, section: str, key: str) -> list[str]:
    """The items of a list option set only under another of its names (oslo.config reads that
    one while this one is unset): they are the operator's list."""
    for other in other_names(section, key):
        entries = doc.entries(*other)
        if entries:
            return _split_list(entries[-1].value)
    return []


def _merge_multi(
    doc: IniDoc,
    section: str,
    key: str,
    values: tuple[str, ...],
    owned: list[str],
    identity: Identity,
    separator: str,
) -> None:
    plan_ids = [identity(v) for v in values]
    ours = set(owned).union(*plan_ids)
    for other in other_names(section, key):
        _drop_under_other_name(doc, other, set().union(*plan_ids), identity, separator)
    placed: dict[int, Block] = {}
    for entry in doc.entries(section, key):
        ids = identity(entry.value or "")
        if not ours.intersection(ids):
            continue
        if set(ids) - ours and _is_json_list(entry.value):
            _keep_operator_items(doc, entry, ours, identity, separator)
            continue
        match = next(
            (i for i, v in enumerate(plan_ids) if i not in placed and set(v) & set(ids)), None
        )
        if match is None:
            doc.blocks.remove(entry)
            continue
        placed[match] = entry
        if entry.value != values[match] or len(entry.lines) != 1:
            entry.lines = [doc.line(f"{key}{separator}{values[match]}")]
            entry.value = values[match]
    remaining = doc.entries(section, key)
    anchor: Block | None = (
        max(placed.values(), key=doc.blocks.index)
        if placed
        else (remaining[-1] if remaining else None)
    )
    for index, value in enumerate(values):
        if index in placed:
            continue
        block = Block("entry", [doc.line(f"{key}{separator}{value}")], section, key, value)
        if anchor is not None:
            at = doc.blocks.index(anchor) + 1
        elif doc.has_section(section):
            at = doc.section_end(section)
        else:
            at = doc.append_section(section)
        doc.blocks.insert(at, block)
        placed[index] = anchor = block
    if placed:
        first = min(placed.values(), key=doc.blocks.index)
        owns = list(dict.fromkeys(i for ids in plan_ids for i in ids))
        first.before = [doc.line(marker_line(key, "owns", owns, _OWNS_WHY))]


def _drop_under_other_name(
    doc: IniDoc, where: tuple[str, str], plan_ids: set[str], identity: Identity, separator: str
) -> None:
    """Entries of the plan's identities under another name of the option go (oslo.config would
    read them beside the plan's: two aliases of one name that disagree stop nova); the
    operator's other entries there stay."""
    for entry in doc.entries(*where):
        ids = identity(entry.value or "")
        if not plan_ids.intersection(ids):
            continue
        if set(ids) - plan_ids and _is_json_list(entry.value):
            _keep_operator_items(doc, entry, plan_ids, identity, separator)
        else:
            doc.blocks.remove(entry)


def _is_json_list(value: str | None) -> bool:
    try:
        return isinstance(json.loads(value or ""), list)
    except ValueError:
        return False


def _keep_operator_items(
    doc: IniDoc, entry: Block, ours: set[str], identity: Identity, separator: str
) -> None:
    """Take gpuslice's items out of an operator's JSON-list entry, keeping the rest."""
    items = json.loads(entry.value or "[]")
    kept = [item for item in items if not ours.intersection(identity(json.dumps(item)))]
    value = json.dumps(kept, separators=(", ", ": "))
    entry.lines = [doc.line(f"{entry.key}{separator}{value}")]
    entry.value = value
