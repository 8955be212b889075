"""The release check's parts on small nova-shaped sources (scripts/test-releases runs them on
every real nova 15..34)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuslice.releasecheck.matrix import (
    ReleaseSource,
    check_facts,
    check_file,
    filter_classes,
    parse_ini,
)
from gpuslice.releasecheck.options import registered_options
from gpuslice.releasecheck.pci import alias_problem, alias_schema
from gpuslice.releasecheck.source import NOVA_VERSIONS, cache_dir, wheel_path
from gpuslice.releases import RELEASE_NAMES, Release

SCHEDULER = """
from oslo_config import cfg

GROUP = "filter_scheduler"
scheduler_group = cfg.OptGroup(name="scheduler")
filter_scheduler_group = cfg.OptGroup(GROUP, title="Filter scheduler options")
filter_opts = [
    cfg.ListOpt("enabled_filters",
        default=["ComputeFilter", "PciPassthroughFilter"],
        deprecated_name="scheduler_default_filters",
        deprecated_group="DEFAULT"),
    cfg.FloatOpt("pci_weight_multiplier", default=1.0, min=0.0),
]
extra_opts = [cfg.StrOpt("driver", choices=[("db", "the database"), ("noop", "nothing")])]
pci_opts = [
    cfg.MultiStrOpt("alias", deprecated_opts=[cfg.DeprecatedOpt("pci_alias", group="DEFAULT")]),
    cfg.IntOpt("count", min=1, max=4),
]
ALL_OPTS = filter_opts + list(extra_opts)


def register_opts(conf):
    conf.register_group(filter_scheduler_group)
    conf.register_opts(ALL_OPTS, group=filter_scheduler_group)
    conf.register_opts(pci_opts, group="pci")
    conf.register_opt(cfg.BoolOpt("debug"))
    for name in conf.dynamic:
        conf.register_opt(cfg.StrOpt("x"), group="dyn_%s" % name)
"""


def source(number: int = 34, text: str = SCHEDULER) -> ReleaseSource:
    sources = {"nova/conf/scheduler.py": text}
    return ReleaseSource(
        release=Release(number),
        version=f"{number}.0.0",
        registry=registered_options(sources),
        schema=None,
        validate=None,
        filters=frozenset({"ComputeFilter", "PciPassthroughFilter"}),
    )


def test_options_are_read_with_their_group_kind_choices_and_deprecated_names() -> None:
    registry = source().registry
    assert set(registry.options) == {
        ("filter_scheduler", "enabled_filters"),
        ("filter_scheduler", "pci_weight_multiplier"),
        ("filter_scheduler", "driver"),
        ("pci", "alias"),
        ("pci", "count"),
        ("DEFAULT", "debug"),
    }  # the dynamic group is left out: its name is known only at run time
    enabled = registry.options[("filter_scheduler", "enabled_filters")]
    assert enabled.kind == "ListOpt"
    assert enabled.default == ["ComputeFilter", "PciPassthroughFilter"]
    assert registry.options[("filter_scheduler", "driver")].choices == ("db", "noop")
    assert registry.options[("pci", "alias")].multi
    assert registry.aliases == {
        ("DEFAULT", "scheduler_default_filters"): ("filter_scheduler", "enabled_filters"),
        ("DEFAULT", "pci_alias"): ("pci", "alias"),
    }


def problems(text: str, number: int = 34) -> dict[str, str | None]:
    return {
        check.subject: check.problem
        for check in check_file(source(number), "case", "ctl1/etc/nova/nova.conf", text)
    }


def test_a_deprecated_alias_or_an_unknown_option_fails() -> None:
    found = problems(
        "[DEFAULT]\nscheduler_default_filters = ComputeFilter\nno_such = 1\n"
        "[filter_scheduler]\nenabled_filters = ComputeFilter,PciPassthroughFilter\n"
    )
    assert found == {
        "[DEFAULT] scheduler_default_filters": "only a deprecated alias of "
        "[filter_scheduler] enabled_filters in nova 34.0.0",
        "[DEFAULT] no_such": "not an option of nova 34.0.0",
        "[filter_scheduler] enabled_filters": None,
    }


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("[pci]\ncount = 2\n", None),
        ("[pci]\ncount = two\n", "'two' is not a int"),
        ("[pci]\ncount = 5\n", "5 is above the maximum 4"),
        ("[pci]\ncount = 0\n", "0 is below the minimum 1"),
        ("[filter_scheduler]\ndriver = noop\n", None),
        ("[filter_scheduler]\ndriver = nova.quota.Other\n", "is not one of db, noop"),
        ("[DEFAULT]\ndebug = maybe\n", "'maybe' is not a boolean"),
        ("[pci]\ncount = 1\ncount = 2\n", "IntOpt takes one value, 2 given"),
        ("[pci]\nalias = {}\nalias = {}\n", None),
        ("[filter_scheduler]\nenabled_filters = ComputeFilter,RamFilter\n", "no such filter"),
    ],
)
def test_values_must_fit_the_options_type_bounds_and_choices(
    line: str, problem: str | None
) -> None:
    (found,) = problems(line).values()
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_rendered_ini_is_read_as_oslo_config_reads_it() -> None:
    text = "# header\n[DEFAULT]\n# rule\na = 1\n\n[pci]\nalias = x\nalias = y\n"
    assert parse_ini(text) == [("DEFAULT", "a", ["1"]), ("pci", "alias", ["x", "y"])]


def test_a_wrong_fact_in_the_table_fails() -> None:
    # Release 34's table says reserved_host_cpus, pci_weight_multiplier and more exist; this
    # nova registers none of them, and its default filter list is not the table's.
    failed = {c.subject: c.problem for c in check_facts(source(34)) if not c.ok}
    assert failed["reserved_host_cpus = False ([DEFAULT] reserved_host_cpus)"] == (
        "table says True"
    )
    assert "pci_weigher = True ([filter_scheduler] pci_weight_multiplier)" not in failed
    assert failed["default_filters"].startswith("nova 34.0.0 has ('ComputeFilter',")


def test_filter_classes_are_the_classes_of_the_filter_modules() -> None:
    sources = {
        "nova/scheduler/filters/ram_filter.py": "class RamFilter(object):\n    pass\n",
        "nova/scheduler/filters/__init__.py": "class BaseHostFilter:\n    pass\n",
        "nova/conf/x.py": "class NotAFilter:\n    pass\n",
    }
    assert filter_classes(sources) == {"RamFilter", "BaseHostFilter"}


def test_every_release_from_ocata_has_a_pinned_nova_version() -> None:
    assert sorted(NOVA_VERSIONS) == [n for n in sorted(RELEASE_NAMES) if n >= 15]
    assert all(v.startswith(f"{n}.") for n, v in NOVA_VERSIONS.items())


OCATA = wheel_path(NOVA_VERSIONS[15], cache_dir())


@pytest.mark.skipif(OCATA is None, reason="nova 15.1.5 is not cached; scripts/test-releases")
def test_ocata_reads_filter_scheduler_enabled_filters_in_its_own_code() -> None:
    from gpuslice.releasecheck.source import read_sources

    assert isinstance(OCATA, Path)
    registry = registered_options(read_sources(OCATA))
    assert ("filter_scheduler", "enabled_filters") in registry.options
    assert registry.aliases[("DEFAULT", "scheduler_default_filters")] == (
        "filter_scheduler",
        "enabled_filters",
    )
    assert Release(15).fact("scheduler_filters") == ("filter_scheduler", "enabled_filters")


REQUEST = """
from nova.objects import fields as obj_fields

_ALIAS_DEV_TYPE = [obj_fields.PciDeviceType.STANDARD, obj_fields.PciDeviceType.SRIOV_PF]
_ALIAS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "vendor_id": {"type": "string"},
        "device_type": {"type": "string", "enum": _ALIAS_DEV_TYPE},
    },
    "required": ["name"],
}
"""
FIELDS = """
class PciDeviceType(BaseNovaEnum):
    STANDARD = "type-PCI"
    SRIOV_PF = "type-PF"
    SRIOV_VF = "type-VF"
    ALL = (STANDARD, SRIOV_PF, SRIOV_VF)
"""


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('{"name": "gpu", "vendor_id": "10de", "device_type": "type-PF"}', None),
        ('{"name": "gpu", "numa_policy": "legacy"}', "forbids: numa_policy"),
        ('{"vendor_id": "10de"}', "missing name"),
        ('{"name": "gpu", "device_type": "type-VF"}', "device_type 'type-VF' is not one of"),
        ('[{"name": "gpu"}]', "not one JSON object"),
        ("{name: gpu}", "not JSON"),
    ],
)
def test_alias_lines_must_pass_the_releases_alias_schema(value: str, problem: str | None) -> None:
    schema = alias_schema({"nova/pci/request.py": REQUEST, "nova/objects/fields.py": FIELDS})
    assert schema is not None
    assert schema.device_types == {"type-PCI", "type-PF"}
    found = alias_problem(value, schema)
    assert found is None if problem is None else (found is not None and problem in found)
