"""A release's provider.yaml schema (`nova/compute/provider_config.py`, Victoria+), read with ast.

`SCHEMA_V1` and `SUPPORTED_SCHEMA_VERSIONS` are plain literals in nova's module; they are read
without importing it and applied with jsonschema, as nova itself does.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gpuslice.releasecheck.options import parse_quietly

PROVIDER_CONFIG = "nova/compute/provider_config.py"


@dataclass(frozen=True)
class ProviderSchema:
    """nova's provider.yaml schema and the schema versions it reads ({major: {minors}})."""

    schema: Mapping[str, Any]
    versions: Mapping[int, frozenset[int]]


def provider_schema(sources: Mapping[str, str]) -> ProviderSchema | None:
    """The release's provider.yaml schema, or None when it has no provider_config.py."""
    text = sources.get(PROVIDER_CONFIG)
    if text is None:
        return None
    found: dict[str, Any] = {}
    for node in parse_quietly(text, PROVIDER_CONFIG).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in (
                "SCHEMA_V1",
                "SUPPORTED_SCHEMA_VERSIONS",
            ):
                found[target.id] = ast.literal_eval(node.value)
    versions = {
        int(k): frozenset(int(v) for v in vs)
        for k, vs in found["SUPPORTED_SCHEMA_VERSIONS"].items()
    }
    return ProviderSchema(found["SCHEMA_V1"], versions)


def schema_errors(document: Any, schema: ProviderSchema) -> list[str]:
    """What nova would refuse in `document`: its schema version, then the schema itself.

    Rules (nova's `_parse_provider_yaml`): `meta.schema_version` is `major.minor` with a
    supported major (an unsupported minor, which nova only warns about, counts here too); the
    document validates against SCHEMA_V1 (Draft 7).
    """
    jsonschema: Any = importlib.import_module("jsonschema")
    version = str((document or {}).get("meta", {}).get("schema_version", ""))
    major, _, minor = version.partition(".")
    if not (major.isdigit() and minor.isdigit()):
        return [f"schema_version {version!r} is not major.minor"]
    if int(major) not in schema.versions:
        return [f"schema_version {version}: major {major} is not supported"]
    if int(minor) not in schema.versions[int(major)]:
        return [f"schema_version {version}: minor {minor} is not supported (fields ignored)"]
    validator = jsonschema.Draft7Validator(schema.schema)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in validator.iter_errors(document)
    ]
