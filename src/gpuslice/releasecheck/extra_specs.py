"""A release's flavor extra-spec validators (`nova/api/validation/extra_specs`, Ussuri+).

The validator modules are plain data built from nova's `ExtraSpecValidator` class; nova itself
does not import on this Python for old releases, so each release's modules are run here inside
a stand-in `nova` package that holds only what they import (`base`, `exception`, and empty enum
tables for `nova.objects.fields`, which gpuslice's specs never use). Real `oslo_utils`,
`os_resource_classes` and `os_traits` come from the running environment. `sys.modules` is
restored afterwards.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

PACKAGE = "nova/api/validation/extra_specs/"
_SKIP = {"__init__.py", "base.py", "validators.py"}

Validate = Callable[[str, str], None]


class _ValidationError(Exception):
    """What nova's validators raise (nova.exception.ValidationError) inside the stand-in."""


class _Enums(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        return types.SimpleNamespace(ALL=())


def _module(name: str, package: bool = False) -> types.ModuleType:
    module = types.ModuleType(name)
    if package:
        module.__path__ = []
    return module


@contextmanager
def _stand_in_nova() -> Iterator[dict[str, types.ModuleType]]:
    owned = ("nova", "stevedore")
    saved = {k: v for k, v in sys.modules.items() if k.split(".")[0] in owned}
    for key in saved:
        del sys.modules[key]
    modules = {
        "nova": _module("nova", package=True),
        "nova.api": _module("nova.api", package=True),
        "nova.api.validation": _module("nova.api.validation", package=True),
        "nova.api.validation.extra_specs": _module("nova.api.validation.extra_specs", package=True),
        "nova.exception": _module("nova.exception"),
        "nova.objects": _module("nova.objects", package=True),
        "nova.objects.fields": _Enums("nova.objects.fields"),
        "nova.i18n": _module("nova.i18n"),
        "stevedore": _module("stevedore", package=True),
        "stevedore.extension": _module("stevedore.extension"),
    }
    modules["nova.exception"].ValidationError = _ValidationError  # type: ignore[attr-defined]
    modules["nova.i18n"]._ = lambda text: text  # type: ignore[attr-defined]
    modules["nova"].exception = modules["nova.exception"]  # type: ignore[attr-defined]
    modules["nova.objects"].fields = modules["nova.objects.fields"]  # type: ignore[attr-defined]
    sys.modules.update(modules)
    try:
        yield modules
    finally:
        for key in [k for k in sys.modules if k.split(".")[0] in owned]:
            del sys.modules[key]
        sys.modules.update(saved)


def _run(name: str, text: str, path: str) -> types.ModuleType:
    module = _module(name)
    module.__file__ = path
    sys.modules[name] = module
    parent, _, leaf = name.rpartition(".")
    setattr(sys.modules[parent], leaf, module)
    # nova's own data modules (validator tables), inside the stand-in package
    exec(compile(text, path, "exec"), module.__dict__)
    return module


def load_validator(sources: Mapping[str, str]) -> Validate | None:
    """nova's `validators.validate(name, value)` for the release, or None before Ussuri.

    It raises for a spec in a namespace nova knows when no validator accepts its name or value;
    specs in unknown namespaces pass, as in nova.
    """
    files = {p[len(PACKAGE) :]: t for p, t in sources.items() if p.startswith(PACKAGE)}
    if "validators.py" not in files:
        return None
    dotted = "nova.api.validation.extra_specs"
    with _stand_in_nova() as modules:
        _run(f"{dotted}.base", files["base.py"], PACKAGE + "base.py")
        plugins = [
            _run(f"{dotted}.{leaf[:-3]}", text, PACKAGE + leaf)
            for leaf, text in sorted(files.items())
            if leaf not in _SKIP and leaf.endswith(".py")
        ]

        class _Manager:
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                self._extensions = [types.SimpleNamespace(plugin=p) for p in plugins]

            def __iter__(self) -> Iterator[Any]:
                return iter(self._extensions)

        modules["stevedore.extension"].ExtensionManager = _Manager  # type: ignore[attr-defined]
        validators = _run(f"{dotted}.validators", files["validators.py"], PACKAGE + "validators.py")
        validate: Validate = validators.validate
        error = _ValidationError

    def checked(name: str, value: str) -> None:
        try:
            validate(name, value)
        except error as failure:
            raise ValueError(str(failure)) from None

    return checked
