"""The one table of OpenStack release facts that every planner and renderer reads.

Each fact is a list of `(first release number, value)` steps; the value holds from that release
on until the next step. A release check is written here once, never again elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from gpuslice.errors import InputError

RELEASE_NAMES: Final[dict[int, str]] = {
    14: "newton",
    15: "ocata",
    16: "pike",
    17: "queens",
    18: "rocky",
    19: "stein",
    20: "train",
    21: "ussuri",
    22: "victoria",
    23: "wallaby",
    24: "xena",
    25: "yoga",
    26: "zed",
    27: "2023.1",
    28: "2023.2",
    29: "2024.1",
    30: "2024.2",
    31: "2025.1",
    32: "2025.2",
    33: "2026.1",
    34: "2026.2",
}
SERIES_NAMES: Final[dict[str, str]] = {
    "2023.1": "antelope",
    "2023.2": "bobcat",
    "2024.1": "caracal",
    "2024.2": "dalmatian",
    "2025.1": "epoxy",
    "2025.2": "flamingo",
    "2026.1": "gazpacho",
    "2026.2": "hibiscus",
}


@dataclass(frozen=True, order=True)
class Release:
    """An OpenStack release, ordered by nova's major version (Newton = 14)."""

    number: int

    @property
    def name(self) -> str:
        """The release's name as operators write it (`newton`, `2025.1`)."""
        return RELEASE_NAMES[self.number]

    def __str__(self) -> str:
        return f"{self.name} ({self.number})"

    def fact(self, key: str) -> Any:
        """The value of fact `key` for this release (see `FACTS`)."""
        value: Any = None
        for since, step_value in FACTS[key]:
            if self.number >= since:
                value = step_value
        return value

    def has(self, key: str) -> bool:
        """Whether the boolean fact `key` is true for this release."""
        return bool(self.fact(key))


OLDEST: Final = min(RELEASE_NAMES)
NEWEST: Final = max(RELEASE_NAMES)

# The tail of nova's default enabled filters in every release.
_COMMON_FILTERS: Final = (
    "ComputeFilter",
    "ComputeCapabilitiesFilter",
    "ImagePropertiesFilter",
    "ServerGroupAntiAffinityFilter",
    "ServerGroupAffinityFilter",
)

# Option locations are (section, option). None means the release has no such thing.
FACTS: Final[dict[str, list[tuple[int, Any]]]] = {
    "passthrough_spec": [
        (14, ("DEFAULT", "pci_passthrough_whitelist")),
        (15, ("pci", "passthrough_whitelist")),
        (26, ("pci", "device_spec")),
    ],
    "pci_alias": [(14, ("DEFAULT", "pci_alias")), (15, ("pci", "alias"))],
    # nova 15's conf/scheduler.py already registers [filter_scheduler] enabled_filters (with
    # [DEFAULT] scheduler_default_filters as its deprecated name): only Newton reads the old one.
    "scheduler_filters": [
        (14, ("DEFAULT", "scheduler_default_filters")),
        (15, ("filter_scheduler", "enabled_filters")),
    ],
    "shared_cpus": [(14, ("DEFAULT", "vcpu_pin_set")), (20, ("compute", "cpu_shared_set"))],
    "dedicated_cpus": [(14, None), (20, ("compute", "cpu_dedicated_set"))],
    "reserved_host_cpus": [(14, False), (16, True)],
    "resource_overrides_in_flavor": [(14, False), (16, True)],
    "provider_yaml": [(14, False), (22, True)],
    "isolated_aggregates": [(14, False), (20, True)],
    "pci_weigher": [(14, False), (16, True)],
    "disk_weigher": [(14, False), (15, True)],
    # what nova uses where no config sets the ratios (cpu, ram, disk): before Stein a 0.0
    # default that the compute node read as 16.0/1.5/1.0, from Stein `initial_*_allocation_
    # ratio`, whose defaults became 4.0/1.0/1.0 in 2023.1 (nova 26 vs 27 conf/compute.py)
    "initial_allocation_ratios": [(14, (16.0, 1.5, 1.0)), (27, (4.0, 1.0, 1.0))],
    "pci_report_in_placement": [(14, False), (26, True)],
    "pci_in_placement_scheduling": [(14, False), (27, True)],
    "device_spec_resource_class": [(14, False), (26, True)],
    # device_spec's `managed` tag (nova 31 pci/devspec.py `enhanced_pci_device_with_spec_tags`):
    # "no" keeps libvirt from rebinding a VF to vfio-pci (VFs of a vendor vfio variant driver).
    "device_spec_managed": [(14, False), (31, True)],
    "placement_mandatory": [(14, False), (15, True)],
    "compute_id_file": [(14, False), (27, True)],
    "pcpu_fallback_workaround": [(14, False), (20, True)],
    # placement's own options, read from openstack-placement 12.0.0 to 15.0.0 (nova N ships with
    # placement N - 18): max_allocation_candidates and allocation_candidates_generation_strategy
    # from 13 (2025.1), [workarounds] optimize_for_wide_provider_trees from 15 (2026.1).
    "placement_max_candidates": [(14, False), (31, True)],
    "placement_wide_trees": [(14, False), (33, True)],
    # [quota] driver = nova.quota.UnifiedLimitsDriver (nova 25 conf/quota.py). Up to 30 every
    # resource class a flavor asks for is enforced and one without a registered limit gets 0;
    # from 31 only the classes [quota] unified_limits_resource_list names (default: servers).
    "unified_limits_driver": [(14, False), (25, True)],
    # nova 25..27 list the driver as "Do not use. Still being developed." (conf/quota.py).
    "unified_limits_experimental": [(14, False), (25, True), (28, False)],
    "unified_limits_resource_list": [(14, False), (31, True)],
    # nova 30 `_create_mdev` defines each mdev through libvirt (persisted by mdevctl).
    "mdev_persisted_by_libvirt": [(14, False), (30, True)],
    # vGPU (mdev), read from nova's own nova/conf/devices.py: 17 registers `[devices]
    # enabled_vgpu_types` (only its first type is used); 21 adds `[vgpu_<type>]
    # device_addresses` (one type per physical GPU); 24 renames them `enabled_mdev_types` and
    # `[mdev_<type>]` and adds `mdev_class`; 29 adds `[mdev_<type>] max_instances`.
    "mdev_types_option": [
        (14, None),
        (17, ("devices", "enabled_vgpu_types")),
        (24, ("devices", "enabled_mdev_types")),
    ],
    "mdev_type_section_prefix": [(14, None), (21, "vgpu_"), (24, "mdev_")],
    "mdev_class": [(14, False), (24, True)],
    "mdev_max_instances": [(14, False), (29, True)],
    # nova's default enabled filters (the plan adds what it needs to these), read from nova's
    # own nova/conf/scheduler.py of 16.1.8, 17.0.13, 18.3.0, 19.3.2, 20.6.1, 21.2.4, 22.4.0,
    # 23.2.2, 24.2.1 and 34.0.0 (scripts/test-releases checks every release 15..34 against its
    # nova). Newton (not on PyPI) as its docs list it.
    "default_filters": [
        (
            14,
            ("RetryFilter", "AvailabilityZoneFilter", "RamFilter", "DiskFilter", *_COMMON_FILTERS),
        ),
        (16, ("RetryFilter", "AvailabilityZoneFilter", *_COMMON_FILTERS)),
        (20, ("AvailabilityZoneFilter", *_COMMON_FILTERS)),
        (24, _COMMON_FILTERS),
    ],
}

_YEAR_FORM = re.compile(r"^20\d\d\.[12]$")


def parse_release(value: object, *, source: str | None = None, line: int | None = None) -> Release:
    """Read a release given as a name (`newton`, `epoxy`), number (14..34) or year form (`2025.1`).

    Unknown releases are an `InputError` that lists what is accepted.
    """
    text = str(value).strip().lower()
    by_name = {name: number for number, name in RELEASE_NAMES.items()}
    by_name.update({series: by_name[year] for year, series in SERIES_NAMES.items()})
    if text in by_name:
        return Release(by_name[text])
    if text.isdigit() and int(text) in RELEASE_NAMES:
        return Release(int(text))
    hint = "a year form such as 2025.1" if _YEAR_FORM.match(text) else "a name such as newton"
    msg = (
        f"unknown OpenStack release {value!r}; use {hint}, or a nova major version "
        f"{OLDEST}..{NEWEST} (newton={OLDEST}, {RELEASE_NAMES[NEWEST]}={NEWEST})"
    )
    raise InputError(msg, source=source, line=line, field="release")
