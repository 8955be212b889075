"""The event loop: run one strategy's plan under a workload and count what happened.

Rules:
- events are taken in time order; at equal times deletions come before creations, and among
  equals the earlier-scheduled one first (a sequence counter), so a seed gives one run;
- a creation asks the scheduler for the VM's flavor under this plan (see `FlavorBook`); it
  boots on the chosen host or is refused;
- nova's periodic resource update runs every `UPDATE_RESOURCES_INTERVAL` (60 s) of simulated
  time from the first creation (`Scheduler.settle`: builds in flight are counted done), before
  the events at or after its instant;
- a GPU VM refused while some host had enough free matching devices breaks the promise
  (`gpu_refused_while_free`); one refused while enough were free in the cloud but on no single
  host is refused for fragmentation (`gpu_refused_fragmented`), which no strategy can help;
- a vGPU VM (a request for a vGPU model's alias; its `gpus` count vGPUs) refused while some
  card of its model had that many vGPUs free breaks the promise too (counted in
  `gpu_refused_while_free` and apart in `vgpu_refused_while_free`); one refused while no card
  had enough but one host's cards together had is refused for fragmentation
  (`vgpu_refused_fragmented`, also in `gpu_refused_fragmented`): a VM's vGPUs come from one
  card. Where a model's vGPUs sit on virtual functions (one provider per VF, one vGPU each) a
  k-vGPU VM asks k card groups: refused while one host had k VFs that could each take a group
  now (its vGPU and, where tied, its slice) breaks the promise; refused while no host had k
  but the cloud had is fragmentation (a VM's VFs come from one host);
- GPU requests are also counted per model (alias) and size (GPUs or vGPUs), as `by_flavor`;
- utilisation is sampled at `samples` evenly spaced instants between the first and the last
  creation: vCPUs, RAM and GPUs in use over the physical totals of the hypervisors, vGPUs in
  use over the cards' vGPUs;
- capacity held for GPUs: what GPU VMs alone may use (all CPU and RAM inventory minus what an
  ordinary flavor can reach); held idle = that minus what GPU VMs use at the instant.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gpuslice.errors import InputError
from gpuslice.model import (
    Claim,
    Prepared,
    Scheduler,
    from_plan,
    request_from_flavor,
    scale_request,
)
from gpuslice.model.cards import CardRequest, CardTable
from gpuslice.model.request import MEMORY_MB, PCPU, VCPU, repeat_groups
from gpuslice.model.scheduler import UPDATE_RESOURCES_INTERVAL
from gpuslice.plan.types import Flavor, Plan
from gpuslice.plan.vgpu import VGPU, is_tied
from gpuslice.sim.workload import VmRequest, Workload

Progress = Callable[[int, int], None]
ORDINARY_FLAVOR = "ordinary"


@dataclass(frozen=True)
class Event:
    """One entry of the event log: `kind` is boot, refuse or delete."""

    time: float
    kind: str
    vm: int
    host: str | None = None


@dataclass(frozen=True)
class Capacity:
    """vCPUs and RAM (MiB) as allocatable amounts."""

    vcpus: int = 0
    memory_mb: int = 0


@dataclass(frozen=True)
class Series:
    """Values over time, one entry per sample instant (fractions are 0..1)."""

    times: tuple[float, ...] = ()
    cpu: tuple[float, ...] = ()
    ram: tuple[float, ...] = ()
    gpu: tuple[float, ...] = ()
    held_idle_vcpus: tuple[float, ...] = ()
    ordinary_refused: tuple[int, ...] = ()
    gpu_refused: tuple[int, ...] = ()
    gpu_refused_while_free: tuple[int, ...] = ()
    vgpu: tuple[float, ...] = ()


@dataclass(frozen=True)
class FlavorResult:
    """What happened to the GPU VMs of one model (alias) and size (GPUs, or vGPUs where
    `kind` is vgpu) under one strategy."""

    alias: str
    gpus: int
    flavor: str
    requests: int = 0
    accepted: int = 0
    refused_while_free: int = 0
    refused_fragmented: int = 0
    kind: str = "gpu"


@dataclass(frozen=True)
class StrategyResult:
    """What one strategy did with the workload."""

    name: str
    release: str
    promise: str
    gpu_requests: int
    gpu_accepted: int
    gpu_refused_while_free: int
    ordinary_requests: int
    ordinary_accepted: int
    wall_seconds: float
    ordinary_capacity: Capacity
    gpu_only_capacity: Capacity
    held_idle_vcpus_mean: float
    held_idle_memory_mb_mean: float
    cpu_mean: float
    ram_mean: float
    gpu_mean: float
    series: Series
    refusal_stages: tuple[tuple[str, int], ...] = ()
    first_break: tuple[str, ...] = ()
    events: tuple[Event, ...] = field(default=(), repr=False)
    gpu_refused_fragmented: int = 0
    by_flavor: tuple[FlavorResult, ...] = ()
    vgpu_requests: int = 0
    vgpu_accepted: int = 0
    vgpu_refused_while_free: int = 0
    vgpu_refused_fragmented: int = 0
    vgpu_mean: float = 0.0
    vgpu_form: str = ""

    @property
    def promise_kept(self) -> bool:
        """Whether no GPU VM was refused while a matching GPU was free."""
        return self.gpu_refused_while_free == 0

    @property
    def gpu_acceptance(self) -> float:
        """Share of GPU requests that booted (1.0 when there were none)."""
        return self.gpu_accepted / self.gpu_requests if self.gpu_requests else 1.0

    @property
    def ordinary_acceptance(self) -> float:
        """Share of ordinary requests that booted (1.0 when there were none)."""
        return self.ordinary_accepted / self.ordinary_requests if self.ordinary_requests else 1.0


class FlavorBook:
    """Turns abstract VM requests into prepared requests of one plan's flavors (cached).

    Ordinary VMs get a flavor named `ordinary` of their size without extra specs; GPU VMs get
    the plan's flavor of their alias (the first model when none is named) and GPU count where
    the menu has one, else its smallest flavor scaled to their GPUs. For a vGPU model's alias
    the count is vGPUs and the menu is the model's vGPU flavors; where its vGPUs sit on virtual
    functions, scaling asks the smallest flavor's numbered group once per vGPU
    (`repeat_groups`), as gpuslice renders a k-vGPU flavor there.
    """

    def __init__(self, plan: Plan, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.overrides = scheduler.model.config.resource_overrides
        self.gpu_flavors: dict[str, Flavor] = {}
        self.menu: dict[tuple[str, int], Flavor] = {}
        for flavor in plan.cloud.flavors:
            for alias, count in request_from_flavor(flavor).pci:
                if count == 1 or alias not in self.gpu_flavors:
                    self.gpu_flavors[alias] = flavor
                self.menu.setdefault((alias, count), flavor)
        by_name = {f.name: f for f in plan.cloud.flavors}
        self.vgpu_aliases: frozenset[str] = frozenset(m.alias for m in plan.fleet.vgpu_models)
        self._per: dict[str, int] = {}
        # vGPU models whose vGPUs sit one per virtual function: a larger VM asks more groups
        self._on_vfs: frozenset[str] = frozenset(
            m.alias for m in plan.fleet.vgpu_models if m.vgpu is not None and m.vgpu.on == "vfs"
        )
        for model in plan.fleet.vgpu_models:
            assert model.vgpu is not None
            for item in sorted(model.vgpu.flavors, key=lambda i: i.vgpus):
                found = by_name.get(item.name)
                if found is None:
                    continue
                if model.alias not in self.gpu_flavors:
                    self.gpu_flavors[model.alias] = found
                    self._per[model.alias] = item.vgpus
                self.menu.setdefault((model.alias, item.vgpus), found)
        self._cache: dict[tuple[int, int, int, int, str | None], Prepared] = {}

    def prepare(self, vm: VmRequest) -> Prepared:
        """The prepared request for `vm` under this plan."""
        key = (vm.vcpus, vm.memory_mb, vm.disk_gb, vm.gpus, vm.alias)
        found = self._cache.get(key)
        if found is not None:
            return found
        if vm.gpus:
            if not self.gpu_flavors:
                raise InputError("the workload asks for GPUs but the plan has no GPU flavor")
            alias = self.alias_of(vm)
            exact = self.menu.get((alias, vm.gpus))
            if exact is not None:
                spec = request_from_flavor(exact, overrides=self.overrides)
            else:
                smallest = self.gpu_flavors[alias]
                base = request_from_flavor(smallest, overrides=self.overrides)
                per = self._per[alias] if alias in self.vgpu_aliases else base.pci[0][1]
                if per != 1:
                    msg = (
                        f"the workload asks {vm.gpus} {alias} GPU(s); the plan's smallest "
                        f"{alias} flavor {smallest.name} has {per}: add a 1-GPU flavor"
                    )
                    raise InputError(msg)
                grow = repeat_groups if alias in self._on_vfs else scale_request
                spec = grow(base, vm.gpus)
        else:
            flavor = Flavor(ORDINARY_FLAVOR, vm.vcpus, vm.memory_mb, vm.disk_gb, True, {})
            spec = request_from_flavor(flavor, overrides=self.overrides)
        prepared = self.scheduler.prepare(spec)
        self._cache[key] = prepared
        return prepared

    def alias_of(self, vm: VmRequest) -> str:
        """The GPU alias `vm` asks (the plan's first when it names none)."""
        if not self.gpu_flavors:
            raise InputError("the workload asks for GPUs but the plan has no GPU flavor")
        alias = vm.alias or next(iter(self.gpu_flavors))
        if alias not in self.gpu_flavors:
            raise InputError(f"the workload asks for GPU alias {alias!r}; the plan has none")
        return alias

    def flavor_name(self, alias: str, gpus: int) -> str:
        """The plan's flavor for `gpus` GPUs of `alias`, or `<smallest> x<gpus>` when scaled."""
        exact = self.menu.get((alias, gpus))
        return exact.name if exact is not None else f"{self.gpu_flavors[alias].name} x{gpus}"

    def is_vgpu(self, vm: VmRequest) -> bool:
        """Whether `vm` asks vGPUs (its alias is a vGPU model's)."""
        return vm.gpus > 0 and self.alias_of(vm) in self.vgpu_aliases


def _is_cpu(rc: str) -> bool:
    return rc in (VCPU, PCPU) or rc.endswith("_VCPU")


def _is_ram(rc: str) -> bool:
    return rc == MEMORY_MB or rc.endswith("_MEMORY_MB")


def capacities(scheduler: Scheduler, book: FlavorBook) -> tuple[Capacity, Capacity]:
    """(what an ordinary flavor can reach, what only GPU VMs can use) of CPU and RAM."""
    probe = book.prepare(VmRequest(0.0, None, 1, 1, 0))
    reach = probe.static
    cpu_all = cpu_ord = ram_all = ram_ord = 0
    for i, rc in enumerate(scheduler.classes):
        row = scheduler.capacity[i]
        if _is_cpu(rc):
            cpu_all += int(row.sum())
            if rc == VCPU:
                cpu_ord += int(row[reach].sum())
        elif _is_ram(rc):
            ram_all += int(row.sum())
            if rc == MEMORY_MB:
                ram_ord += int(row[reach].sum())
    cards = scheduler.cards
    if cards is not None:
        for col, rc in enumerate(cards.columns):
            held = sum(row[col] for row in cards.capacity)
            if _is_cpu(rc):
                cpu_all += held
            elif _is_ram(rc):
                ram_all += held
    return Capacity(cpu_ord, ram_ord), Capacity(cpu_all - cpu_ord, ram_all - ram_ord)


def devices_free_somewhere(scheduler: Scheduler, request: Prepared) -> bool:
    """Whether one host has enough free matching devices for `request` (resources aside)."""
    if not request.pci_rows:
        return False
    ok = np.ones(len(scheduler.names), dtype=bool)
    for row, count in request.pci_rows:
        ok &= scheduler.pci_free[row] >= count
    return bool(ok.any())


def _next_update(due: float, now: float) -> float:
    """The first periodic update after `now`, updates falling every interval from `due`."""
    missed = (now - due) // UPDATE_RESOURCES_INTERVAL
    return due + (missed + 1) * UPDATE_RESOURCES_INTERVAL


def run(
    plan: Plan,
    workload: Workload,
    *,
    seed: int = 0,
    samples: int = 200,
    log: bool = False,
    progress: Progress | None = None,
    explain_first: int = 1,
    name: str | None = None,
) -> StrategyResult:
    """Run `workload` on the model of `plan` (rules in the module docstring); the result is
    named `name` (default: the plan's strategy)."""
    started = time.perf_counter()
    scheduler = Scheduler(from_plan(plan), seed=seed)
    book = FlavorBook(plan, scheduler)
    ordinary_cap, gpu_only = capacities(scheduler, book)
    physical = scheduler.model.physical
    requests = workload.requests
    n = len(requests)
    t_first = requests[0].arrival if n else 0.0
    t_last = requests[-1].arrival if n else 0.0
    samples = max(1, samples)
    edges = np.linspace(t_first, t_last, samples + 1)[:-1] if n else np.zeros(0)
    span = (t_last - t_first) / samples if n else 0.0
    cpu_s = np.zeros(samples)
    ram_s = np.zeros(samples)
    gpu_s = np.zeros(samples)
    held_s = np.zeros(samples)
    held_ram_s = np.zeros(samples)
    ord_ref = np.zeros(samples, dtype=np.int64)
    gpu_ref = np.zeros(samples, dtype=np.int64)
    gpu_free_ref = np.zeros(samples, dtype=np.int64)
    vgpu_s = np.zeros(samples)
    used_vgpus = 0
    cards = scheduler.cards
    vgpu_total = max(1, sum(c.capacity.get(VGPU, 0) for c in scheduler.model.cards))
    next_sample = 0
    next_settle = t_first + UPDATE_RESOURCES_INTERVAL
    edge_list: list[float] = edges.tolist()
    used_vcpus = used_ram = used_gpus = gpu_vcpus = gpu_ram = 0
    counts = Counter[str]()
    gpu_requests = gpu_accepted = ordinary_requests = ordinary_accepted = 0
    stages = Counter[str]()
    per_flavor: dict[tuple[str, int], list[int]] = {}  # requests, accepted, free, fragmented
    first_break: tuple[str, ...] = ()
    events: list[Event] = []
    heap: list[tuple[float, int, int, Claim, VmRequest]] = []
    seq = 0
    step = max(1, n // 100)
    cpu_total = max(physical.vcpus, 1)
    ram_total = max(physical.memory_mb, 1)
    gpu_total = max(scheduler.model.gpus, 1)

    for index, vm in enumerate(requests):
        now = vm.arrival
        while heap and heap[0][0] <= now:
            when, _, vm_index, held, gone = heapq.heappop(heap)
            if when >= next_settle:
                scheduler.settle()
                next_settle = _next_update(next_settle, when)
            scheduler.release(held)
            spec = held.request.spec
            used_vcpus -= spec.vcpus
            used_ram -= spec.ram
            if held.card >= 0:
                used_vgpus -= gone.gpus
            if gone.gpus:
                used_gpus -= spec.gpus
                gpu_vcpus -= spec.vcpus
                gpu_ram -= spec.ram
            if log:
                events.append(Event(when, "delete", vm_index, scheduler.names[held.provider]))
        while next_sample < samples and now >= edge_list[next_sample]:
            cpu_s[next_sample] = used_vcpus / cpu_total
            ram_s[next_sample] = used_ram / ram_total
            gpu_s[next_sample] = used_gpus / gpu_total
            held_s[next_sample] = max(0, gpu_only.vcpus - gpu_vcpus)
            held_ram_s[next_sample] = max(0, gpu_only.memory_mb - gpu_ram)
            vgpu_s[next_sample] = used_vgpus / vgpu_total
            next_sample += 1
        if now >= next_settle:
            scheduler.settle()
            next_settle = _next_update(next_settle, now)
        prepared = book.prepare(vm)
        claim = scheduler.schedule(prepared)
        tally: list[int] | None = None
        vgpu = False
        if vm.gpus:
            gpu_requests += 1
            alias = book.alias_of(vm)
            vgpu = alias in book.vgpu_aliases
            tally = per_flavor.setdefault((alias, vm.gpus), [0, 0, 0, 0])
            tally[0] += 1
            counts["vgpu_requests"] += vgpu
        else:
            ordinary_requests += 1
        if claim is not None:
            if tally is not None:
                gpu_accepted += 1
                tally[1] += 1
                if vgpu:
                    counts["vgpu_accepted"] += 1
                    used_vgpus += vm.gpus
            else:
                ordinary_accepted += 1
            spec = prepared.spec
            used_vcpus += spec.vcpus
            used_ram += spec.ram
            if vm.gpus:
                used_gpus += spec.gpus
                gpu_vcpus += spec.vcpus
                gpu_ram += spec.ram
            if vm.lifetime is not None:
                heapq.heappush(heap, (now + vm.lifetime, seq, index, claim, vm))
                seq += 1
            if log:
                events.append(Event(now, "boot", index, scheduler.names[claim.provider]))
        else:
            bucket = min(samples - 1, int((now - t_first) / span)) if span > 0 else 0
            if log:
                events.append(Event(now, "refuse", index))
            if tally is not None:
                gpu_ref[bucket] += 1
                if vgpu and cards is not None and prepared.card is not None and prepared.card.k > 1:
                    free, fragmented = _groups_free(cards, prepared.card)
                    counts["vgpu_refused_while_free"] += free
                    counts["vgpu_refused_fragmented"] += fragmented
                elif vgpu:
                    on_card, on_host = _vgpus_free(cards, book.alias_of(vm))
                    free = on_card >= vm.gpus
                    fragmented = not free and on_host >= vm.gpus
                    counts["vgpu_refused_while_free"] += free
                    counts["vgpu_refused_fragmented"] += fragmented
                else:
                    free = devices_free_somewhere(scheduler, prepared)
                    fragmented = not free and _free_in_cloud(scheduler, prepared)
                if not free:
                    if fragmented:
                        counts["gpu_refused_fragmented"] += 1
                        tally[3] += 1
                else:
                    tally[2] += 1
                    counts["gpu_refused_while_free"] += 1
                    gpu_free_ref[bucket] += 1
                    if counts["gpu_refused_while_free"] <= explain_first:
                        rejections = scheduler.explain(prepared)
                        stages.update(r.stage for r in rejections)
                        if not first_break:
                            what = (
                                f"vGPU VM {index} ({prepared.spec.flavor}) refused while "
                                + _free_what(prepared, vm.gpus)
                                if vgpu
                                else f"GPU VM {index} ({prepared.spec.flavor}) refused "
                                "while a matching GPU was free"
                            )
                            first_break = (
                                f"t={now:g}s: {what}",
                                *(str(r) for r in rejections[:20]),
                            )
            else:
                ord_ref[bucket] += 1
        if progress is not None and index % step == 0:
            progress(index, n)
    if progress is not None:
        progress(n, n)
    times = tuple(float(t) for t in edges)
    series = Series(
        times=times,
        cpu=tuple(float(x) for x in cpu_s),
        ram=tuple(float(x) for x in ram_s),
        gpu=tuple(float(x) for x in gpu_s),
        held_idle_vcpus=tuple(float(x) for x in held_s),
        ordinary_refused=tuple(int(x) for x in ord_ref),
        gpu_refused=tuple(int(x) for x in gpu_ref),
        gpu_refused_while_free=tuple(int(x) for x in gpu_free_ref),
        vgpu=tuple(float(x) for x in vgpu_s) if cards is not None else (),
    )
    return StrategyResult(
        name=name or plan.strategy,
        release=str(plan.release),
        promise=plan.promise,
        gpu_requests=gpu_requests,
        gpu_accepted=gpu_accepted,
        gpu_refused_while_free=counts["gpu_refused_while_free"],
        ordinary_requests=ordinary_requests,
        ordinary_accepted=ordinary_accepted,
        wall_seconds=time.perf_counter() - started,
        ordinary_capacity=ordinary_cap,
        gpu_only_capacity=gpu_only,
        held_idle_vcpus_mean=float(held_s.mean()),
        held_idle_memory_mb_mean=float(held_ram_s.mean()),
        cpu_mean=float(cpu_s.mean()),
        ram_mean=float(ram_s.mean()),
        gpu_mean=float(gpu_s.mean()),
        series=series,
        refusal_stages=tuple(sorted(stages.items())),
        first_break=first_break,
        events=tuple(events),
        gpu_refused_fragmented=counts["gpu_refused_fragmented"],
        by_flavor=tuple(
            FlavorResult(
                alias,
                gpus,
                book.flavor_name(alias, gpus),
                requests,
                accepted,
                free,
                fragmented,
                "vgpu" if alias in book.vgpu_aliases else "gpu",
            )
            for (alias, gpus), (requests, accepted, free, fragmented) in sorted(per_flavor.items())
        ),
        vgpu_requests=counts["vgpu_requests"],
        vgpu_accepted=counts["vgpu_accepted"],
        vgpu_refused_while_free=counts["vgpu_refused_while_free"],
        vgpu_refused_fragmented=counts["vgpu_refused_fragmented"],
        vgpu_mean=float(vgpu_s.mean()) if cards is not None else 0.0,
        vgpu_form=vgpu_form(plan),
    )


def vgpu_form(plan: Plan) -> str:
    """How `plan` holds its vGPU cards' slices: `tied` (on each card), `pooled` (on the
    root), `vgpu_only` (no slice per card); "" without vGPU models."""
    if not plan.fleet.vgpu_models:
        return ""
    if plan.strategy != "placement" or not plan.release.has("provider_yaml"):
        return "vgpu_only"
    return "tied" if is_tied(plan.fleet, plan.strategy) else "pooled"


def _vgpus_free(cards: CardTable | None, alias: str) -> tuple[int, int]:
    """(most vGPUs free on one card, most free on one host's cards together) of model
    `alias`."""
    if cards is None:
        return 0, 0
    best_card = 0
    per_host: dict[int, int] = {}
    for k, card in enumerate(cards.cards):
        if card.alias != alias:
            continue
        free = cards.free_of(k, VGPU)
        best_card = max(best_card, free)
        per_host[card.host] = per_host.get(card.host, 0) + free
    return best_card, max(per_host.values(), default=0)


def _free_what(request: Prepared, vgpus: int) -> str:
    """What was free when a vGPU VM was refused: `a card had 2 vGPU(s) free`, or for card
    groups `one host had 2 free VFs`."""
    card = request.card
    if card is None or card.k == 1:
        return f"a card had {vgpus} vGPU(s) free"
    return f"one host had {card.k} free VFs"


def _groups_free(cards: CardTable, request: CardRequest) -> tuple[bool, bool]:
    """(whether one host's cards could serve every card group of `request` now, whether the
    cloud's cards together could though no host's can): a k-vGPU VM on virtual functions."""
    if cards.mask(request).any():
        return True, False
    held = sum(cards.room(k, request) for k in range(len(cards.cards)))
    return False, held >= request.k


def _free_in_cloud(scheduler: Scheduler, request: Prepared) -> bool:
    """Whether the cloud as a whole has the devices `request` asks (on one host or not)."""
    return all(scheduler.free_pci(alias) >= count for alias, count in request.spec.pci)
