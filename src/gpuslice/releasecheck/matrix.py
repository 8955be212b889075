"""Render the plan matrix for one release and check every rendered file against its nova.

Matrix: strategies x CPU modes x PCI-in-Placement (where the release has it). A combination
gpuslice refuses is skipped. Each rendered nova option must be registered by that release
under that group and name (not only as a deprecated alias), with a value of its type and
choices; each provider.yaml must pass the release's own schema; each flavor's extra specs its
validators; each scheduler filter must exist. The release table's facts are checked too.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from oslo_config import iniparser

from gpuslice.errors import InputError
from gpuslice.fleet import STRATEGIES, CpuMode, Fleet, GpuModel, Host, HostReserve, SliceSpec
from gpuslice.inventory.device import GpuDevice
from gpuslice.plan import make_plan
from gpuslice.releasecheck.extra_specs import Validate
from gpuslice.releasecheck.options import OptSpec, Registry, parse_quietly
from gpuslice.releasecheck.pci import AliasSchema, alias_problem
from gpuslice.releasecheck.schema import ProviderSchema, schema_errors
from gpuslice.releases import Release
from gpuslice.render.tree import CLOUD_OBJECTS, render_files

UNIFIED_LIMITS = "nova.quota.UnifiedLimitsDriver"
CPU_MODES: tuple[CpuMode, ...] = ("accounted", "dedicated")
_BOOLS = {"true", "false", "yes", "no", "on", "off", "1", "0"}


@dataclass(frozen=True)
class Check:
    """One verdict: what was checked (`subject`), where (`case`), and why it failed."""

    case: str
    subject: str
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the check passed."""
        return self.problem is None


@dataclass(frozen=True)
class ReleaseSource:
    """What the checks read from one release's nova."""

    release: Release
    version: str
    registry: Registry
    schema: ProviderSchema | None
    validate: Validate | None
    filters: frozenset[str]
    alias: AliasSchema | None = None


def filter_classes(sources: Mapping[str, str]) -> frozenset[str]:
    """The class names in the release's `nova/scheduler/filters/*.py` (ast)."""
    names: set[str] = set()
    for path, text in sources.items():
        if path.startswith("nova/scheduler/filters/"):
            tree = parse_quietly(text, path)
            names.update(n.name for n in tree.body if isinstance(n, ast.ClassDef))
    return frozenset(names)


def sample_fleet(number: int, strategy: str, cpu_mode: CpuMode, pci: bool) -> Fleet:
    """Two GPU hosts (two NUMA nodes, the GPU on node 0): one with a K40c (`type-PCI`), one
    with an SR-IOV-capable A100 (`type-PF`), and one plain host; the host keeps 2 CPUs, so
    every CPU option a strategy can render is rendered."""
    k40c = GpuDevice("0000:86:00.0", "10de", "1024", "0302", numa_node=0)
    a100 = GpuDevice("0000:3b:00.0", "10de", "20f1", "0302", numa_node=0)
    numa = ((0, tuple(range(12))), (1, tuple(range(12, 24))))
    hosts = (
        Host("hyper18", tuple(range(24)), 131072, 2000, (k40c,), cpu_numa=numa),
        Host("hyper16", tuple(range(24)), 131072, 2000, (a100,), cpu_numa=numa),
        Host("hyper20", tuple(range(48)), 262144, 2000),
    )
    models = (
        GpuModel("gpu", "10de", "1024", SliceSpec(2, 4096, 40), "g1.gpu", "Tesla K40c"),
        GpuModel("a100", "10de", "20f1", SliceSpec(8, 65536, 100), "g1.a100", "A100", "type-PF"),
    )
    return Fleet(
        release=Release(number),
        strategy=strategy,  # type: ignore[arg-type]
        models=models,
        hosts=hosts,
        controllers=("ctl1",),
        host_reserve=HostReserve(512, 0, 2),
        cpu_mode=cpu_mode,
        pci_in_placement=pci,
        unified_limits=Release(number).has("unified_limits_driver"),
        source="<release matrix>",
    )


def cases(release: Release) -> Iterator[tuple[str, Fleet]]:
    """Every combination of the matrix for `release`, labelled."""
    pci_modes = (False, True) if release.has("pci_report_in_placement") else (False,)
    for strategy in (s for s in STRATEGIES if s != "auto"):
        for cpu_mode in CPU_MODES:
            for pci in pci_modes:
                label = f"{release.number} {strategy} {cpu_mode}" + (" pci" if pci else "")
                yield label, sample_fleet(release.number, strategy, cpu_mode, pci)


def check_release(source: ReleaseSource) -> tuple[list[Check], int]:
    """Every check for one release, and how many matrix cases gpuslice refused (skipped)."""
    checks = check_facts(source)
    refused = 0
    for label, fleet in cases(source.release):
        try:
            files = render_files(make_plan(fleet))
        except InputError:
            refused += 1
            continue
        for path, text in files.items():
            checks.extend(check_file(source, f"{label}: {path}", path, text))
    return checks, refused


def check_file(source: ReleaseSource, case: str, path: str, text: str) -> list[Check]:
    """The checks for one rendered file, chosen by its path."""
    if path.endswith((".conf", ".ini")) and "/etc/nova/" in f"/{path}":
        return [_check_option(source, case, *entry) for entry in parse_ini(text)]
    if "/provider_config/" in path:
        return [_check_provider(source, case, yaml.safe_load(text))]
    if path == CLOUD_OBJECTS:
        return list(_check_flavors(source, case, json.loads(text)))
    return []


class _Collector(iniparser.BaseParser):
    def __init__(self) -> None:
        super().__init__()
        self.section = "DEFAULT"
        self.entries: list[tuple[str, str, list[str]]] = []

    def new_section(self, section: str) -> None:
        self.section = section

    def assignment(self, key: str, value: list[str]) -> None:
        for existing in self.entries:
            if existing[:2] == (self.section, key):
                existing[2].extend(value)
                return
        self.entries.append((self.section, key, list(value)))


def parse_ini(text: str) -> list[tuple[str, str, list[str]]]:
    """(section, option, values) as oslo.config's own parser reads them; a repeated option
    gathers every value (how a MultiStrOpt is written)."""
    collector = _Collector()
    collector.parse(text.splitlines(keepends=True))
    return collector.entries


def _check_option(
    source: ReleaseSource, case: str, section: str, name: str, values: list[str]
) -> Check:
    subject = f"[{section}] {name}"
    opt = source.registry.options.get((section, name))
    if opt is None:
        real = source.registry.aliases.get((section, name))
        problem = (
            f"only a deprecated alias of [{real[0]}] {real[1]} in nova {source.version}"
            if real
            else f"not an option of nova {source.version}"
        )
        return Check(case, subject, problem)
    return Check(case, subject, value_problem(opt, values, source))


def value_problem(opt: OptSpec, values: list[str], source: ReleaseSource) -> str | None:
    """Why `values` do not fit `opt` (its kind, bounds, choices), or None.

    A non-multi option takes one value; a filter list names filters the release has; each
    PCI alias line passes the release's alias schema.
    """
    if len(values) > 1 and not opt.multi:
        return f"{opt.kind} takes one value, {len(values)} given"
    for value in values:
        problem = _one_value(opt, value)
        if problem:
            return problem
    if opt.name in ("alias", "pci_alias") and source.alias is not None:
        for value in values:
            problem = alias_problem(value, source.alias)
            if problem:
                return problem
    if opt.name in ("enabled_filters", "scheduler_default_filters") and source.filters:
        unknown = [f for f in values[0].split(",") if f.strip() not in source.filters]
        if unknown:
            return f"no such filter in nova {source.version}: {', '.join(unknown)}"
    return None


def _one_value(opt: OptSpec, value: str) -> str | None:
    parse: dict[str, Callable[[str], Any]] = {"IntOpt": int, "FloatOpt": float}
    if opt.kind in parse:
        try:
            number = parse[opt.kind](value)
        except ValueError:
            return f"{value!r} is not a {opt.kind[:-3].lower()}"
        if opt.minimum is not None and number < opt.minimum:
            return f"{value} is below the minimum {opt.minimum:g}"
        if opt.maximum is not None and number > opt.maximum:
            return f"{value} is above the maximum {opt.maximum:g}"
    if opt.kind == "BoolOpt" and value.lower() not in _BOOLS:
        return f"{value!r} is not a boolean"
    if opt.choices is not None and value not in opt.choices:
        return f"{value!r} is not one of {', '.join(opt.choices)}"
    return None


def _check_provider(source: ReleaseSource, case: str, document: Any) -> Check:
    subject = "provider.yaml"
    if source.schema is None:
        return Check(case, subject, f"nova {source.version} reads no provider.yaml")
    errors = schema_errors(document, source.schema)
    return Check(case, subject, "; ".join(errors) if errors else None)


def _check_flavors(source: ReleaseSource, case: str, data: Mapping[str, Any]) -> Iterator[Check]:
    if source.validate is None:
        return  # before Ussuri nova validates no extra specs
    for flavor in data.get("flavors", []):
        for name, value in flavor["extra_specs"].items():
            subject = f"flavor {flavor['name']} {name}={value}"
            try:
                source.validate(name, str(value))
            except ValueError as error:
                yield Check(case, subject, str(error))
            else:
                yield Check(case, subject)


# Facts of the release table that the release's registered options settle, each as
# (fact, what nova registers when the fact is true).
_FACT_OPTIONS: tuple[tuple[str, tuple[str, str]], ...] = (
    ("reserved_host_cpus", ("DEFAULT", "reserved_host_cpus")),
    ("provider_yaml", ("compute", "provider_config_location")),
    ("isolated_aggregates", ("scheduler", "enable_isolated_aggregate_filtering")),
    ("pci_weigher", ("filter_scheduler", "pci_weight_multiplier")),
    ("pci_report_in_placement", ("pci", "report_in_placement")),
    ("pci_in_placement_scheduling", ("filter_scheduler", "pci_in_placement")),
    ("pcpu_fallback_workaround", ("workarounds", "disable_fallback_pcpu_query")),
    ("unified_limits_resource_list", ("quota", "unified_limits_resource_list")),
)


def check_facts(source: ReleaseSource) -> list[Check]:
    """The release table against the release's own nova: what exists, where, and defaults."""
    release, registry = source.release, source.registry
    case = f"{release.number} facts"
    checks: list[Check] = []
    for fact, key in _FACT_OPTIONS:
        has = key in registry.options
        problem = None if has == release.has(fact) else f"table says {release.has(fact)}"
        checks.append(Check(case, f"{fact} = {has} ([{key[0]}] {key[1]})", problem))
    for fact in ("passthrough_spec", "pci_alias", "scheduler_filters", "shared_cpus"):
        where = tuple(release.fact(fact))
        found = where in registry.options
        checks.append(Check(case, f"{fact} at {where}", None if found else "not registered there"))
    driver = registry.options.get(("quota", "driver"))
    has_unified = bool(driver and UNIFIED_LIMITS in (driver.choices or ()))
    checks.append(
        Check(
            case,
            f"unified_limits_driver = {has_unified}",
            None if has_unified == release.has("unified_limits_driver") else "table differs",
        )
    )
    section, name = release.fact("scheduler_filters")
    unified_help = dict(driver.choice_help).get(UNIFIED_LIMITS, "") if driver else ""
    experimental = "Do not use" in unified_help
    checks.append(
        Check(
            case,
            f"unified_limits_experimental = {experimental}",
            None if experimental == release.has("unified_limits_experimental") else "table differs",
        )
    )
    filters = registry.options.get((section, name))
    default = tuple(filters.default) if filters and isinstance(filters.default, list) else None
    wanted = tuple(release.fact("default_filters"))
    checks.append(
        Check(
            case,
            "default_filters",
            None if default == wanted else f"nova {source.version} has {default}",
        )
    )
    return checks
