"""Indented JSON text, the same as `json.dumps(data, indent=2, sort_keys=True)`, written faster.

The standard library falls back to its pure-Python encoder whenever `indent` is set; this writer
walks the data once with list appends and encodes strings with the C helper, about twice as fast
on a plan of thousands of hosts. Rules (the standard encoder's): keys sorted, strings ASCII-only
with escapes, floats by `float.__repr__` (NaN and infinities as `NaN`/`Infinity`), tuples as
lists, empty containers as `{}`/`[]`. Keys must be strings (a plan's are).
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any

_FLOATS = {float("inf"): "Infinity", float("-inf"): "-Infinity"}


def dumps_indented(data: Any) -> str:
    """`json.dumps(data, indent=2, sort_keys=True)`, faster (rules in the module docstring)."""
    parts: list[str] = []
    _write(data, parts, "\n")
    return "".join(parts)


def _write(value: Any, parts: list[str], newline: str) -> None:
    if isinstance(value, str):
        parts.append(encode_basestring_ascii(value))
    elif value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, int):
        parts.append(int.__repr__(value))
    elif isinstance(value, float):
        if value != value:
            parts.append("NaN")
        else:
            parts.append(_FLOATS.get(value) or float.__repr__(value))
    elif isinstance(value, dict):
        if not value:
            parts.append("{}")
            return None
        inner = newline + "  "
        parts.append("{")
        first = True
        for key in sorted(value):
            if not isinstance(key, str):
                return _fallback(value, parts, newline)
            parts.append(inner if first else "," + inner)
            first = False
            parts.append(encode_basestring_ascii(key))
            parts.append(": ")
            _write(value[key], parts, inner)
        parts.append(newline + "}")
    elif isinstance(value, list | tuple):
        if not value:
            parts.append("[]")
            return None
        inner = newline + "  "
        parts.append("[")
        first = True
        for item in value:
            parts.append(inner if first else "," + inner)
            first = False
            _write(item, parts, inner)
        parts.append(newline + "]")
    else:
        _fallback(value, parts, newline)
    return None


def _fallback(value: Any, parts: list[str], newline: str) -> None:
    """What this writer does not handle itself: the standard encoder, re-indented."""
    text = json.dumps(value, indent=2, sort_keys=True)
    parts.append(text.replace("\n", newline))
