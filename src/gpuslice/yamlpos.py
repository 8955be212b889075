"""YAML loading that remembers the line of every key, so errors can name file and line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from gpuslice.errors import InputError

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class LocatedYaml:
    """Plain Python data from a YAML file and the 1-based line of every value, keyed by path."""

    data: Any
    lines: dict[Path_, int]
    source: str

    def line_of(self, path: Path_) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        probe = tuple(path)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get(())


def load_located_yaml(text: str, source: str) -> LocatedYaml:
    """Parse `text` as one YAML document, keeping lines. Syntax errors name the line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        raise InputError(f"not valid YAML: {problem}", source=source, line=line) from None
    lines: dict[Path_, int] = {}
    data = _convert(node, (), lines, source) if node is not None else None
    return LocatedYaml(data, lines, source)


def _convert(node: yaml.Node, path: Path_, lines: dict[Path_, int], source: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.SafeLoader(  # a scalar key constructed the usual way
                ""
            ).construct_object(key_node, deep=True)
            if key in result:
                raise InputError(
                    f"key {key!r} is given twice", source=source, line=key_node.start_mark.line + 1
                )
            child = (*path, key)
            result[key] = _convert(value_node, child, lines, source)
            lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(item, (*path, index), lines, source) for index, item in enumerate(node.value)
        ]
    return yaml.SafeLoader("").construct_object(node, deep=True)
