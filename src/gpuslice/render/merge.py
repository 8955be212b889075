"""Merge planned options into an operator's existing INI file, keeping every other line.

Rules: an option the plan sets replaces the file's line(s) for it in place (a multi-valued
option's values go where its first line was); an option the file lacks goes at the end of its
section; a missing section is appended. Comments, blank lines and other options stay as they
are, so merging twice changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gpuslice.plan.types import Option
from gpuslice.render.ini import option_lines, ordered_sections

_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]+)\]\s*$")


def _option_key(line: str) -> str | None:
    stripped = line.strip()
    if not stripped or stripped[0] in "#;" or line[:1] in " \t":
        return None
    for separator in ("=", ":"):
        if separator in stripped:
            return stripped.split(separator, 1)[0].strip()
    return None


def merge_ini(existing: str, options: Iterable[Option], *, systemd: bool = False) -> str:
    """`existing` with `options` merged in (see the module's rules)."""
    separator = "=" if systemd else " = "
    lines = existing.splitlines()
    for section, planned in ordered_sections(options).items():
        for option in planned:
            lines = _merge_option(lines, section, option, separator)
    text = "\n".join(lines)
    return text + "\n" if text else text


def _section_spans(lines: list[str], section: str) -> list[tuple[int, int]]:
    """(first line after the header, end) for each occurrence of `section`."""
    spans: list[tuple[int, int]] = []
    current: str | None = None
    start = 0
    for index, line in enumerate(lines):
        match = _SECTION.match(line)
        if match:
            if current == section:
                spans.append((start, index))
            current, start = match["name"].strip(), index + 1
    if current == section:
        spans.append((start, len(lines)))
    return spans


def _merge_option(lines: list[str], section: str, option: Option, separator: str) -> list[str]:
    new = option_lines(option, separator)
    spans = _section_spans(lines, section)
    matches = [
        index
        for start, end in spans
        for index in range(start, end)
        if _option_key(lines[index]) == option.name
    ]
    if matches:
        first = matches[0]
        kept = [line for index, line in enumerate(lines) if index not in matches[1:]]
        return kept[:first] + new + kept[first + 1 :]
    if spans:
        start, end = spans[-1]
        insert_at = end
        while insert_at > start and not lines[insert_at - 1].strip():
            insert_at -= 1
        return lines[:insert_at] + new + lines[insert_at:]
    tail = lines + ([""] if lines and lines[-1].strip() else [])
    return [*tail, f"[{section}]", *new]
