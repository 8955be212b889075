"""Compare strategies side by side: the same fleet, workload and seed for each.

Rules:
- each strategy is planned with the core planner; one the release cannot carry (split after
  Newton, placement before Victoria, ...) is skipped with the planner's reason;
- the cost to ordinary VMs is measured against `none` (planned for the baseline even when not
  simulated): the share of vCPUs and RAM that ordinary flavors can no longer reach, and the
  difference in ordinary acceptance when `none` ran too;
- a fleet with vGPU models simulated under placement on Victoria+ also runs the other
  `vgpu_slices` form beside the fleet's own, as `placement/pooled` (or `placement/per_card`):
  tied and pooled slices side by side, with `none` showing vGPUs without a slice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from gpuslice.errors import InputError
from gpuslice.fleet import Fleet, GpuModel, VgpuSlices
from gpuslice.plan import STRATEGIES, make_plan
from gpuslice.plan.types import Plan
from gpuslice.sim.engine import Capacity, Progress, StrategyResult, capacities, run
from gpuslice.sim.workload import GpuChoice, SyntheticSpec, Workload, generate

ALL_STRATEGIES: tuple[str, ...] = tuple(STRATEGIES)


@dataclass(frozen=True)
class Skipped:
    """A strategy not simulated, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class Simulation:
    """Every strategy's result on one workload, with the baseline for costs."""

    fleet_source: str
    release: str
    seed: int
    workload_source: str
    workload_notes: tuple[str, ...]
    results: tuple[StrategyResult, ...]
    skipped: tuple[Skipped, ...]
    baseline: Capacity

    def result(self, name: str) -> StrategyResult:
        """The result of strategy `name`; KeyError when it was not simulated."""
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def cost(self, result: StrategyResult) -> tuple[float, float]:
        """Share (0..1) of the baseline's ordinary vCPUs and RAM that `result` takes away."""
        base = self.baseline
        cpu = 1 - result.ordinary_capacity.vcpus / base.vcpus if base.vcpus else 0.0
        ram = 1 - result.ordinary_capacity.memory_mb / base.memory_mb if base.memory_mb else 0.0
        return cpu, ram

    def acceptance_delta(self, result: StrategyResult) -> float | None:
        """Ordinary acceptance of `result` minus that of `none` (None when none did not run)."""
        try:
            none = self.result("none")
        except KeyError:
            return None
        return result.ordinary_acceptance - none.ordinary_acceptance


def parse_strategies(text: str) -> tuple[str, ...]:
    """Read `none,weigher,...`; unknown names are an InputError."""
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    for name in names:
        if name not in ALL_STRATEGIES:
            msg = f"unknown strategy {name!r}; choose from {', '.join(ALL_STRATEGIES)}"
            raise InputError(msg, field="--strategies")
    if not names:
        raise InputError("no strategy given", field="--strategies")
    return names


def plans_for(fleet: Fleet, strategies: Sequence[str]) -> tuple[list[Plan], list[Skipped]]:
    """Plan each strategy; those the planner refuses are skipped with its reason."""
    plans: list[Plan] = []
    skipped: list[Skipped] = []
    for name in strategies:
        try:
            plans.append(make_plan(fleet, name))
        except InputError as error:
            skipped.append(Skipped(name, error.detail))
    return plans, skipped


def fleet_vcpus(fleet: Fleet) -> int:
    """Every CPU of every hypervisor of the fleet."""
    return sum(len(h.cpus) for h in fleet.hosts)


def menu_choices(fleet: Fleet) -> tuple[GpuChoice, ...]:
    """Every GPU model in use and every flavor size of its menu, as synthetic GPU VM shapes.

    A model's share of GPU demand follows its share of the fleet's GPUs; within a model each
    flavor size brings the same GPU demand (a k-GPU shape weighs 1/k). A vGPU model's shapes
    ask vGPUs: its demand is its cards' vGPUs, and a v-vGPU shape weighs 1/v of it. A fleet
    with one model and one 1-GPU flavor gets none (GPU VMs then ask the plan's first model).
    """
    counts: dict[tuple[str | None, str | None], int] = {}
    for host in fleet.hosts:
        for gpu in host.gpus:
            key = (gpu.vendor_id, gpu.product_id)
            counts[key] = counts.get(key, 0) + 1
    choices = [
        GpuChoice(model.alias, size, counts[key] * per / (size * len(sizes)))
        for model in fleet.used_models
        if (key := (model.vendor_id, model.product_id)) in counts
        for per, sizes in [_menu_sizes(model)]
        for size in sizes
    ]
    if len(choices) == 1 and choices[0].gpus == 1:
        return ()
    return tuple(choices)


def _menu_sizes(model: GpuModel) -> tuple[int, tuple[int, ...]]:
    """(devices per card, the menu's sizes): GPUs for passthrough, vGPUs for a vGPU model."""
    if model.vgpu is not None:
        return model.vgpu.vgpus_per_gpu, tuple(sorted(i.vgpus for i in model.vgpu.flavors))
    return 1, tuple(item.gpus for item in model.menu)


def _menu_vcpus(model: GpuModel) -> dict[int, int]:
    """vCPUs of each menu size of `model` (GPUs, or vGPUs for a vGPU model)."""
    if model.vgpu is not None:
        return {i.vgpus: i.size(model.slice).vcpus for i in model.vgpu.flavors}
    return {item.gpus: item.size(model.slice).vcpus for item in model.menu}


def synthetic_for(fleet: Fleet, spec: SyntheticSpec, seed: int) -> Workload:
    """A synthetic workload sized for `fleet`, its GPU VMs over every model and size of the menu."""
    choices = menu_choices(fleet)
    if choices:
        sizes = {
            (m.alias, size): vcpus
            for m in fleet.used_models
            for size, vcpus in _menu_vcpus(m).items()
        }
        total = sum(c.weight for c in choices)
        gpu_vcpus = sum(c.weight * sizes[(c.alias or "", c.gpus)] for c in choices) / total
    else:
        gpu_vcpus = fleet.models[0].slice.vcpus if fleet.models else 0
    return generate(
        spec, vcpus=fleet_vcpus(fleet), seed=seed, gpu_vcpus=gpu_vcpus, gpu_choices=choices
    )


def simulate(
    fleet: Fleet,
    workload: Workload,
    *,
    strategies: Sequence[str] = ALL_STRATEGIES,
    seed: int = 0,
    samples: int = 200,
    progress: Callable[[str], Progress | None] | None = None,
) -> Simulation:
    """Run `workload` under every strategy in `strategies` (rules in the module docstring).

    `progress(name)` may return a callback that `run` reports (done, total) to.
    """
    plans, skipped = plans_for(fleet, strategies)
    if not plans:
        reasons = "; ".join(f"{s.name}: {s.reason}" for s in skipped)
        raise InputError(f"no strategy can be planned for this fleet ({reasons})")
    named: list[tuple[str, Plan]] = [(p.strategy, p) for p in plans]
    for plan in plans:
        named.extend(vgpu_contrast(fleet, plan))
    baseline_plan = next((p for p in plans if p.strategy == "none"), None)
    if baseline_plan is None:
        baseline_plan = make_plan(fleet, "none")
    from gpuslice.model import Scheduler, from_plan
    from gpuslice.sim.engine import FlavorBook

    base_scheduler = Scheduler(from_plan(baseline_plan))
    baseline, _ = capacities(base_scheduler, FlavorBook(baseline_plan, base_scheduler))
    results = [
        run(
            plan,
            workload,
            seed=seed,
            samples=samples,
            progress=progress(name) if progress is not None else None,
            name=name,
        )
        for name, plan in named
    ]
    return Simulation(
        fleet_source=fleet.source,
        release=str(fleet.release),
        seed=seed,
        workload_source=workload.source,
        workload_notes=workload.notes,
        results=tuple(results),
        skipped=tuple(skipped),
        baseline=baseline,
    )


def vgpu_contrast(fleet: Fleet, plan: Plan) -> list[tuple[str, Plan]]:
    """The plan of the other `vgpu_slices` form, named `placement/<form>`, where `plan` is
    placement on Victoria+ for a fleet with vGPU models (else nothing)."""
    if not fleet.vgpu_models or plan.strategy != "placement":
        return []
    if not fleet.release.has("provider_yaml"):
        return []
    other: VgpuSlices = "pooled" if fleet.vgpu_slices == "per_card" else "per_card"
    return [(f"placement/{other}", make_plan(replace(fleet, vgpu_slices=other), "placement"))]


def to_json(sim: Simulation) -> dict[str, object]:
    """The JSON form (DESIGN.md's contract: `strategies` with the counts and wall_seconds)."""
    strategies: list[dict[str, object]] = []
    for r in sim.results:
        cpu_cost, ram_cost = sim.cost(r)
        strategies.append(
            {
                "name": r.name,
                "release": r.release,
                "planned_promise": r.promise,
                "promise_kept": r.promise_kept,
                "gpu_requests": r.gpu_requests,
                "gpu_accepted": r.gpu_accepted,
                "gpu_refused_while_free": r.gpu_refused_while_free,
                "gpu_refused_fragmented": r.gpu_refused_fragmented,
                "vgpu_form": r.vgpu_form or None,
                "vgpu_requests": r.vgpu_requests,
                "vgpu_accepted": r.vgpu_accepted,
                "vgpu_refused_while_free": r.vgpu_refused_while_free,
                "vgpu_refused_fragmented": r.vgpu_refused_fragmented,
                "by_flavor": [
                    {
                        "alias": f.alias,
                        "kind": f.kind,
                        "gpus": f.gpus,
                        "flavor": f.flavor,
                        "requests": f.requests,
                        "accepted": f.accepted,
                        "refused_while_free": f.refused_while_free,
                        "refused_fragmented": f.refused_fragmented,
                    }
                    for f in r.by_flavor
                ],
                "ordinary_requests": r.ordinary_requests,
                "ordinary_accepted": r.ordinary_accepted,
                "gpu_acceptance": r.gpu_acceptance,
                "ordinary_acceptance": r.ordinary_acceptance,
                "ordinary_acceptance_vs_none": sim.acceptance_delta(r),
                "ordinary_capacity": {
                    "vcpus": r.ordinary_capacity.vcpus,
                    "memory_mb": r.ordinary_capacity.memory_mb,
                },
                "ordinary_capacity_cost_vs_none": {"vcpus": cpu_cost, "memory_mb": ram_cost},
                "gpu_only_capacity": {
                    "vcpus": r.gpu_only_capacity.vcpus,
                    "memory_mb": r.gpu_only_capacity.memory_mb,
                },
                "held_idle_mean": {
                    "vcpus": r.held_idle_vcpus_mean,
                    "memory_mb": r.held_idle_memory_mb_mean,
                },
                "utilisation_mean": {
                    "cpu": r.cpu_mean,
                    "ram": r.ram_mean,
                    "gpu": r.gpu_mean,
                    "vgpu": r.vgpu_mean,
                },
                "first_break": list(r.first_break),
                "series": {
                    "times": list(r.series.times),
                    "cpu": list(r.series.cpu),
                    "ram": list(r.series.ram),
                    "gpu": list(r.series.gpu),
                    "held_idle_vcpus": list(r.series.held_idle_vcpus),
                    "ordinary_refused": list(r.series.ordinary_refused),
                    "gpu_refused": list(r.series.gpu_refused),
                    "gpu_refused_while_free": list(r.series.gpu_refused_while_free),
                    "vgpu": list(r.series.vgpu),
                },
                "wall_seconds": r.wall_seconds,
            }
        )
    return {
        "fleet": sim.fleet_source,
        "release": sim.release,
        "seed": sim.seed,
        "workload": {"source": sim.workload_source, "notes": list(sim.workload_notes)},
        "strategies": strategies,
        "skipped": [{"name": s.name, "reason": s.reason} for s in sim.skipped],
    }
