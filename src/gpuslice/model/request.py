"""The model's requests: the one flavor reader (`gpuslice.flavor_request`), under the model.

The reader lives outside the model package so that the planner and the audit read flavors
with it without importing the model (and numpy).
"""

from __future__ import annotations

from gpuslice.flavor_request import (
    DISK_GB,
    HYPERTHREADING,
    MEMORY_MB,
    PCPU,
    VCPU,
    FlavorLike,
    RequestGroup,
    RequestSpec,
    parse_pci_alias_spec,
    repeat_groups,
    request_from_flavor,
    request_from_specs,
    scale_request,
)

__all__ = [
    "DISK_GB",
    "HYPERTHREADING",
    "MEMORY_MB",
    "PCPU",
    "VCPU",
    "FlavorLike",
    "RequestGroup",
    "RequestSpec",
    "parse_pci_alias_spec",
    "repeat_groups",
    "request_from_flavor",
    "request_from_specs",
    "scale_request",
]
