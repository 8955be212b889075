"""gpuslice's marker comments in a merged INI file: what a merge added, owns or took.

A marker is one comment line directly above the option it speaks of:

    # gpuslice: enabled_filters added ["PciPassthroughFilter"] (a rerun takes back only these)
    # gpuslice: alias owns ["gpu"] (a rerun replaces or removes only these entries)
    # gpuslice: cpu_shared_set took ["30-31"] (held for GPU VMs; ...)

`added`: items gpuslice put into a list option; `owns`: identities of the entries of a
multi-valued option gpuslice wrote; `took`: CPUs gpuslice removed from an operator's CPU set.
A rerun reads them back first, so it can undo exactly its own changes before applying the plan.
The items are a JSON list of strings; a comment that does not parse is not a marker and is kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from gpuslice.render.inidoc import Block, IniDoc

Verb = Literal["added", "owns", "took"]

_MARKER = re.compile(r"^#\s*gpuslice: (?P<key>[A-Za-z0-9_.-]+) (?P<verb>added|owns|took) (?=\[)")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Marker:
    """One marker read back: the option's section and key, the verb and its items."""

    section: str | None
    key: str
    verb: Verb
    items: tuple[str, ...]


def marker_line(key: str, verb: Verb, items: list[str], why: str) -> str:
    """The text of a marker comment (without line end)."""
    return f"# gpuslice: {key} {verb} {json.dumps(items)} ({why})"


def read_marker(block: Block) -> Marker | None:
    """The marker `block` holds, or None when it is not one of gpuslice's markers."""
    if block.kind != "other" or len(block.lines) != 1:
        return None
    body = block.lines[0].rstrip("\r\n")
    match = _MARKER.match(body)
    if match is None:
        return None
    try:
        items, _ = _DECODER.raw_decode(body, match.end())
    except ValueError:
        return None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        return None
    verb: Verb = match["verb"]  # type: ignore[assignment]
    return Marker(block.section, match["key"], verb, tuple(items))


def take_markers(doc: IniDoc) -> list[Marker]:
    """Remove every marker comment from `doc` and return them (the merge writes new ones)."""
    found: list[Marker] = []
    kept: list[Block] = []
    for block in doc.blocks:
        marker = read_marker(block)
        if marker is None:
            kept.append(block)
        else:
            found.append(marker)
    doc.blocks = kept
    return found


def items_of(markers: list[Marker], section: str, key: str, verb: Verb) -> list[str]:
    """Every item the markers for `[section] key` record under `verb`, in order, once each."""
    items: list[str] = []
    for marker in markers:
        if (marker.section, marker.key, marker.verb) == (section, key, verb):
            items.extend(i for i in marker.items if i not in items)
    return items
