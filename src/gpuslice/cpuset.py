"""CPU id sets as nova writes them (`0-21,24`): parse and format, never count by hand."""

from __future__ import annotations

from collections.abc import Iterable

from gpuslice.bounds import MAX_CPUS
from gpuslice.errors import InputError


def parse_cpuset(
    text: str, *, source: str | None = None, field: str | None = None
) -> tuple[int, ...]:
    """Read `0-3,8,10-11` into sorted, unique CPU ids.

    Rules: ranges are inclusive, a range must not run backwards, ids are from 0 to
    `MAX_CPUS - 1` (checked before a range is expanded), and an id may not be listed twice.
    """
    ids: list[int] = []
    for part in str(text).replace(" ", "").split(","):
        if not part:
            raise InputError(f"empty item in CPU set {text!r}", source=source, field=field)
        low_text, dash, high_text = part.partition("-")
        try:
            low = int(low_text)
            high = int(high_text) if dash else low
        except ValueError:
            msg = f"CPU set {text!r} has {part!r}; write ids and ranges such as 0-21,24"
            raise InputError(msg, source=source, field=field) from None
        if low < 0 or high < low:
            msg = f"CPU range {part!r} in {text!r} runs backwards or below 0"
            raise InputError(msg, source=source, field=field)
        if high >= MAX_CPUS:
            msg = f"CPU id {high} in {part!r} is above {MAX_CPUS - 1}, the most Linux numbers"
            raise InputError(msg, source=source, field=field)
        ids.extend(range(low, high + 1))
        if len(ids) > MAX_CPUS:
            break  # more ids than there can be distinct ones: some id repeats
    if len(ids) != len(set(ids)):
        raise InputError(f"CPU set {text!r} lists a CPU twice", source=source, field=field)
    return tuple(sorted(ids))


def format_cpuset(ids: Iterable[int]) -> str:
    """Write CPU ids as nova's compact form: consecutive ids become `a-b`, items joined by `,`."""
    ordered = sorted(set(ids))
    parts: list[str] = []
    start = prev = None
    for cpu in ordered:
        if start is None:
            start = prev = cpu
        elif prev is not None and cpu == prev + 1:
            prev = cpu
        else:
            parts.append(_span(start, prev))
            start = prev = cpu
    if start is not None:
        parts.append(_span(start, prev))
    return ",".join(parts)


def _span(start: int, end: int | None) -> str:
    return str(start) if end is None or end == start else f"{start}-{end}"
