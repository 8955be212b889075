"""YAML loading that remembers the line of every key, so errors can name file and line.

The loader is bounded, so no YAML text can hang gpuslice or fill its memory:
- nesting deeper than `MAX_DEPTH` levels is refused;
- a recursive alias (an anchor used inside itself) is refused;
- aliases may repeat at most `ALIAS_BUDGET` values in all (or as many values as the document
  writes out itself, when that is more): an "alias bomb" of nested anchors is refused at once;
- keys are plain values (no mapping or list as a key), and a key given twice is an error;
- only the plain types of YAML are read: strings, whole numbers, decimals, booleans, null,
  lists and mappings (a date, `!!binary`, `!!set` or a custom tag is refused by line);
- a whole number longer than `MAX_DIGITS` digits is refused before it is converted.

Merge keys (`<<: *base` or `<<: [*a, *b]`, YAML 1.1) are read: the merged mappings' keys come
in unless the mapping gives them itself (its own keys win, earlier merged mappings win over later
ones), and the repeated values count against the alias budget. A merge value that is not a
mapping or a list of mappings is an error.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Final

import yaml

from gpuslice.errors import InputError

Path_ = tuple[str | int, ...]

MAX_DEPTH: Final = 64
ALIAS_BUDGET: Final = 100_000
MAX_DIGITS: Final = 40

_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
_INT_TAG: Final = "tag:yaml.org,2002:int"
_STR_TAG: Final = "tag:yaml.org,2002:str"
_FLOAT_TAG: Final = "tag:yaml.org,2002:float"
_PLAIN: Final = (str, int, float, bool, type(None))
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc]
    """The safe loader, remembering the tag each plain scalar resolved to: a fleet repeats the
    same values thousands of times, and resolving one tries several regular expressions."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.plain_tags: dict[str, str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is _SCALAR and implicit[0] and len(value) <= 64:
            tag = self.plain_tags.get(value)
            if tag is None:
                tag = self.plain_tags[value] = super().resolve(kind, value, implicit)
            return tag
        return super().resolve(kind, value, implicit)


_SCALAR: Final = yaml.ScalarNode


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

    def error(self, path: Path_, message: str) -> InputError:
        """An `InputError` at `path`: the line of `path` (`line_of`), the path dotted as field."""
        field = ".".join(str(part) for part in path)
        return InputError(message, source=self.source, line=self.line_of(path), field=field)


def load_located_yaml(text: str, source: str) -> LocatedYaml:
    """Parse `text` as one YAML document, keeping lines, within the bounds of the module docstring.

    Syntax errors and every bound name the line.
    """
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        raise InputError(f"not valid YAML: {problem}", source=source, line=line) from None
    except RecursionError:
        msg = f"not valid YAML: nested deeper than {MAX_DEPTH} levels"
        raise InputError(msg, source=source) from None
    lines: dict[Path_, int] = {}
    data = _Converter(source, lines).convert(node, ()) if node is not None else None
    return LocatedYaml(data, lines, source)


class _Converter:
    """Nodes to plain data, counting what aliases repeat and watching depth and recursion."""

    def __init__(self, source: str, lines: dict[Path_, int]) -> None:
        self.source = source
        self.lines = lines
        self.constructor = yaml.SafeLoader("")
        self.seen: set[int] = set()  # collection nodes converted once already
        self.repeating = 0  # > 0 while converting a collection an alias repeats
        self.repeated = 0
        self.budget = ALIAS_BUDGET
        self.open: set[int] = set()  # collection nodes being converted (to catch recursion)

    def error(self, message: str, node: yaml.Node) -> InputError:
        return InputError(message, source=self.source, line=node.start_mark.line + 1)

    def count(self, node: yaml.Node) -> None:
        """Count a value an alias repeats; refuse past the budget (module docstring)."""
        self.repeated += 1
        if self.repeated > self.budget:
            msg = (
                f"aliases repeat more than {self.budget:,} values "
                "(an alias bomb?); write the values out or use fewer nested aliases"
            )
            raise self.error(msg, node)

    def convert(self, node: yaml.Node, path: Path_) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if self.repeating:
            self.count(node)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if len(path) > MAX_DEPTH:
            raise self.error(f"nested deeper than {MAX_DEPTH} levels", node)
        key = id(node)
        if key in self.open:
            raise self.error("a recursive alias (an anchor used inside itself)", node)
        repeat = key in self.seen
        if repeat:
            self.repeating += 1
        else:
            self.seen.add(key)
            self.budget = max(self.budget, len(self.seen))
        self.open.add(key)
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path)
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(key)
            if repeat:
                self.repeating -= 1

    def mapping(self, node: yaml.MappingNode, path: Path_) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merged: list[yaml.MappingNode] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self.merge_sources(value_node))
                continue
            key = self.key(key_node)
            if key in result:
                raise self.error(f"key {_short(key)} is given twice", key_node)
            child = (*path, key)
            result[key] = self.convert(value_node, child)
            self.lines[child] = key_node.start_mark.line + 1
        for source in merged:
            if id(source) in self.open:
                raise self.error("a recursive alias (an anchor used inside itself)", source)
            self.open.add(id(source))
            try:
                for key_node, value_node in source.value:
                    if key_node.tag == _MERGE_TAG:
                        raise self.error("a merged mapping may not merge again (<<)", key_node)
                    key = self.key(key_node)
                    if key in result:
                        continue
                    child = (*path, key)
                    self.count(value_node)
                    result[key] = self.convert(value_node, child)
                    self.lines[child] = key_node.start_mark.line + 1
            finally:
                self.open.discard(id(source))
        return result

    def merge_sources(self, node: yaml.Node) -> list[yaml.MappingNode]:
        if isinstance(node, yaml.MappingNode):
            return [node]
        if isinstance(node, yaml.SequenceNode) and all(
            isinstance(item, yaml.MappingNode) for item in node.value
        ):
            return list(node.value)
        raise self.error("a merge key (<<) takes a mapping or a list of mappings", node)

    def key(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.error("a key must be a plain value, not a list or a mapping", node)
        return self.scalar(node)

    def scalar(self, node: yaml.ScalarNode) -> Any:
        tag = node.tag
        if tag == _STR_TAG:
            return node.value  # the common case, as SafeConstructor builds it
        if tag in (_INT_TAG, _FLOAT_TAG):
            digits = sum(ch.isdigit() for ch in node.value)
            if digits > MAX_DIGITS:
                msg = f"a number of {digits} digits; no value gpuslice reads needs more than 20"
                raise self.error(msg, node)
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError, TypeError):
            msg = f"cannot read this value as {node.tag.rsplit(':', 1)[-1] or 'YAML'}"
            raise self.error(msg, node) from None
        if isinstance(value, _dt.date):
            msg = "a date or time is not a value gpuslice reads; quote it if it is a name"
            raise self.error(msg, node)
        if not isinstance(value, _PLAIN):
            msg = f"a {type(value).__name__} value (tag {node.tag}) is not one gpuslice reads"
            raise self.error(msg, node)
        return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
