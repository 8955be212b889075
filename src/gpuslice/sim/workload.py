"""Workloads: VM requests with arrival times and lifetimes, synthetic or read from traces.

A request is abstract (sizes and a GPU count); the simulator turns it into a flavor of each
strategy's plan: ordinary requests become a flavor of their size without extra specs, GPU
requests become the plan's GPU flavor scaled to their GPU count (sizes come from the slice).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np

from gpuslice.errors import InputError

LifetimeDist = Literal["exponential", "lognormal", "fixed"]


@dataclass(frozen=True)
class VmRequest:
    """One VM: created at `arrival` (seconds), deleted `lifetime` seconds later (None: never).

    `gpus` > 0 makes it a GPU VM; `alias` picks the GPU model (None: the plan's first).
    """

    arrival: float
    lifetime: float | None
    vcpus: int
    memory_mb: int
    disk_gb: int
    gpus: int = 0
    alias: str | None = None

    @property
    def is_gpu(self) -> bool:
        """Whether the VM asks for GPUs."""
        return self.gpus > 0


@dataclass(frozen=True)
class FlavorShape:
    """An ordinary flavor in the synthetic mix, with its relative weight."""

    vcpus: int
    memory_mb: int
    disk_gb: int
    weight: float = 1.0


@dataclass(frozen=True)
class GpuChoice:
    """A GPU VM shape in the synthetic mix: `gpus` GPUs of the model `alias`, by weight."""

    alias: str | None
    gpus: int = 1
    weight: float = 1.0


DEFAULT_MIX: tuple[FlavorShape, ...] = (
    FlavorShape(1, 2048, 20, 3),
    FlavorShape(2, 4096, 40, 4),
    FlavorShape(4, 8192, 80, 2),
    FlavorShape(8, 16384, 160, 1),
)


@dataclass(frozen=True)
class SyntheticSpec:
    """Parameters of the synthetic generator (all may come from options or a YAML file).

    Rules:
    - arrivals are a Poisson process (exponential gaps) of `requests` VMs;
    - a VM is a GPU VM with probability `gpu_share`, asking for one GPU; else it draws an
      ordinary flavor from `mix` by weight;
    - lifetimes are exponential, lognormal (sigma 1) or fixed with mean `lifetime_mean` seconds;
    - the arrival rate is set so that the ordinary VMs offer `load` times the cloud's vCPUs on
      average (Little's law: rate = load x vCPUs / (mean vCPUs x mean lifetime)); at 1.0 the
      cloud is about full, above it requests start being refused.
    """

    requests: int = 5000
    load: float = 0.9
    gpu_share: float = 0.05
    lifetime_mean: float = 3600.0
    lifetime_dist: LifetimeDist = "exponential"
    mix: tuple[FlavorShape, ...] = DEFAULT_MIX

    def __post_init__(self) -> None:
        if self.requests < 0:
            raise InputError(f"requests must be 0 or more, got {self.requests}")
        if not 0.0 <= self.gpu_share <= 1.0:
            raise InputError(f"gpu share must be between 0 and 1, got {self.gpu_share}")
        if self.load <= 0:
            raise InputError(f"load must be above 0, got {self.load}")
        if self.lifetime_mean <= 0:
            raise InputError(f"lifetime mean must be above 0 s, got {self.lifetime_mean}")
        if self.lifetime_dist not in ("exponential", "lognormal", "fixed"):
            msg = f"lifetime distribution {self.lifetime_dist!r}: exponential, lognormal or fixed"
            raise InputError(msg)
        if not self.mix or any(s.weight <= 0 or s.vcpus <= 0 for s in self.mix):
            raise InputError("flavor mix needs at least one flavor, each with vcpus and weight > 0")


def parse_mix(text: str) -> tuple[FlavorShape, ...]:
    """Read a flavor mix `VCPUSxMEMORYxDISK[:WEIGHT],...` (e.g. `2x4096x40:4,8x16384x160:1`)."""
    shapes: list[FlavorShape] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        size, _, weight = part.partition(":")
        try:
            vcpus, memory, disk = (int(x) for x in size.lower().split("x"))
            shapes.append(FlavorShape(vcpus, memory, disk, float(weight or 1)))
        except ValueError:
            msg = f"flavor mix entry {part!r}: write VCPUSxMEMORY_MBxDISK_GB[:WEIGHT]"
            raise InputError(msg, field="mix") from None
    if not shapes:
        raise InputError("the flavor mix is empty", field="mix")
    return tuple(shapes)


def spec_from_mapping(data: Mapping[str, Any], *, source: str = "<workload>") -> SyntheticSpec:
    """A SyntheticSpec from a mapping (a workload YAML file); unknown keys are errors."""
    known = {f.name for f in fields(SyntheticSpec)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            import difflib

            hint = difflib.get_close_matches(str(key), sorted(known), n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise InputError(f"unknown workload key {key!r}{extra}", source=source)
        values[key] = parse_mix(value) if key == "mix" and isinstance(value, str) else value
    try:
        return SyntheticSpec(**values)
    except TypeError as error:
        raise InputError(str(error), source=source) from None


@dataclass(frozen=True)
class Workload:
    """Requests sorted by arrival, with where they came from."""

    requests: tuple[VmRequest, ...]
    source: str = "synthetic"
    notes: tuple[str, ...] = field(default=())

    @property
    def gpu_requests(self) -> int:
        """How many requests ask for GPUs."""
        return sum(1 for r in self.requests if r.is_gpu)


def generate(
    spec: SyntheticSpec,
    *,
    vcpus: int,
    seed: int,
    gpu_vcpus: float = 0,
    gpu_choices: tuple[GpuChoice, ...] = (),
) -> Workload:
    """Draw a synthetic workload for a cloud of `vcpus` vCPUs (rules on `SyntheticSpec`).

    `gpu_vcpus` is what one GPU VM takes on average; it counts toward the offered load. With
    `gpu_choices`, each GPU VM draws its model and GPU count from them by weight (after every
    other draw, so the rest of the workload is the same); without, it asks one GPU of the
    plan's first model. The same spec, size, choices and seed give the same workload.
    """
    rng = np.random.default_rng(seed)
    n = spec.requests
    weights = np.array([s.weight for s in spec.mix], dtype=np.float64)
    weights /= weights.sum()
    mean_vcpus = float(sum(w * s.vcpus for w, s in zip(weights, spec.mix, strict=True)))
    mean_vcpus = (1 - spec.gpu_share) * mean_vcpus + spec.gpu_share * max(gpu_vcpus, 1)
    rate = spec.load * max(vcpus, 1) / (mean_vcpus * spec.lifetime_mean)
    gaps = rng.exponential(1.0 / rate, size=n)
    arrivals = np.cumsum(gaps)
    is_gpu = rng.random(n) < spec.gpu_share
    kinds = rng.choice(len(spec.mix), size=n, p=weights)
    if spec.lifetime_dist == "exponential":
        lifetimes = rng.exponential(spec.lifetime_mean, size=n)
    elif spec.lifetime_dist == "lognormal":
        sigma = 1.0
        lifetimes = rng.lognormal(math.log(spec.lifetime_mean) - sigma**2 / 2, sigma, size=n)
    else:
        lifetimes = np.full(n, spec.lifetime_mean)
    shapes = [GpuChoice(None, 1)] * n
    if gpu_choices:
        odds = np.array([c.weight for c in gpu_choices], dtype=np.float64)
        picks = rng.choice(len(gpu_choices), size=n, p=odds / odds.sum())
        shapes = [gpu_choices[int(k)] for k in picks]
    out: list[VmRequest] = []
    for i in range(n):
        if is_gpu[i]:
            shape_gpu = shapes[i]
            out.append(
                VmRequest(
                    float(arrivals[i]),
                    float(lifetimes[i]),
                    0,
                    0,
                    0,
                    gpus=shape_gpu.gpus,
                    alias=shape_gpu.alias,
                )
            )
        else:
            shape = spec.mix[int(kinds[i])]
            out.append(
                VmRequest(
                    float(arrivals[i]),
                    float(lifetimes[i]),
                    shape.vcpus,
                    shape.memory_mb,
                    shape.disk_gb,
                )
            )
    note = (
        f"synthetic: {n} requests, load {spec.load:g}, GPU share {spec.gpu_share:g}, "
        f"{spec.lifetime_dist} lifetimes of mean {spec.lifetime_mean:g} s, seed {seed}"
    )
    notes = [note]
    if gpu_choices:
        total = sum(c.weight for c in gpu_choices)
        notes.append(
            "GPU VMs: "
            + ", ".join(f"{c.gpus}x {c.alias or 'gpu'} {c.weight / total:.0%}" for c in gpu_choices)
        )
    return Workload(tuple(out), "synthetic", tuple(notes))
