"""A release's PCI alias schema, read with ast from `nova/pci/request.py` (`_ALIAS_SCHEMA`).

The schema forbids keys it does not list (`additionalProperties: False`), and its list has
grown (`numa_policy` from Stein, `resource_class`/`traits` from 2023.1, `live_migratable` from
2025.1). `device_type` takes nova's PciDeviceType constants (`nova/objects/fields.py`) that the
schema names.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from dataclasses import dataclass

from gpuslice.releasecheck.options import parse_quietly

REQUEST = "nova/pci/request.py"
DEVSPEC = "nova/pci/devspec.py"
# device_spec keys gpuslice renders that only some releases give a meaning (elsewhere a key
# nova does not know is kept as a plain tag and does nothing).
MEANINGFUL_TAGS = frozenset({"managed"})
FIELDS = "nova/objects/fields.py"


@dataclass(frozen=True)
class AliasSchema:
    """The keys an alias may have, those it must have, and the device types it accepts."""

    keys: frozenset[str]
    required: frozenset[str]
    device_types: frozenset[str]


def alias_schema(sources: Mapping[str, str]) -> AliasSchema | None:
    """The release's alias schema, or None when its request.py has none."""
    text = sources.get(REQUEST)
    if text is None:
        return None
    tree = parse_quietly(text, REQUEST)
    assigned = {
        node.targets[0].id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
    }
    schema = assigned.get("_ALIAS_SCHEMA")
    if not isinstance(schema, ast.Dict):
        return None
    properties = _entry(schema, "properties")
    required = _entry(schema, "required")
    if not isinstance(properties, ast.Dict):
        return None
    keys = frozenset(k.value for k in properties.keys if isinstance(k, ast.Constant))
    device_type = _entry(properties, "device_type")
    enum = _entry(device_type, "enum") if isinstance(device_type, ast.Dict) else None
    constants = _device_type_constants(sources.get(FIELDS, ""))
    return AliasSchema(
        keys=frozenset(str(k) for k in keys),
        required=frozenset(ast.literal_eval(required)) if required is not None else frozenset(),
        device_types=_device_types(enum, assigned, constants),
    )


def _entry(node: ast.Dict, key: str) -> ast.expr | None:
    for k, v in zip(node.keys, node.values, strict=True):
        if isinstance(k, ast.Constant) and k.value == key:
            return v
    return None


def _device_type_constants(text: str) -> dict[str, str]:
    """PciDeviceType's constants (`SRIOV_PF` -> `type-PF`), and `ALL` as a joined marker."""
    if not text:
        return {}
    for node in parse_quietly(text, FIELDS).body:
        if isinstance(node, ast.ClassDef) and node.name == "PciDeviceType":
            return {
                stmt.targets[0].id: stmt.value.value
                for stmt in node.body
                if isinstance(stmt, ast.Assign)
                and isinstance(stmt.targets[0], ast.Name)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            }
    return {}


def _device_types(
    enum: ast.expr | None, assigned: Mapping[str, ast.expr], constants: Mapping[str, str]
) -> frozenset[str]:
    if isinstance(enum, ast.Name):
        enum = assigned.get(enum.id)
    if isinstance(enum, ast.Call) and enum.args:  # list(obj_fields.PciDeviceType.ALL)
        return frozenset(constants.values())
    if isinstance(enum, (ast.List, ast.Tuple)):
        found: set[str] = set()
        for element in enum.elts:
            if isinstance(element, ast.Attribute) and element.attr in constants:
                found.add(constants[element.attr])
            elif isinstance(element, ast.Constant) and isinstance(element.value, str):
                found.add(element.value)
        return frozenset(found)
    return frozenset()


def alias_problem(value: str, schema: AliasSchema) -> str | None:
    """Why one alias line would not pass the release's schema, or None.

    Rules: one JSON object per line; only the schema's keys; its required keys; a device_type
    the schema accepts.
    """
    try:
        alias = json.loads(value)
    except ValueError as error:
        return f"not JSON: {error}"
    if not isinstance(alias, dict):
        return "not one JSON object"
    unknown = sorted(set(alias) - schema.keys)
    if unknown:
        return f"keys this release's alias schema forbids: {', '.join(unknown)}"
    missing = sorted(schema.required - set(alias))
    if missing:
        return f"missing {', '.join(missing)}"
    device_type = alias.get("device_type")
    if device_type is not None and device_type not in schema.device_types:
        return f"device_type {device_type!r} is not one of {', '.join(sorted(schema.device_types))}"
    return None


def device_spec_tags(sources: Mapping[str, str]) -> frozenset[str]:
    """The device_spec tags the release copies onto each matched device for the driver: the
    `spec_tags` list of `PciDeviceSpec.enhanced_pci_device_with_spec_tags` (nova 31+: managed,
    live_migratable); empty when its devspec.py has none."""
    text = sources.get(DEVSPEC)
    if text is None:
        return frozenset()
    for node in ast.walk(parse_quietly(text, DEVSPEC)):
        if isinstance(node, ast.FunctionDef) and node.name == "enhanced_pci_device_with_spec_tags":
            for stmt in ast.walk(node):
                if (
                    isinstance(stmt, ast.Assign)
                    and isinstance(stmt.targets[0], ast.Name)
                    and stmt.targets[0].id == "spec_tags"
                    and isinstance(stmt.value, (ast.List, ast.Tuple))
                ):
                    return frozenset(
                        e.value
                        for e in stmt.value.elts
                        if isinstance(e, ast.Constant) and isinstance(e.value, str)
                    )
    return frozenset()


def spec_problem(value: str, tags: frozenset[str]) -> str | None:
    """Why one device_spec line would not do what gpuslice means on the release, or None.

    Rules: one JSON object (or a list of them, which nova also reads); a tag gpuslice gives a
    meaning (`managed`) must be one the release acts on, not a plain label.
    """
    try:
        spec = json.loads(value)
    except ValueError as error:
        return f"not JSON: {error}"
    for item in spec if isinstance(spec, list) else [spec]:
        if not isinstance(item, dict):
            return "not a JSON object"
        ignored = sorted((set(item) & MEANINGFUL_TAGS) - tags)
        if ignored:
            return f"this release keeps {', '.join(ignored)} as a plain tag: it has no effect"
    return None
