"""What kind of option an INI option is to the merge, and how its entries are identified.

- list options gpuslice extends, and where the items it adds go (`LIST_OPTIONS`);
- multi-valued options whose entries are JSON, and the identity of an entry (`MULTI_OPTIONS`):
  an alias by its name; a passthrough spec by its address, else `vendor_id:product_id`; a value
  nothing narrower identifies, by the whole value;
- the names one option has had across releases (`FAMILIES`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Literal

Placement = Literal["append", "prepend"]

LIST_OPTIONS: dict[tuple[str, str], Placement] = {
    ("filter_scheduler", "enabled_filters"): "append",
    ("DEFAULT", "scheduler_default_filters"): "append",
    ("ml2", "mechanism_drivers"): "prepend",
}
"""List options gpuslice extends, and where the items it adds go."""


def _alias_identity(value: str) -> tuple[str, ...]:
    names = [item["name"] for item in _json_items(value) if isinstance(item.get("name"), str)]
    return tuple(str(name) for name in names) or whole_value(value)


def _spec_identity(value: str) -> tuple[str, ...]:
    ids: list[str] = []
    for item in _json_items(value):
        if "address" in item:
            address = item["address"]
            ids.append(
                f"address={address.lower()}"
                if isinstance(address, str)
                else f"address={json.dumps(address, sort_keys=True)}"
            )
        elif "vendor_id" in item or "product_id" in item:
            vendor = str(item.get("vendor_id", "*")).lower()
            product = str(item.get("product_id", "*")).lower()
            ids.append(f"{vendor}:{product}")
    return tuple(ids) or whole_value(value)


def whole_value(value: str) -> tuple[str, ...]:
    """The identity of a value nothing narrower identifies: the value itself."""
    return (f"value={value.strip()}",)


def _json_items(value: str) -> list[dict[str, object]]:
    try:
        data = json.loads(value)
    except ValueError:
        return []
    items = data if isinstance(data, list) else [data]
    return [item for item in items if isinstance(item, dict)]


Identity = Callable[[str], tuple[str, ...]]

MULTI_OPTIONS: dict[tuple[str, str], Identity] = {
    ("pci", "alias"): _alias_identity,
    ("DEFAULT", "pci_alias"): _alias_identity,
    ("pci", "device_spec"): _spec_identity,
    ("pci", "passthrough_whitelist"): _spec_identity,
    ("DEFAULT", "pci_passthrough_whitelist"): _spec_identity,
}
"""Multi-valued options whose entries are JSON, and how an entry is identified."""

FAMILIES: tuple[frozenset[tuple[str, str]], ...] = (
    frozenset({("pci", "alias"), ("DEFAULT", "pci_alias")}),
    frozenset(
        {
            ("pci", "device_spec"),
            ("pci", "passthrough_whitelist"),
            ("DEFAULT", "pci_passthrough_whitelist"),
        }
    ),
    frozenset({("filter_scheduler", "enabled_filters"), ("DEFAULT", "scheduler_default_filters")}),
)
"""Names of one option across releases. oslo.config reads a multi-valued option's entries under
every name together, and a list option under its older name when the newer one is not set."""


def other_names(section: str, key: str) -> list[tuple[str, str]]:
    """The other names of `[section] key` (its older or newer spellings), in a stable order."""
    for family in FAMILIES:
        if (section, key) in family:
            return sorted(family - {(section, key)})
    return []
