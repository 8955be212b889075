"""Reading what `apply` and `audit` compare the cloud with: a fleet file or cloud-objects.json.

`parse_cloud_objects(data, source)` is pure; `load_desired(path)` reads the file and, for a fleet
file, plans it with the core planner.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpuslice import inputs
from gpuslice.bounds import MAX_INT, MAX_NAME, is_resource_class
from gpuslice.errors import InputError
from gpuslice.inputs import quote
from gpuslice.plan.types import (
    Aggregate,
    CloudObjects,
    Flavor,
    PciAlias,
    Provider,
    RegisteredLimit,
)

_TOP_KEYS = {
    "resource_classes",
    "traits",
    "aggregates",
    "flavors",
    "provider_traits",
    "registered_limits",
}
_LIMIT_KEYS = {"resource_name", "default_limit", "description"}
_FLAVOR_KEYS = {"name", "vcpus", "ram", "disk", "is_public", "extra_specs", "projects"}
_AGGREGATE_KEYS = {"name", "metadata", "hosts"}
_SPEC_KEY = re.compile(r"[a-zA-Z0-9_:. -]{1,255}")
_MAX_DIGITS = 40


@dataclass(frozen=True)
class Desired:
    """The cloud objects to hold, and the plan's providers where a fleet was given."""

    cloud: CloudObjects
    providers: tuple[Provider, ...] = ()
    source: str = ""
    aliases: tuple[PciAlias, ...] = ()


def _keys(item: Mapping[str, Any], allowed: set[str], where: str, source: str) -> None:
    unknown = sorted(set(item) - allowed)
    if unknown:
        import difflib

        hints = [difflib.get_close_matches(k, sorted(allowed), n=1) for k in unknown]
        said = ", ".join(
            f"{k} (did you mean {h[0]}?)" if h else k for k, h in zip(unknown, hints, strict=True)
        )
        raise InputError(f"unknown key(s) {said}", source=source, field=where)


def _str_list(value: Any, where: str, source: str) -> tuple[str, ...]:
    """A JSON list of names (see `_name`)."""
    if not isinstance(value, list):
        raise InputError("must be a list of strings", source=source, field=where)
    return tuple(_name(v, f"{where}[{i}]", source) for i, v in enumerate(value))


def _name(value: Any, where: str, source: str) -> str:
    """A name as nova's API takes it: a string of 1 to 255 printable characters, no leading or
    trailing blank (nova's `name` format)."""
    if not isinstance(value, str):
        raise InputError("must be a string", source=source, field=where)
    if not 1 <= len(value) <= MAX_NAME or not value.isprintable() or value != value.strip():
        msg = "must be 1 to 255 printable characters without leading or trailing blanks"
        raise InputError(msg, source=source, field=where)
    return value


def _names(value: Any, where: str, source: str, *, custom: bool) -> tuple[str, ...]:
    """Resource class or trait names, matched whole by Placement's pattern (gpuslice.bounds)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError("must be a list of strings", source=source, field=where)
    for name in value:
        if not is_resource_class(name, custom=custom):
            rule = "CUSTOM_ and then A-Z, 0-9, _" if custom else "A-Z, 0-9, _"
            msg = f"{quote(name)} is not a name Placement accepts ({rule}, 255 at most)"
            raise InputError(msg, source=source, field=where)
    return tuple(value)


def _int(item: Mapping[str, Any], key: str, where: str, source: str, low: int) -> int:
    """A JSON whole number from `low` to MAX_INT, as nova's flavor API takes it (no boolean)."""
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_INT:
        msg = f"must be a whole number from {low} to {MAX_INT}"
        raise InputError(msg, source=source, field=f"{where}.{key}")
    return value


def _bool(item: Mapping[str, Any], key: str, where: str, source: str) -> bool:
    """A JSON boolean (`true`/`false`); the string "false" is an error, not true."""
    value = item.get(key, False)
    if not isinstance(value, bool):
        msg = f"must be true or false (a JSON boolean, not {type(value).__name__})"
        raise InputError(msg, source=source, field=f"{where}.{key}")
    return value


def _list(data: Mapping[str, Any], key: str, where: str, source: str, of: str = "") -> list[Any]:
    """`data[key]`, a JSON list (empty when absent; null is an error)."""
    value = data.get(key, [])
    if not isinstance(value, list):
        raise InputError(f"must be a list{of}", source=source, field=where)
    return value


def _named_object(item: Any, keys: set[str], where: str, source: str) -> None:
    """`item` is a JSON object with a string `name` and only `keys`."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise InputError("must be an object with a name", source=source, field=where)
    _keys(item, keys, where, source)
    _name(item["name"], f"{where}.name", source)


def _mapping(item: dict[str, Any], key: str, where: str, source: str) -> dict[Any, Any]:
    """`item[key]` (empty when absent), which must be a JSON object."""
    value = item.get(key, {})
    if not isinstance(value, dict):
        raise InputError("must be an object", source=source, field=f"{where}.{key}")
    return value


def _specs(
    item: dict[str, Any], key: str, where: str, source: str, *, numbers: bool
) -> dict[str, str]:
    """Flavor extra specs or aggregate metadata as nova's API takes them: keys of 1 to 255 of
    `a-zA-Z0-9-_:. `, values strings of at most 255 characters (numbers too where `numbers`)."""
    specs: dict[str, str] = {}
    for name, value in _mapping(item, key, where, source).items():
        field = f"{where}.{key}.{name}"
        if not _SPEC_KEY.fullmatch(name):
            msg = f"key {quote(name)}: write 1 to 255 of A-Z a-z 0-9 - _ : . and space"
            raise InputError(msg, source=source, field=f"{where}.{key}")
        plain = isinstance(value, str) or (
            numbers and isinstance(value, int | float) and not isinstance(value, bool)
        )
        if not plain:
            kinds = "a string or a number" if numbers else "a string"
            raise InputError(f"must be {kinds}", source=source, field=field)
        text = str(value)
        if len(text) > MAX_NAME or not text.isprintable():
            msg = "must be at most 255 printable characters"
            raise InputError(msg, source=source, field=field)
        specs[name] = text
    return specs


def parse_cloud_objects(data: Any, source: str) -> CloudObjects:
    """Check and read cloud-objects.json's structure (DESIGN.md) into `CloudObjects`.

    Types are strict: a boolean is `true`/`false`, sizes are whole numbers within nova's bounds,
    lists and objects are what the format says (`null` is an error, never an empty list).
    """
    if not isinstance(data, dict):
        raise InputError("must be a JSON object", source=source)
    _keys(data, _TOP_KEYS, "(top level)", source)
    flavors = []
    for i, item in enumerate(_list(data, "flavors", "flavors", source)):
        where = f"flavors[{i}]"
        _named_object(item, _FLAVOR_KEYS, where, source)
        flavors.append(
            Flavor(
                name=item["name"],
                vcpus=_int(item, "vcpus", where, source, 1),
                ram=_int(item, "ram", where, source, 1),
                disk=_int(item, "disk", where, source, 0),
                is_public=_bool(item, "is_public", where, source),
                extra_specs=_specs(item, "extra_specs", where, source, numbers=True),
                projects=_str_list(item.get("projects", []), f"{where}.projects", source),
            )
        )
    aggregates = []
    for i, item in enumerate(_list(data, "aggregates", "aggregates", source)):
        where = f"aggregates[{i}]"
        _named_object(item, _AGGREGATE_KEYS, where, source)
        aggregates.append(
            Aggregate(
                name=item["name"],
                metadata=_specs(item, "metadata", where, source, numbers=False),
                hosts=_str_list(item.get("hosts", []), f"{where}.hosts", source),
            )
        )
    limits = []
    for i, item in enumerate(_list(data, "registered_limits", "registered_limits", source)):
        where = f"registered_limits[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("resource_name"), str):
            raise InputError("must be an object with a resource_name", source=source, field=where)
        _keys(item, _LIMIT_KEYS, where, source)
        description = item.get("description", "")
        if not isinstance(description, str) or len(description) > MAX_NAME:
            msg = "must be a string of at most 255 characters"
            raise InputError(msg, source=source, field=f"{where}.description")
        limits.append(
            RegisteredLimit(
                _name(item["resource_name"], f"{where}.resource_name", source),
                _int(item, "default_limit", where, source, 0),
                description,
            )
        )
    provider_traits = data.get("provider_traits", {})
    if not isinstance(provider_traits, dict):
        raise InputError("must be an object", source=source, field="provider_traits")
    return CloudObjects(
        resource_classes=_names(
            _list(data, "resource_classes", "resource_classes", source, " of strings"),
            "resource_classes",
            source,
            custom=True,
        ),
        traits=_names(
            _list(data, "traits", "traits", source, " of strings"), "traits", source, custom=True
        ),
        aggregates=tuple(aggregates),
        flavors=tuple(flavors),
        provider_traits={
            _name(k, "provider_traits", source): _names(
                v, f"provider_traits.{k}", source, custom=False
            )
            for k, v in provider_traits.items()
        },
        registered_limits=tuple(limits),
    )


def _json(text: str, source: str) -> Any:
    """JSON `text`, refusing what Python's reader would turn into a traceback or a non-number:
    numbers of more than 40 digits, NaN and Infinity, and nesting deeper than Python recurses."""

    def whole(digits: str) -> int:
        if len(digits) > _MAX_DIGITS:
            msg = f"a number of {len(digits)} digits; no value here needs more than 20"
            raise InputError(msg, source=source)
        return int(digits)

    def constant(name: str) -> Any:
        raise InputError(f"{name} is not a number JSON allows", source=source)

    try:
        return json.loads(text, parse_int=whole, parse_constant=constant)
    except json.JSONDecodeError as error:
        raise InputError(f"not JSON: {error.msg}", source=source, line=error.lineno) from None
    except RecursionError:
        raise InputError("not JSON gpuslice reads: nested too deep", source=source) from None


def load_desired(path: Path) -> Desired:
    """Read a cloud-objects.json, or plan a fleet file (YAML) and take its cloud objects."""
    source = str(path)
    if path.suffix == ".json":
        data = _json(inputs.read_text(path, inputs.CLOUD_OBJECTS), source)
        return Desired(parse_cloud_objects(data, source), (), source)
    return _plan_fleet(path)


def _plan_fleet(path: Path) -> Desired:
    from gpuslice.fleetfile import load_fleet
    from gpuslice.plan import make_plan

    plan = make_plan(load_fleet(path))
    return Desired(plan.cloud, plan.providers, str(path), plan.aliases)
