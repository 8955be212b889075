"""The release check's static readers agree with installed nova 34 imported for real: its
registered options, its provider.yaml schema and its extra-spec validators."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from gpuslice.plan import make_plan
from gpuslice.plan.types import PROVIDER_YAML
from gpuslice.releasecheck.extra_specs import load_validator
from gpuslice.releasecheck.matrix import filter_classes
from gpuslice.releasecheck.options import registered_options
from gpuslice.releasecheck.pci import alias_problem, alias_schema
from gpuslice.releasecheck.schema import provider_schema, schema_errors
from gpuslice.releasecheck.source import SOURCE_PARTS
from tests.core.fleets import lab_fleet
from tests.twin.nova import needs_nova

pytestmark = [needs_nova]


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    """The installed nova's files, as the check reads them from a wheel."""
    nova = importlib.import_module("nova")
    root = Path(nova.__file__).resolve().parent.parent
    return {
        str(path.relative_to(root)): path.read_text(encoding="utf-8")
        for path in sorted((root / "nova").rglob("*.py"))
        if str(path.relative_to(root)).startswith(SOURCE_PARTS)
    }


def test_static_options_are_novas_own_registered_options(sources: dict[str, str]) -> None:
    from nova.conf import opts

    real: dict[tuple[str, str], Any] = {}
    for group, options in opts.list_opts():
        name = getattr(group, "name", group) or "DEFAULT"
        for opt in options:
            real[(name, opt.name)] = opt
    registry = registered_options(sources)
    # nova's own options, every one; the rest of nova's listing comes from libraries
    # (keystoneauth, oslo.db, castellan), which gpuslice never renders.
    assert set(registry.options) <= set(real)
    own = {key for key, opt in real.items() if type(opt).__module__ == "oslo_config.cfg"}
    missing = {key for key in own - set(registry.options) if key[0] in {"DEFAULT", "pci"}}
    assert not missing
    for key, spec in registry.options.items():
        assert spec.kind == type(real[key]).__name__, key
        choices = getattr(real[key].type, "choices", None)
        if spec.choices is not None:
            assert tuple(str(c) for c in choices or ()) == spec.choices, key
    for old, new in registry.aliases.items():
        names = {(d.group or new[0], d.name or new[1]) for d in real[new].deprecated_opts}
        assert old in names, (old, new)


def test_provider_yaml_schema_is_novas(sources: dict[str, str]) -> None:
    from nova.compute import provider_config

    schema = provider_schema(sources)
    assert schema is not None
    assert schema.schema == provider_config.SCHEMA_V1
    plan = make_plan(lab_fleet(34, "placement"))
    document = next(d for d in plan.node("hyper18").documents if d.path == PROVIDER_YAML)
    assert schema_errors(dict(document.content), schema) == []
    broken = {"meta": {"schema_version": "1.0"}, "providers": [{"identification": {}}]}
    assert schema_errors(broken, schema)
    assert schema_errors({"meta": {"schema_version": "2.0"}}, schema) == [
        "schema_version 2.0: major 2 is not supported"
    ]


def test_extra_spec_validators_are_novas(sources: dict[str, str]) -> None:
    from nova import exception
    from nova.api.validation.extra_specs import validators

    validate = load_validator(sources)
    assert validate is not None
    cases = [
        ("resources:CUSTOM_GPU_VCPU", "2"),
        ("resources:VCPU", "0"),
        ("hw:cpu_policy", "dedicated"),
        ("hw:cpu_policy", "sometimes"),
        ("pci_passthrough:alias", "gpu:1"),
        ("pci_passthrough:alias", "gpu"),
        ("resources:CUSTOM_GPU_VCPU", "two"),
        ("trait:CUSTOM_GPU_HOST", "required"),
        ("hw:no_such_thing", "1"),
    ]
    for name, value in cases:
        try:
            validators.validate(name, value)
            real_ok = True
        except exception.ValidationError:
            real_ok = False
        try:
            validate(name, value)
            ours_ok = True
        except ValueError:
            ours_ok = False
        assert ours_ok == real_ok, (name, value)
    flavors = make_plan(lab_fleet(34, "placement", cpu_mode="dedicated")).cloud.flavors
    for name, value in flavors[0].extra_specs.items():
        validate(name, value)
    assert "nova" not in {m.split(".")[0] for m in list(_stand_in_left())}


def _stand_in_left() -> list[str]:
    import sys

    # The stand-in package is gone: what `nova` modules remain are the real ones.
    return [
        name
        for name, module in sys.modules.items()
        if name.startswith("nova") and getattr(module, "__file__", None) is None
    ]


def test_filter_classes_include_novas_filters(sources: dict[str, str]) -> None:
    from nova.scheduler import filters

    real = {cls.__name__ for cls in filters.all_filters()}
    assert real <= filter_classes(sources)


def test_alias_schema_is_novas(sources: dict[str, str]) -> None:
    from nova.pci import request

    schema = alias_schema(sources)
    assert schema is not None
    real = request._ALIAS_SCHEMA
    assert schema.keys == set(real["properties"])
    assert schema.required == set(real["required"])
    assert schema.device_types == set(real["properties"]["device_type"]["enum"])
    assert alias_problem('{"name": "gpu", "device_type": "type-PF"}', schema) is None
    assert alias_problem('{"name": "gpu", "device_type": "vdpa"}', schema) is not None
    assert alias_problem('[{"name": "gpu"}]', schema) == "not one JSON object"
