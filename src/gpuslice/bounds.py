"""The bounds every number and name gpuslice reads must keep, as nova and Placement accept them.

One table, read by the fleet file, the CPU set parser, the trace readers and cloud-objects.json:
- inventory amounts (memory, disk, flavor sizes) fit Placement's and nova's database integer,
  `MAX_INT` = 2**31 - 1 (placement/db/constants.py, nova/db/constants.py);
- allocation ratios are finite and above 0, at most Placement's `SQL_SP_FLOAT_MAX`;
- a host has at most `MAX_CPUS` CPUs (Linux's largest NR_CPUS), ids 0 to `MAX_CPUS - 1`;
- NUMA nodes are 0 to `MAX_NUMA_NODE` (Linux's MAX_NUMNODES - 1);
- a host has at most `MAX_GPUS_PER_HOST` GPUs (the functions one PCI bus can hold);
- times in traces are seconds from 0 to `MAX_SECONDS` (about 31,700 years);
- resource class and trait names follow Placement's own patterns (placement/schemas/common.py:
  `^[A-Z0-9_]+$`, custom ones `^CUSTOM_[A-Z0-9_]+$`, 255 characters at most), matched on the
  whole text (a trailing newline is not allowed);
- host and object names are at most `MAX_NAME` characters (nova's `fqdn` and `name` schemas).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Final

from pydantic import Field

MAX_INT: Final = 0x7FFFFFFF
MAX_RATIO: Final = 3.40282e38
MAX_CPUS: Final = 8192
MAX_NUMA_NODE: Final = 1023
MAX_GPUS_PER_HOST: Final = 256
MAX_SECONDS: Final = 1e12
MAX_NAME: Final = 255

RESOURCE_CLASS: Final = re.compile(r"[A-Z0-9_]{1,255}")
CUSTOM_NAME: Final = re.compile(r"CUSTOM_[A-Z0-9_]{1,248}")

CpuCount = Annotated[int, Field(gt=0, le=MAX_CPUS)]
CpuReserve = Annotated[int, Field(ge=0, le=MAX_CPUS)]
Amount = Annotated[int, Field(gt=0, le=MAX_INT)]
AmountOrZero = Annotated[int, Field(ge=0, le=MAX_INT)]
NumaNode = Annotated[int, Field(ge=0, le=MAX_NUMA_NODE)]
Ratio = Annotated[float, Field(gt=0, le=MAX_RATIO, allow_inf_nan=False)]


def is_resource_class(name: str, *, custom: bool) -> bool:
    """Whether Placement accepts `name` as a resource class or trait (custom: CUSTOM_ only)."""
    return (CUSTOM_NAME if custom else RESOURCE_CLASS).fullmatch(name) is not None


def finite_in(value: float, low: float, high: float) -> bool:
    """Whether `value` is a finite number from `low` to `high` (both included)."""
    return math.isfinite(value) and low <= value <= high
