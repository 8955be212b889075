"""Check rendered nova.conf text against the options a nova registers (oslo.config).

Pure: the registry is passed in as nova's own `list_opts()` answer (group -> options), so the
rules are tested without nova and applied with it. An unknown section or option, or a value
the option's type refuses, is a problem naming the file and line; an option written under a
deprecated name is a warning.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gpuslice.twin.ini import ConfEntry


@dataclass(frozen=True)
class ConfFinding:
    """One problem (or warning) with one line of a rendered file."""

    entry: ConfEntry
    text: str
    fatal: bool = True

    def __str__(self) -> str:
        return f"{self.entry.where}: [{self.entry.section}] {self.entry.name}: {self.text}"


def registry_from_list_opts(listed: Iterable[tuple[Any, Sequence[Any]]]) -> dict[str, list[Any]]:
    """Group name -> options, from oslo's `list_opts()` shape (group is a name or an OptGroup)."""
    registry: dict[str, list[Any]] = {}
    for group, opts in listed:
        name = group if isinstance(group, str) or group is None else group.name
        registry.setdefault(name or "DEFAULT", []).extend(opts)
    return registry


def _deprecated_names(opt: Any, group: str) -> set[tuple[str, str]]:
    names: set[tuple[str, str]] = set()
    for old in getattr(opt, "deprecated_opts", None) or ():
        old_group = old.group or group
        names.add((old_group, old.name or opt.name))
    return names


ValueCheck = Callable[[str], None]


def check_entries(
    entries: Sequence[ConfEntry],
    registry: Mapping[str, Sequence[Any]],
    *,
    what: str = "nova",
    value_checks: Mapping[tuple[str, str], ValueCheck] | None = None,
) -> list[ConfFinding]:
    """Every finding for `entries` against `registry` (group name -> oslo.config options).

    `value_checks` maps (section, option) to a parser that raises on a value the service
    would refuse when it reads it (nova's own PCI alias and device_spec parsers, say).
    """
    by_name = {group: {opt.name: opt for opt in opts} for group, opts in registry.items()}
    deprecated: dict[tuple[str, str], tuple[str, Any]] = {}
    for group, opts in registry.items():
        for opt in opts:
            for old in _deprecated_names(opt, group):
                deprecated[old] = (group, opt)
    findings: list[ConfFinding] = []
    seen: dict[tuple[str, str], ConfEntry] = {}
    for entry in entries:
        key = (entry.section, entry.name)
        opt = by_name.get(entry.section, {}).get(entry.name)
        if opt is None and key in deprecated:
            group, opt = deprecated[key]
            findings.append(
                ConfFinding(
                    entry,
                    f"deprecated name; {what} reads it as [{group}] {opt.name}",
                    fatal=False,
                )
            )
        if opt is None:
            findings.append(ConfFinding(entry, _unknown(entry, by_name, what)))
            continue
        if key in seen and not getattr(opt, "multi", False):
            first = seen[key]
            findings.append(
                ConfFinding(
                    entry, f"set twice (first at line {first.line}); only one value is read"
                )
            )
        seen.setdefault(key, entry)
        try:
            opt.type(entry.value)
        except (ValueError, TypeError) as error:
            findings.append(ConfFinding(entry, f"bad value {entry.value!r}: {error}"))
            continue
        check = (value_checks or {}).get(key)
        if check is None and key in deprecated:
            check = (value_checks or {}).get((deprecated[key][0], opt.name))
        if check is not None:
            try:
                check(entry.value)
            except Exception as error:  # whatever the service's parser raises
                text = " ".join(str(error).split()) or type(error).__name__
                findings.append(ConfFinding(entry, f"{what} refuses the value: {text}"))
    return findings


def _unknown(entry: ConfEntry, by_name: Mapping[str, Mapping[str, Any]], what: str) -> str:
    if entry.section not in by_name:
        hint = difflib.get_close_matches(entry.section, list(by_name), n=1)
        tail = f"; did you mean [{hint[0]}]?" if hint else ""
        return f"unknown section [{entry.section}] for {what}{tail}"
    known = list(by_name[entry.section])
    hint = difflib.get_close_matches(entry.name, known, n=1)
    tail = f"; did you mean {hint[0]}?" if hint else ""
    return f"unknown option in [{entry.section}] for {what}{tail}"


def canonical(
    entries: Sequence[ConfEntry], registry: Mapping[str, Sequence[Any]]
) -> list[ConfEntry]:
    """`entries` with deprecated names replaced by the names the registry reads them as.

    Entries the registry does not know are left out (`check_entries` reports them).
    """
    by_name = {group: {opt.name for opt in opts} for group, opts in registry.items()}
    deprecated: dict[tuple[str, str], tuple[str, str]] = {}
    for group, opts in registry.items():
        for opt in opts:
            for old in _deprecated_names(opt, group):
                deprecated[old] = (group, opt.name)
    out: list[ConfEntry] = []
    for entry in entries:
        if entry.name in by_name.get(entry.section, set()):
            out.append(entry)
        elif (entry.section, entry.name) in deprecated:
            section, name = deprecated[(entry.section, entry.name)]
            out.append(ConfEntry(entry.path, entry.line, section, name, entry.value))
    return out
