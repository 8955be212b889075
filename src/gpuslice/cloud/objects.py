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

from gpuslice.errors import InputError
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
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError("must be a list of strings", source=source, field=where)
    return tuple(value)


_CUSTOM_NAME = re.compile(r"^CUSTOM_[A-Z0-9_]{1,248}$")
_ANY_NAME = re.compile(r"^[A-Z0-9_]{1,255}$")


def _names(value: Any, where: str, source: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
    names = _str_list(value, where, source)
    for name in names:
        if not pattern.match(name):
            rule = "CUSTOM_ and then A-Z, 0-9, _" if pattern is _CUSTOM_NAME else "A-Z, 0-9, _"
            msg = f"{name!r} is not a name Placement accepts ({rule})"
            raise InputError(msg, source=source, field=where)
    return names


def _int(item: Mapping[str, Any], key: str, where: str, source: str) -> int:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError("must be a whole number >= 0", source=source, field=f"{where}.{key}")
    return value


def _named_object(item: Any, keys: set[str], where: str, source: str) -> None:
    """`item` is a JSON object with a string `name` and only `keys`."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise InputError("must be an object with a name", source=source, field=where)
    _keys(item, keys, where, source)


def _mapping(item: dict[str, Any], key: str, where: str, source: str) -> dict[Any, Any]:
    """`item[key]` (empty when absent), which must be a JSON object."""
    value = item.get(key, {})
    if not isinstance(value, dict):
        raise InputError("must be an object", source=source, field=f"{where}.{key}")
    return value


def parse_cloud_objects(data: Any, source: str) -> CloudObjects:
    """Check and read cloud-objects.json's structure (DESIGN.md) into `CloudObjects`."""
    if not isinstance(data, dict):
        raise InputError("must be a JSON object", source=source)
    _keys(data, _TOP_KEYS, "(top level)", source)
    flavors = []
    for i, item in enumerate(data.get("flavors", [])):
        where = f"flavors[{i}]"
        _named_object(item, _FLAVOR_KEYS, where, source)
        specs = _mapping(item, "extra_specs", where, source)
        flavors.append(
            Flavor(
                name=item["name"],
                vcpus=_int(item, "vcpus", where, source),
                ram=_int(item, "ram", where, source),
                disk=_int(item, "disk", where, source),
                is_public=bool(item.get("is_public", False)),
                extra_specs={str(k): str(v) for k, v in specs.items()},
                projects=_str_list(item.get("projects", []), f"{where}.projects", source),
            )
        )
    aggregates = []
    for i, item in enumerate(data.get("aggregates", [])):
        where = f"aggregates[{i}]"
        _named_object(item, _AGGREGATE_KEYS, where, source)
        metadata = _mapping(item, "metadata", where, source)
        aggregates.append(
            Aggregate(
                name=item["name"],
                metadata={str(k): str(v) for k, v in metadata.items()},
                hosts=_str_list(item.get("hosts", []), f"{where}.hosts", source),
            )
        )
    limits = []
    for i, item in enumerate(data.get("registered_limits", [])):
        where = f"registered_limits[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("resource_name"), str):
            raise InputError("must be an object with a resource_name", source=source, field=where)
        _keys(item, _LIMIT_KEYS, where, source)
        limits.append(
            RegisteredLimit(
                item["resource_name"],
                _int(item, "default_limit", where, source),
                str(item.get("description", "")),
            )
        )
    provider_traits = data.get("provider_traits", {})
    if not isinstance(provider_traits, dict):
        raise InputError("must be an object", source=source, field="provider_traits")
    return CloudObjects(
        resource_classes=_names(
            data.get("resource_classes", []), "resource_classes", source, _CUSTOM_NAME
        ),
        traits=_names(data.get("traits", []), "traits", source, _CUSTOM_NAME),
        aggregates=tuple(aggregates),
        flavors=tuple(flavors),
        provider_traits={
            str(k): _names(v, f"provider_traits.{k}", source, _ANY_NAME)
            for k, v in provider_traits.items()
        },
        registered_limits=tuple(limits),
    )


def load_desired(path: Path) -> Desired:
    """Read a cloud-objects.json, or plan a fleet file (YAML) and take its cloud objects."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror}", source=source) from None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"not JSON: {error.msg}", source=source, line=error.lineno) from None
        return Desired(parse_cloud_objects(data, source), (), source)
    return _plan_fleet(path)


def _plan_fleet(path: Path) -> Desired:
    from gpuslice.fleetfile import load_fleet
    from gpuslice.plan import make_plan

    plan = make_plan(load_fleet(path))
    return Desired(plan.cloud, plan.providers, str(path), plan.aliases)
