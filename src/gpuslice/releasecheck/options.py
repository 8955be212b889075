"""A release's registered nova options, read statically from its `nova/conf/*.py` (ast).

Old novas do not import on this Python, so nothing is executed: module-level assignments give
option groups (`cfg.OptGroup('pci')`) and option lists (`[cfg.StrOpt('alias', ...)]`, joined
with `+`, `list(...)` or `itertools.chain(...)`), and every `register_opts(LIST, group=G)` /
`register_opt(OPT, group=G)` call says where they live. Each option keeps its type, choices,
bounds, regex, default (for lists of literals) and deprecated names.

Dynamic groups are read too: a function that loops over an option's values
(`for mdev_type in conf.devices.enabled_mdev_types:`) and registers options in a group named
from each value (`group='mdev_%s' % mdev_type`) gives options under the group prefix `mdev_`,
valid only for the values that option lists (nova's `[mdev_<type>]`, `[vgpu_<type>]`).
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_GROUP = "DEFAULT"


@dataclass(frozen=True)
class OptSpec:
    """One registered option: `kind` is the oslo.config class name (`StrOpt`, `MultiStrOpt`)."""

    kind: str
    name: str
    choices: tuple[str, ...] | None = None
    # The description nova gives each choice, where it gives one.
    choice_help: tuple[tuple[str, str], ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    default: Any = None
    deprecated: tuple[tuple[str | None, str | None], ...] = ()
    deprecated_for_removal: bool = False
    regex: str | None = None
    # A dynamic option's deprecated group prefix (`deprecated_group='vgpu_%s' % mdev_type`).
    deprecated_prefix: str | None = None

    @property
    def multi(self) -> bool:
        """Whether the option takes one value per line (MultiStrOpt, MultiOpt)."""
        return self.kind.startswith("Multi")


@dataclass(frozen=True)
class DynamicGroup:
    """Options registered in one group per value of another option (`[mdev_<type>]`)."""

    prefix: str
    # The list option whose values name the groups, as (group, name).
    source: tuple[str, str] | None
    options: dict[str, OptSpec]


@dataclass
class Registry:
    """Options by (group, name), and deprecated (group, name) -> the option that reads it;
    dynamic groups by prefix, and deprecated dynamic (prefix, name) -> the prefix that reads it.
    """

    options: dict[tuple[str, str], OptSpec] = field(default_factory=dict)
    aliases: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    dynamic: dict[str, DynamicGroup] = field(default_factory=dict)
    dynamic_aliases: dict[tuple[str, str], str] = field(default_factory=dict)

    def add_dynamic(self, prefix: str, source: tuple[str, str] | None, opt: OptSpec) -> None:
        """Register `opt` in every group `prefix<value>` (values of the option `source`)."""
        group = self.dynamic.setdefault(prefix, DynamicGroup(prefix, source, {}))
        group.options[opt.name] = opt
        if opt.deprecated_prefix is not None and opt.deprecated_prefix != prefix:
            self.dynamic_aliases[(opt.deprecated_prefix, opt.name)] = prefix

    def dynamic_option(self, section: str, name: str) -> tuple[DynamicGroup, OptSpec] | None:
        """The dynamic group `section` belongs to and its option `name`, if registered."""
        for prefix, group in self.dynamic.items():
            if section.startswith(prefix) and name in group.options:
                return group, group.options[name]
        return None

    def dynamic_alias(self, section: str, name: str) -> str | None:
        """The prefix that reads `[section] name` when it is only a deprecated dynamic group."""
        for (old, opt_name), prefix in self.dynamic_aliases.items():
            if section.startswith(old) and name == opt_name:
                return prefix
        return None

    def add(self, group: str, opt: OptSpec) -> None:
        """Register `opt` in `group`, with its deprecated names (the group defaults to its own)."""
        self.options[(group, opt.name)] = opt
        for old_group, old_name in opt.deprecated:
            key = (old_group or group, old_name or opt.name)
            if key != (group, opt.name):
                self.aliases[key] = (group, opt.name)


def registered_options(sources: Mapping[str, str]) -> Registry:
    """Every option the `nova/conf/*.py` files in `sources` register."""
    registry = Registry()
    for path, text in sorted(sources.items()):
        if path.startswith("nova/conf/") and path.count("/") == 2:
            _read_module(parse_quietly(text, path), registry)
    return registry


def parse_quietly(text: str, path: str) -> ast.Module:
    """`ast.parse` without the escape-sequence warnings old nova source raises on Python 3.12."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
        return ast.parse(text, filename=path)


def _read_module(tree: ast.Module, registry: Registry) -> None:
    env: dict[str, Any] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name):
                env[target.id] = _evaluate(statement.value, env)
    for function in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        _read_dynamic(function, env, registry)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in ("register_opts", "register_opt") or not node.args:
            continue
        group_node = next((kw.value for kw in node.keywords if kw.arg == "group"), None)
        if len(node.args) > 1:
            group_node = node.args[1]
        group = DEFAULT_GROUP if group_node is None else _group_name(group_node, env)
        if group is None:
            continue  # a group only known at run time (dynamic options)
        found = _evaluate(node.args[0], env)
        for opt in found if isinstance(found, list) else [found]:
            if isinstance(opt, OptSpec):
                registry.add(group, opt)


def _read_dynamic(function: ast.FunctionDef, env: Mapping[str, Any], registry: Registry) -> None:
    """The options `function` registers in groups named per value of a loop over an option."""
    local = dict(env)
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                local[target.id] = _evaluate(node.value, local)
    for loop in (n for n in ast.walk(function) if isinstance(n, ast.For)):
        source = _conf_option(loop.iter)
        for node in ast.walk(loop):
            if not (isinstance(node, ast.Call) and _callee(node.func) == "register_opt"):
                continue
            group_node = next((kw.value for kw in node.keywords if kw.arg == "group"), None)
            if len(node.args) > 1:
                group_node = node.args[1]
            prefix = dynamic_prefix(group_node)
            opt = _evaluate(node.args[0], local) if node.args else None
            if prefix is not None and isinstance(opt, OptSpec):
                registry.add_dynamic(prefix, source, opt)


def dynamic_prefix(node: ast.expr | None) -> str | None:
    """`mdev_` for a group named `'mdev_%s' % value`, else None."""
    if (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Mod)
        and isinstance(node.left, ast.Constant)
        and isinstance(node.left.value, str)
        and node.left.value.endswith("%s")
        and node.left.value.count("%") == 1
    ):
        return node.left.value[:-2]
    return None


def _conf_option(node: ast.expr) -> tuple[str, str] | None:
    """(group, name) for a loop over `conf.<group>.<name>` (any name for the config object)."""
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and isinstance(node.value.value, ast.Name)
    ):
        return node.value.attr, node.attr
    return None


def _group_name(node: ast.expr, env: Mapping[str, Any]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and isinstance(env.get(node.id), _Group):
        group: _Group = env[node.id]
        return group.name
    if isinstance(node, ast.Name) and isinstance(env.get(node.id), str):
        return str(env[node.id])
    if isinstance(node, ast.Attribute) and node.attr == "name":
        return _group_name(node.value, env)
    return None


@dataclass(frozen=True)
class _Group:
    name: str


def _evaluate(node: ast.expr, env: Mapping[str, Any]) -> Any:
    """An option, a list of options, a group, a string, or None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return env.get(node.id)
    if isinstance(node, (ast.List, ast.Tuple)):
        out: list[Any] = []
        for element in node.elts:
            inner = element.value if isinstance(element, ast.Starred) else element
            value = _evaluate(inner, env)
            if isinstance(value, list):
                out.extend(value)
            elif value is not None:
                out.append(value)
        return out
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _evaluate(node.left, env), _evaluate(node.right, env)
        return _as_list(left) + _as_list(right)
    if isinstance(node, ast.Call):
        return _evaluate_call(node, env)
    return None


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _evaluate_call(node: ast.Call, env: Mapping[str, Any]) -> Any:
    name = _callee(node.func)
    if name in ("list", "tuple", "chain"):
        joined: list[Any] = []
        for arg in node.args:
            joined.extend(_as_list(_evaluate(arg, env)))
        return joined
    if name == "OptGroup":
        group = _first_str(node, "name", env)
        return _Group(group) if group else None
    if name.endswith("Opt") and name != "DeprecatedOpt":
        return _opt(name, node, env)
    return None


def _callee(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _first_str(node: ast.Call, keyword: str, env: Mapping[str, Any]) -> str | None:
    """The call's first argument or `keyword=` argument, when it is (or names) a string."""
    given = node.args[0] if node.args else None
    for kw in node.keywords:
        if kw.arg == keyword:
            given = kw.value
    value = None if given is None else _evaluate(given, env)
    return value if isinstance(value, str) else None


def _literal(node: ast.expr | None, env: Mapping[str, Any]) -> Any:
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        if isinstance(node, ast.Name):
            value = env.get(node.id)
            return value if isinstance(value, (list, tuple, str, int, float)) else None
        return None


def _opt(kind: str, node: ast.Call, env: Mapping[str, Any]) -> OptSpec | None:
    name = _first_str(node, "name", env)
    if name is None:
        return None
    keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
    choices = _literal(keywords.get("choices"), env)
    choice_help = tuple(
        (str(c[0]), str(c[1]))
        for c in (choices if isinstance(choices, (list, tuple)) else ())
        if isinstance(c, (list, tuple)) and len(c) == 2
    )
    if isinstance(choices, (list, tuple)):
        choices = tuple(str(c[0]) if isinstance(c, (list, tuple)) else str(c) for c in choices)
    else:
        choices = None
    deprecated: list[tuple[str | None, str | None]] = []
    old_name = _literal(keywords.get("deprecated_name"), env)
    old_group = _literal(keywords.get("deprecated_group"), env)
    if isinstance(old_name, str) or isinstance(old_group, str):
        deprecated.append(
            (old_group if isinstance(old_group, str) else None, old_name or None),
        )
    opts_node = keywords.get("deprecated_opts")
    if isinstance(opts_node, (ast.List, ast.Tuple)):
        for element in opts_node.elts:
            if isinstance(element, ast.Call) and _callee(element.func) == "DeprecatedOpt":
                old = _first_str(element, "name", env)
                group = next(
                    (
                        _literal(kw.value, env)
                        for kw in element.keywords
                        if kw.arg == "group" and isinstance(_literal(kw.value, env), str)
                    ),
                    None,
                )
                deprecated.append((group, old))
    return OptSpec(
        kind=kind,
        name=name,
        choices=choices,
        choice_help=choice_help,
        minimum=_number(_literal(keywords.get("min"), env)),
        maximum=_number(_literal(keywords.get("max"), env)),
        default=_literal(keywords.get("default"), env),
        deprecated=tuple(deprecated),
        deprecated_for_removal=_literal(keywords.get("deprecated_for_removal"), env) is True,
        regex=regex if isinstance(regex := _literal(keywords.get("regex"), env), str) else None,
        deprecated_prefix=dynamic_prefix(keywords.get("deprecated_group")),
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
