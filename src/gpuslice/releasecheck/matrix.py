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
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from oslo_config import iniparser

from gpuslice.errors import InputError
from gpuslice.fleet import STRATEGIES, CpuMode, Fleet, GpuModel, Host, HostReserve, SliceSpec
from gpuslice.fleetfile import parse_fleet
from gpuslice.inventory.device import GpuDevice
from gpuslice.plan import make_plan
from gpuslice.releasecheck.extra_specs import Validate
from gpuslice.releasecheck.options import DynamicGroup, OptSpec, Registry, parse_quietly
from gpuslice.releasecheck.pci import AliasSchema, alias_problem, spec_problem
from gpuslice.releasecheck.schema import ProviderSchema, schema_errors
from gpuslice.releases import Release
from gpuslice.render.tree import CLOUD_OBJECTS, render_files

UNIFIED_LIMITS = "nova.quota.UnifiedLimitsDriver"
CPU_MODES: tuple[CpuMode, ...] = ("accounted", "dedicated")
_BOOLS = {"true", "false", "yes", "no", "on", "off", "1", "0"}
# What nova's `pci/utils.py` parse_address accepts (`_PCI_ADDRESS_PATTERN`, the same from 17
# to 34: `hex{4}:hex{2}:hex{2}.oct{1}`).
_PCI_ADDRESS = re.compile(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]")


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
    # The device_spec tags the release acts on (`pci.device_spec_tags`).
    spec_tags: frozenset[str] = frozenset()


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


# An examples-style vGPU fleet: A10 cards cut into 4 vGPUs (on the card, or one per SR-IOV
# virtual function), a host mixing them with an L40S passed through whole, a plain host.
VGPU_FLEET = """\
release: {number}
strategy: {strategy}
slice: {{vcpus: 4, memory_mb: 16384, disk_gb: 40}}
host_reserve: {{memory_mb: 4096}}
vgpu_slices: {slices}
controllers: [ctl1]
gpu_models:
  - vendor_id: "10de"
    product_id: "2236"
    alias: a10
    mode: vgpu
    vgpu_on: {on}
    mdev_type: nvidia-592
    vgpus_per_gpu: 4
    slice: {{vcpus: 4, memory_mb: 16384, disk_gb: 40}}
    flavors: [{{name: v1.a10, vgpus: 1}}, {{name: v2.a10, vgpus: 2}}, {{name: v4.a10, vgpus: 4}}]
  - vendor_id: "10de"
    product_id: "26b5"
    alias: l40s
    device_type: type-PF
    slice: {{vcpus: 8, memory_mb: 65536, disk_gb: 100}}
hosts:
  - name: vgpu-01
    hypervisor_hostname: vgpu-01.example.org
    cpus: 64
    memory_mb: 524288
    disk_gb: 1920
    gpus:
      - {{address: "0000:17:00.0", vendor_id: "10de", product_id: "2236"{vfs17}}}
      - {{address: "0000:65:00.0", vendor_id: "10de", product_id: "2236"{vfs65}}}
  - name: mixed-01
    cpus: 96
    memory_mb: 786432
    disk_gb: 1920
    gpus:
      - {{address: "0000:17:00.0", vendor_id: "10de", product_id: "2236"{vfs17}}}
      - {{address: "0000:ca:00.0", vendor_id: "10de", product_id: "26b5"}}
  - {{name: plain-01, cpus: 64, memory_mb: 262144, disk_gb: 1920}}
"""


# SR-IOV vGPU through the vendor's vfio variant driver: four L40S VFs, each one vGPU, passed
# through with device_spec managed=no (nova 2025.1+).
VARIANT_FLEET = """\
release: {number}
strategy: {strategy}
slice: {{vcpus: 4, memory_mb: 16384, disk_gb: 40}}
controllers: [ctl1]
gpu_models:
  - vendor_id: "10de"
    product_id: "26b5"
    alias: l40s-vgpu
    device_type: type-VF
    vfio_variant: true
    flavors: [{{name: v1.l40s, gpus: 1}}, {{name: v2.l40s, gpus: 2}}]
hosts:
  - name: vf-01
    cpus: 64
    memory_mb: 524288
    disk_gb: 1920
    gpus:
{gpus}
"""


def variant_fleet(number: int, strategy: str) -> Fleet:
    """`VARIANT_FLEET` for one release and strategy."""
    gpus = "\n".join(
        f'      - {{address: "0000:ca:00.{n}", vendor_id: "10de", product_id: "26b5"}}'
        for n in range(4, 8)
    )
    text = VARIANT_FLEET.format(number=number, strategy=strategy, gpus=gpus)
    return parse_fleet(text, source="<release matrix vfio variant>", base_dir=Path())


def vgpu_fleet(number: int, strategy: str, on: str, slices: str) -> Fleet:
    """`VGPU_FLEET` for one release and strategy, its A10 types on the cards or on 4 VFs each."""

    def vfs(bus: str) -> str:
        if on == "card":
            return ""
        return ", vfs: [" + ", ".join(f'"0000:{bus}:00.{n}"' for n in range(4, 8)) + "]"

    text = VGPU_FLEET.format(
        number=number, strategy=strategy, on=on, slices=slices, vfs17=vfs("17"), vfs65=vfs("65")
    )
    return parse_fleet(text, source="<release matrix vgpu>", base_dir=Path())


def cases(release: Release) -> Iterator[tuple[str, Fleet]]:
    """Every combination of the matrix for `release`, labelled: the passthrough fleet per
    strategy, CPU mode and PCI-in-Placement; the vGPU fleet per strategy, vGPU placement
    (card, VFs) and, under placement, per-card or pooled slices; the vfio-variant VF fleet per
    strategy."""
    pci_modes = (False, True) if release.has("pci_report_in_placement") else (False,)
    strategies = [s for s in STRATEGIES if s != "auto"]
    for strategy in strategies:
        for cpu_mode in CPU_MODES:
            for pci in pci_modes:
                label = f"{release.number} {strategy} {cpu_mode}" + (" pci" if pci else "")
                yield label, sample_fleet(release.number, strategy, cpu_mode, pci)
    for strategy in strategies:
        for on in ("card", "vfs"):
            for slices in ("per_card", "pooled") if strategy == "placement" else ("per_card",):
                label = f"{release.number} {strategy} vgpu-{on} {slices}"
                try:
                    yield label, vgpu_fleet(release.number, strategy, on, slices)
                except InputError:
                    continue  # a fleet the loader refuses for this release is not rendered
        yield f"{release.number} {strategy} vfio-variant", variant_fleet(release.number, strategy)


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
        entries = parse_ini(text)
        listed = {(section, name): values for section, name, values in entries}
        return [_check_option(source, case, *entry, listed=listed) for entry in entries]
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
    source: ReleaseSource,
    case: str,
    section: str,
    name: str,
    values: list[str],
    listed: Mapping[tuple[str, str], list[str]] | None = None,
) -> Check:
    """One rendered option against the release: registered under that group and name (or in
    a dynamic group whose value the file lists, `[mdev_<type>]` for an enabled type), not only
    as a deprecated alias, with values that fit it. `listed` is the file's options."""
    subject = f"[{section}] {name}"
    registry = source.registry
    opt = registry.options.get((section, name))
    if opt is None:
        dynamic = registry.dynamic_option(section, name)
        if dynamic is not None:
            group, opt = dynamic
            problem = _dynamic_group_problem(group, section, listed or {}, source)
            return Check(case, subject, problem or value_problem(opt, values, source))
        real = registry.aliases.get((section, name))
        prefix = registry.dynamic_alias(section, name)
        problem = (
            f"only a deprecated alias of [{real[0]}] {real[1]} in nova {source.version}"
            if real
            else f"only a deprecated alias of [{prefix}<value>] {name} in nova {source.version}"
            if prefix
            else f"not an option of nova {source.version}"
        )
        return Check(case, subject, problem)
    return Check(case, subject, value_problem(opt, values, source))


def _dynamic_group_problem(
    group: DynamicGroup,
    section: str,
    listed: Mapping[tuple[str, str], list[str]],
    source: ReleaseSource,
) -> str | None:
    """Why nova would not register `[section]`: its value (after the prefix) is not among
    the values of the option nova loops over (`[devices] enabled_mdev_types`), or None."""
    if group.source is None:
        return None
    value = section[len(group.prefix) :]
    given = [v.strip() for line in listed.get(group.source, []) for v in line.split(",")]
    if value in given:
        return None
    where = f"[{group.source[0]}] {group.source[1]}"
    return f"nova {source.version} registers [{section}] only when {where} lists {value!r}"


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
    if opt.name in ("device_spec", "passthrough_whitelist", "pci_passthrough_whitelist"):
        for value in values:
            problem = spec_problem(value, source.spec_tags)
            if problem:
                return problem
    if opt.name == "device_addresses":
        bad = [a for a in values[0].split(",") if not _PCI_ADDRESS.fullmatch(a.strip())]
        if bad:
            return f"not PCI addresses (nova's parse_address refuses them): {', '.join(bad)}"
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
    if opt.regex is not None and re.search(opt.regex, value) is None:
        return f"{value!r} does not match {opt.regex}"
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
    checks.extend(_mdev_facts(source, case))
    managed = "managed" in source.spec_tags
    checks.append(
        Check(
            case,
            f"device_spec_managed = {managed}",
            None if managed == release.has("device_spec_managed") else "table differs",
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


def _mdev_facts(source: ReleaseSource, case: str) -> list[Check]:
    """The vGPU rows of the release table against nova's `conf/devices.py`: where the types
    option lives, which dynamic group prefix nova derives from its values, and which options
    that group has (`device_addresses`, `mdev_class`, `max_instances`)."""
    release, registry = source.release, source.registry
    where = release.fact("mdev_types_option")
    checks = [
        Check(
            case,
            f"mdev_types_option at {where}",
            None if where is None or tuple(where) in registry.options else "not registered there",
        )
    ]
    group = next(
        (g for g in registry.dynamic.values() if where is not None and g.source == tuple(where)),
        None,
    )
    prefix = group.prefix if group is not None else None
    wanted = release.fact("mdev_type_section_prefix")
    checks.append(
        Check(
            case,
            f"mdev_type_section_prefix = {wanted}",
            None if prefix == wanted else f"nova {source.version} registers {prefix}",
        )
    )
    has = set(group.options) if group is not None else set()
    for fact, option in (
        ("mdev_type_section_prefix", "device_addresses"),
        ("mdev_class", "mdev_class"),
        ("mdev_max_instances", "max_instances"),
    ):
        said = bool(release.fact(fact)) if fact != "mdev_type_section_prefix" else bool(wanted)
        checks.append(
            Check(
                case,
                f"[<prefix><type>] {option} = {said}",
                None if (option in has) == said else "table differs",
            )
        )
    return checks
