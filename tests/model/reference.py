"""A slow reference scheduler built from the rules alone (`gpuslice.model.rules`).

It keeps every host's state in plain dictionaries and, for every decision, asks each rule of
`stages(config)` about each host (`host_passes`, then `dynamic_reason`), computes each
weigher's `raw` value on each candidate, normalises with `gpuslice.model.rules.normalize`
and takes the highest sum, the first in fleet order on a tie. It shares no code with the fast
engine (`gpuslice.model.scheduler`) but the rules (and `split`, which takes a request apart for
a host's tree of providers): the equivalence tests hold the engine to it. With cards, a claim
takes the first card of the host (fleet order) that fits; with several card groups (k vGPUs on
virtual functions) under group_policy=isolate the first k distinct cards, in fleet order, that
give each group a card it fits (tried over every ordered choice), under `none` each group in
turn the first card it still fits; classes of either kind (drawn at random by the engine) are
not covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations

from gpuslice.model import CloudModel, RequestSpec
from gpuslice.model.cards import CardAsk, split
from gpuslice.model.rules import (
    CardView,
    HostView,
    bounds,
    clamp,
    make_weigher,
    scale,
    stages,
    weighted_sum,
)


@dataclass
class State:
    """One host's state, as nova's HostState holds it (a `HostState` for the weighers)."""

    ram_total: float
    vcpu_total: float
    disk_total: float
    pci_free_total: int = 0
    ram_used: float = 0.0
    vcpus_used: float = 0.0
    disk_used: float = 0.0
    io_ops: int = 0


@dataclass(frozen=True)
class Placed:
    """A VM the reference placed: its host, its request, the settle count when claimed."""

    host: int
    spec: RequestSpec
    epoch: int
    cards: tuple[int, ...] = ()


class Reference:
    """nova's rules, host by host, afresh for every decision (see the module docstring)."""

    def __init__(self, model: CloudModel, *, settled: bool = False) -> None:
        self.model = model
        self.settled = settled
        roots = frozenset(rc for p in model.providers for rc in p.capacity)
        cards = frozenset(rc for c in model.cards for rc in c.capacity)
        self.tree = (roots, cards) if model.cards else None
        self.rules = stages(model.config, self.tree)
        self.card_free = [dict(c.capacity) for c in model.cards]
        self.cards_of: list[list[int]] = [[] for _ in model.providers]
        for k, c in enumerate(model.cards):
            self.cards_of[c.host].append(k)
        self.weighers = [
            (make_weigher(s.name), s.multiplier)
            for s in model.config.weighers
            if s.multiplier != 0 and not (settled and make_weigher(s.name).settles)
        ]
        self.free = [dict(p.capacity) for p in model.providers]
        self.pci = [dict(p.pci) for p in model.providers]
        self.states = [
            State(float(p.ram_total), float(p.vcpu_total), float(p.disk_total), sum(p.pci.values()))
            for p in model.providers
        ]
        self.epoch = 0

    def view(self, j: int) -> HostView:
        cards = tuple(
            CardView(c.name, c.capacity, self.card_free[k], c.traits)
            for k in self.cards_of[j]
            for c in (self.model.cards[k],)
        )
        return HostView(
            self.model.providers[j], self.pci[j], self.model.aliases, self.free[j], cards
        )

    def parts(self, spec: RequestSpec) -> tuple[RequestSpec, tuple[CardAsk, ...], bool]:
        """The root's part of `spec`, the card groups, and whether they need distinct cards."""
        if self.tree is None:
            return spec, (), True
        taken = split(spec, *self.tree)
        return taken.root, taken.cards, taken.isolate

    def passes(self, j: int, spec: RequestSpec) -> bool:
        view = self.view(j)
        root, _, _ = self.parts(spec)
        return all(r.host_passes(view, spec if r.tree else root) for r in self.rules) and all(
            r.dynamic_reason(view, spec if r.tree else root) is None for r in self.rules
        )

    def pick(self, spec: RequestSpec) -> int | None:
        """The host nova's rules choose for `spec` now, or None."""
        hosts = [j for j in range(len(self.states)) if self.passes(j, spec)]
        if not hosts:
            return None
        if len(hosts) == 1 or not self.weighers:
            return hosts[0]
        coefs: list[float] = []
        columns: list[list[float]] = []
        for weigher, multiplier in self.weighers:
            column = [clamp(weigher.raw(self.states[j]), weigher.minval) for j in hosts]
            low, high = bounds(column, weigher.minval)
            coefs.append(scale(multiplier, low, high))
            columns.append(column)
        totals = [weighted_sum(coefs, ws) for ws in zip(*columns, strict=True)]
        return hosts[totals.index(max(totals))]

    def _move(self, j: int, spec: RequestSpec, sign: int, cards: tuple[int, ...]) -> None:
        root, asks, _ = self.parts(spec)
        for rc, amount in root.resources:
            self.free[j][rc] -= sign * amount
        for ask, card in zip(asks, cards, strict=True):
            for rc, amount in ask.resources:
                self.card_free[card][rc] -= sign * amount
        state = self.states[j]
        for alias, count in spec.pci:
            pool = self.model.aliases[alias]
            self.pci[j][pool] -= sign * count
            state.pci_free_total -= sign * count
        state.ram_used += sign * spec.ram
        state.vcpus_used += sign * spec.vcpus
        state.disk_used += sign * spec.disk

    def schedule(self, spec: RequestSpec) -> Placed | None:
        j = self.pick(spec)
        if j is None:
            return None
        _, asks, isolate = self.parts(spec)
        cards = self._choose(j, asks, isolate) if asks else ()
        self._move(j, spec, 1, cards)
        if not self.settled:
            self.states[j].io_ops += 1
        return Placed(j, spec, self.epoch, cards)

    def _choose(self, j: int, asks: tuple[CardAsk, ...], isolate: bool) -> tuple[int, ...]:
        """The cards of host `j` for `asks`, one per group (see the module docstring)."""
        mine = self.cards_of[j]
        if isolate:
            views = self.view(j).cards
            return next(
                tuple(mine[i] for i in chosen)
                for chosen in permutations(range(len(mine)), len(asks))
                if all(views[i].fits(ask) for i, ask in zip(chosen, asks, strict=True))
            )
        free = {k: dict(self.card_free[k]) for k in mine}
        out = []
        for ask in asks:
            k = next(
                k
                for k in mine
                if CardView(
                    "", self.model.cards[k].capacity, free[k], self.model.cards[k].traits
                ).fits(ask)
            )
            for rc, amount in ask.resources:
                free[k][rc] -= amount
            out.append(k)
        return tuple(out)

    def release(self, placed: Placed) -> None:
        self._move(placed.host, placed.spec, -1, placed.cards)
        if not self.settled and placed.epoch == self.epoch:
            self.states[placed.host].io_ops -= 1

    def settle(self) -> None:
        self.epoch += 1
        for state in self.states:
            state.io_ops = 0
