"""INI text for nova, neutron and systemd files from planned options."""

from __future__ import annotations

from collections.abc import Iterable

from gpuslice.plan.types import Option

HEADER = "# Managed by gpuslice: {what}.\n"


def ordered_sections(options: Iterable[Option]) -> dict[str, list[Option]]:
    """Options grouped by section: DEFAULT first, then sections in the order the plan set them."""
    sections: dict[str, list[Option]] = {}
    for option in options:
        sections.setdefault(option.section, []).append(option)
    if "DEFAULT" in sections:
        sections = {"DEFAULT": sections.pop("DEFAULT"), **sections}
    return sections


def option_lines(option: Option, separator: str = " = ") -> list[str]:
    """The lines of one option: the option once per value when the value is a tuple."""
    values = option.value if isinstance(option.value, tuple) else (option.value,)
    return [f"{option.name}{separator}{value}" for value in values]


def render_ini(options: Iterable[Option], what: str, *, systemd: bool = False) -> str:
    """An INI file with one section per group; each option follows a comment giving its rule.

    A rule shared by consecutive options of a section is written once, above the first.

    systemd units use `Key=Value`; oslo.config files use `key = value`.
    """
    separator = "=" if systemd else " = "
    lines = [HEADER.format(what=what).rstrip("\n")]
    for section, options_in_section in ordered_sections(options).items():
        lines.append("")
        lines.append(f"[{section}]")
        previous_rule = None
        for option in options_in_section:
            if option.rule != previous_rule:
                lines.append(f"# {option.rule}")
                previous_rule = option.rule
            lines.extend(option_lines(option, separator))
    return "\n".join(lines) + "\n"
