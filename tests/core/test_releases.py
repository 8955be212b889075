from __future__ import annotations

import pytest

from gpuslice.errors import InputError
from gpuslice.releases import NEWEST, OLDEST, RELEASE_NAMES, Release, parse_release


@pytest.mark.parametrize(
    ("given", "number"),
    [
        ("newton", 14),
        ("Newton", 14),
        (14, 14),
        ("2025.1", 31),
        ("epoxy", 31),
        ("2026.2", 34),
        ("zed", 26),
        ("antelope", 27),
    ],
)
def test_names_numbers_and_year_forms(given: object, number: int) -> None:
    assert parse_release(given).number == number


@pytest.mark.parametrize("given", ["mitaka", "13", "2019.1", "35"])
def test_unknown_release_names_the_field_and_what_is_accepted(given: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_release(given, source="fleet.yaml", line=1)
    message = str(caught.value)
    assert message.startswith("fleet.yaml:1: release: unknown OpenStack release")
    assert f"{OLDEST}..{NEWEST}" in message


def test_every_release_has_every_fact() -> None:
    from gpuslice.releases import FACTS

    for number in RELEASE_NAMES:
        for key in FACTS:
            Release(number).fact(key)  # no KeyError, a value for each


@pytest.mark.parametrize(
    ("number", "spec", "alias", "filters"),
    [
        (
            14,
            ("DEFAULT", "pci_passthrough_whitelist"),
            ("DEFAULT", "pci_alias"),
            ("DEFAULT", "scheduler_default_filters"),
        ),
        # Ocata: nova 15.1.5 conf/scheduler.py registers [filter_scheduler] enabled_filters,
        # with [DEFAULT] scheduler_default_filters only as its deprecated name.
        (
            15,
            ("pci", "passthrough_whitelist"),
            ("pci", "alias"),
            ("filter_scheduler", "enabled_filters"),
        ),
        (
            16,
            ("pci", "passthrough_whitelist"),
            ("pci", "alias"),
            ("filter_scheduler", "enabled_filters"),
        ),
        (26, ("pci", "device_spec"), ("pci", "alias"), ("filter_scheduler", "enabled_filters")),
        (34, ("pci", "device_spec"), ("pci", "alias"), ("filter_scheduler", "enabled_filters")),
    ],
)
def test_option_locations_follow_the_table(
    number: int, spec: tuple[str, str], alias: tuple[str, str], filters: tuple[str, str]
) -> None:
    release = Release(number)
    assert release.fact("passthrough_spec") == spec
    assert release.fact("pci_alias") == alias
    assert release.fact("scheduler_filters") == filters


def test_pci_passthrough_filter_is_in_no_default_list() -> None:
    for number in RELEASE_NAMES:
        assert "PciPassthroughFilter" not in Release(number).fact("default_filters")
