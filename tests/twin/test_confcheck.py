"""Rendered nova.conf checked against a registry of oslo.config options (nova's, in real runs)."""

from __future__ import annotations

from oslo_config import cfg

from gpuslice.twin.confcheck import canonical, check_entries, registry_from_list_opts
from gpuslice.twin.ini import parse_ini

REGISTRY = registry_from_list_opts(
    [
        (
            "DEFAULT",
            [
                cfg.IntOpt("reserved_host_cpus", min=0),
                cfg.FloatOpt("cpu_allocation_ratio"),
            ],
        ),
        (
            cfg.OptGroup("pci"),
            [
                cfg.MultiStrOpt(
                    "alias", deprecated_opts=[cfg.DeprecatedOpt("pci_alias", group="DEFAULT")]
                ),
                cfg.MultiStrOpt("device_spec"),
            ],
        ),
        ("filter_scheduler", [cfg.ListOpt("enabled_filters")]),
        ("compute", [cfg.BoolOpt("cpu_dedicated_only")]),
    ]
)


def findings(text: str) -> list[str]:
    return [str(f) for f in check_entries(parse_ini(text, "h/nova.conf"), REGISTRY)]


def test_known_options_with_good_values_pass() -> None:
    text = (
        "[DEFAULT]\nreserved_host_cpus = 2\ncpu_allocation_ratio = 1.0\n"
        '[pci]\nalias = {"name": "a"}\nalias = {"name": "b"}\n'
        "[filter_scheduler]\nenabled_filters = ComputeFilter,PciPassthroughFilter\n"
    )
    assert findings(text) == []


def test_unknown_section_names_file_line_and_hint() -> None:
    assert findings("[filter_schedular]\nenabled_filters = A\n") == [
        "h/nova.conf:2: [filter_schedular] enabled_filters: unknown section "
        "[filter_schedular] for nova; did you mean [filter_scheduler]?"
    ]


def test_unknown_option_names_file_line_and_hint() -> None:
    assert findings("[pci]\n\naliass = {}\n") == [
        "h/nova.conf:3: [pci] aliass: unknown option in [pci] for nova; did you mean alias?"
    ]


def test_bad_values_are_errors() -> None:
    found = check_entries(
        parse_ini("[DEFAULT]\nreserved_host_cpus = -1\n[compute]\ncpu_dedicated_only = maybe\n", "f"),
        REGISTRY,
    )
    assert [(f.entry.line, f.fatal) for f in found] == [(2, True), (4, True)]
    assert "bad value '-1'" in str(found[0])


def test_a_single_valued_option_set_twice_is_an_error_a_multi_one_is_not() -> None:
    text = "[DEFAULT]\nreserved_host_cpus = 2\nreserved_host_cpus = 3\n"
    assert findings(text) == [
        "h/nova.conf:3: [DEFAULT] reserved_host_cpus: set twice (first at line 2); "
        "only one value is read"
    ]


def test_deprecated_name_is_a_warning_and_canonical_renames_it() -> None:
    entries = parse_ini('[DEFAULT]\npci_alias = {"name": "gpu"}\nnonsense = 1\n', "f")
    found = check_entries(entries, REGISTRY)
    assert [(f.entry.name, f.fatal) for f in found] == [("pci_alias", False), ("nonsense", True)]
    assert "nova reads it as [pci] alias" in found[0].text
    renamed = canonical(entries, REGISTRY)
    assert [(e.section, e.name, e.line) for e in renamed] == [("pci", "alias", 2)]
