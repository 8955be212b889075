"""The scheduler: Placement's allocation candidates, then filters, then weighers; and claims.

A decision runs these stages in nova's order; the first stage that removes a host is the one
`explain` names:
1. `Placement` (or `ResourceFilters` before Ocata, where RamFilter/DiskFilter/CoreFilter did the
   same sums): for every requested class, the provider has inventory,
   `min_unit <= amount <= max_unit`, `amount % step_size == 0` and `used + amount <= capacity`;
   every required trait present, no forbidden trait present;
2. `IsolatedAggregates` (`enable_isolated_aggregate_filtering`): a provider in an aggregate whose
   metadata has `trait:T=required` is excluded unless the request requires every such T;
3. the enabled filters in their configured order;
4. weighers (see `gpuslice.model.weighers`); among the best `host_subset_size` hosts one is
   picked at random from the scheduler's seeded generator (with the default 1: the best; ties go
   to the host that comes first in the fleet).

Speed: everything that does not change while VMs come and go is evaluated once per kind of
request (`prepare`) into a boolean mask, and a claim or release touches one host. With the
default host_subset_size of 1 a decision then weighs groups, not hosts: hosts with the same
static class (the same answer from every prepared request's static mask), free amounts, free
devices and raw weights are interchangeable but for fleet order (`gpuslice.model.groups`), so
each prepared request keeps a view of its candidate groups, the normalisation bounds, every
group's score and the best groups (`gpuslice.model.groupview`); it catches up on the groups that
appeared or vanished since its last decision, and weighs every candidate group again only when
a bound moved. The first host of a group comes from a heap. With host_subset_size above 1 (or
no weighers) a decision is a handful of numpy operations over all hosts (`candidates`,
`_pick`). Both sum the weighted terms left to right, one rounding each, so they choose alike.

Cards (vGPU child providers, `gpuslice.model.cards`): a request whose numbered group asks a
card's class is split into the root's part (the stages above) and one card's part; a host is
a candidate when its root passes and some card of it fits, the claim takes the first card
that fits and its release gives back to that card. An unnumbered class that roots and cards
both hold comes from the root or a card of the chosen host, drawn at random among those with
the amount free (`gpuslice.model.cards` says why). A model with cards decides by the per-host
path (the group path's keys hold no cards); other models keep the group path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from gpuslice.errors import InputError
from gpuslice.model.cards import CARD_STAGE, CardRequest, CardTable, split
from gpuslice.model.cloud import CloudModel, PoolKey, ProviderModel
from gpuslice.model.filters import BaseFilter, HostView, PciPassthroughFilter, make_filter
from gpuslice.model.groups import Grouping, GroupKey
from gpuslice.model.groupview import GroupView
from gpuslice.model.request import RequestSpec
from gpuslice.model.weighers import (
    WEIGHERS,
    BaseWeigher,
    CPUWeigher,
    DiskWeigher,
    PCIWeigher,
    RAMWeigher,
)

ISOLATED = "IsolatedAggregates"

CardOrder = Literal["drawn", "fleet"]
"""How a request ranks a host's cards: `drawn` once per prepared request from the seed (as
Placement's hash order ranks them per flavor), or `fleet` order (first-fit); see
`gpuslice.model.cards`."""


@dataclass(frozen=True)
class Rejection:
    """One host removed from one decision: by which stage or filter, and why."""

    host: str
    stage: str
    reason: str

    def __str__(self) -> str:
        return f"{self.host}: removed by {self.stage} ({self.reason})"


class Prepared:
    """A request made ready for fast decisions: its static mask and index rows.

    Made by `Scheduler.prepare`; belongs to that scheduler. It also carries the scheduler's
    cached candidate mask for this request, kept in step with claims and releases host by host
    (so a decision does not recompute every host's fit).
    """

    __slots__ = (
        "adds",
        "amounts",
        "card",
        "either",
        "either_order",
        "fit",
        "key_pci",
        "key_terms",
        "moves",
        "pci_rows",
        "recompute",
        "root",
        "rows",
        "seen",
        "shifts",
        "spec",
        "static",
        "static_list",
        "terms",
        "uses",
        "view",
    )

    def __init__(
        self,
        spec: RequestSpec,
        rows: npt.NDArray[np.intp],
        amounts: npt.NDArray[np.int64],
        static: npt.NDArray[np.bool_],
        pci_rows: tuple[tuple[int, int], ...],
    ) -> None:
        self.spec = spec
        # the part the host's root serves, and the part one card serves (None: no card)
        self.root = spec
        self.card: CardRequest | None = None
        # unnumbered classes from the root or a card: (class, root row, amount), and the order
        # this request tries the root (-1) and the cards in for them
        self.either: tuple[tuple[str, int, int], ...] = ()
        self.either_order: tuple[int, ...] = ()
        self.rows = rows
        self.amounts = amounts
        self.static = static
        self.static_list: list[bool] = static.tolist()
        self.pci_rows = pci_rows
        self.terms = tuple(zip(rows.tolist(), amounts[:, 0].tolist(), strict=True))
        self.fit: npt.NDArray[np.bool_] | None = None
        self.seen = -1
        # per weigher row: how a claim shifts its raw weight, or rows to recompute
        self.shifts: tuple[tuple[int, float], ...] = ()
        self.recompute: tuple[int, ...] = ()
        # The group path: where each amount sits in a group key, and this request's view of
        # the groups (made by `Scheduler.prepare` when it decides by groups)
        self.key_terms: tuple[tuple[int, int], ...] = ()
        self.key_pci: tuple[tuple[int, int], ...] = ()
        self.view: GroupView | None = None
        # ids of this request's claim and release in `HostGroup.next` (set by `prepare`)
        self.moves = (0, 0)
        # what a claim, then a release, adds to its host's RAM and vCPUs used (x - s * n is
        # x + -(s * n) bit for bit)
        self.uses = (
            (float(spec.ram), float(spec.vcpus), float(spec.disk)),
            (-float(spec.ram), -float(spec.vcpus), -float(spec.disk)),
        )
        self.adds: tuple[tuple[tuple[int, float], ...], ...] = ((), ())


class _HostLists:
    """The per-host values weighers read, as Python lists (what `raw_at` reads)."""

    __slots__ = (
        "disk_total",
        "disk_used",
        "pci_free_total",
        "ram_total",
        "ram_used",
        "vcpu_total",
        "vcpus_used",
    )

    def __init__(
        self,
        ram_total: list[float],
        ram_used: list[float],
        vcpu_total: list[float],
        vcpus_used: list[float],
        pci_free_total: list[int],
        disk_total: list[float],
        disk_used: list[float],
    ) -> None:
        self.ram_total = ram_total
        self.ram_used = ram_used
        self.vcpu_total = vcpu_total
        self.vcpus_used = vcpus_used
        self.pci_free_total = pci_free_total
        self.disk_total = disk_total
        self.disk_used = disk_used


class Claim(NamedTuple):
    """What one placed VM holds: its provider index, its prepared request, the card it took
    (index in the model's cards; -1 for none) and where each of the request's `either`
    classes came from (-1 the root, else a card)."""

    provider: int
    request: Prepared
    card: int = -1
    either: tuple[int, ...] = ()


_new_claim = tuple.__new__
"""Makes a `Claim` without the generated `__new__`'s call (the same tuple)."""


def _isolation_traits(provider: ProviderModel) -> frozenset[str]:
    required: set[str] = set()
    for aggregate in provider.aggregates:
        for key, value in aggregate.metadata.items():
            if key.startswith("trait:") and value == "required":
                required.add(key.partition(":")[2])
    return frozenset(required)


class Scheduler:
    """The mutable side of the model: what is used where, and the decisions that change it.

    Deterministic: the same model, seed and sequence of calls give the same decisions.
    `card_order` is how requests rank a host's cards (`CardOrder`).
    """

    def __init__(
        self, model: CloudModel, *, seed: int = 0, card_order: CardOrder = "drawn"
    ) -> None:
        self.model = model
        self.names = tuple(p.name for p in model.providers)
        self.classes = model.resource_classes
        self.pool_keys = model.pools
        self._rc_index = {rc: i for i, rc in enumerate(self.classes)}
        self._pool_index = {key: i for i, key in enumerate(self.pool_keys)}
        n = len(model.providers)
        r = len(self.classes)
        self.capacity = np.zeros((r, n), dtype=np.int64)
        self.min_unit = np.ones((r, n), dtype=np.int64)
        self.max_unit = np.zeros((r, n), dtype=np.int64)
        self.step = np.ones((r, n), dtype=np.int64)
        self.pci_total = np.zeros((len(self.pool_keys), n), dtype=np.int64)
        for j, p in enumerate(model.providers):
            for rc, cap in p.capacity.items():
                i = self._rc_index[rc]
                self.capacity[i, j] = cap
                self.min_unit[i, j] = p.min_unit[rc]
                self.max_unit[i, j] = p.max_unit[rc]
                self.step[i, j] = max(1, p.step_size[rc])
            for key, count in p.pci.items():
                self.pci_total[self._pool_index[key], j] = count
        # What changes with claims lives in Python lists, one entry (or column) per host: a
        # claim touches one host, and list items are much cheaper than numpy scalars. The
        # numpy views (`free`, `pci_free`, ...) catch up on the hosts that changed when read.
        self._free_np = self.capacity.copy()
        self._pci_np = self.pci_total.copy()
        self._free_cols: list[list[int]] = self._free_np.T.tolist()
        self._pci_cols: list[list[int]] = self._pci_np.T.tolist()
        self._pci_total_np: npt.NDArray[np.int64] = self._pci_np.sum(axis=0)
        self.ram_total = np.array([p.ram_total for p in model.providers], dtype=np.float64)
        self.vcpu_total = np.array([p.vcpu_total for p in model.providers], dtype=np.float64)
        self._ram_used_np = np.zeros(n, dtype=np.float64)
        self._vcpus_used_np = np.zeros(n, dtype=np.float64)
        self.disk_total = np.array([p.disk_total for p in model.providers], dtype=np.float64)
        self._disk_used_np = np.zeros(n, dtype=np.float64)
        self._dirty: set[int] = set()
        self._stale: set[int] = set()
        self._lists = _HostLists(
            self.ram_total.tolist(),
            self._ram_used_np.tolist(),
            self.vcpu_total.tolist(),
            self._vcpus_used_np.tolist(),
            self._pci_total_np.tolist(),
            self.disk_total.tolist(),
            self._disk_used_np.tolist(),
        )
        self._ram_used = self._lists.ram_used
        self._vcpus_used = self._lists.vcpus_used
        self._disk_used = self._lists.disk_used
        self._isolation = tuple(_isolation_traits(p) for p in model.providers)
        self.filters: tuple[BaseFilter, ...] = tuple(make_filter(f) for f in model.config.filters)
        self._pci_filter = next(
            (f for f in self.filters if isinstance(f, PciPassthroughFilter)), None
        )
        weighers: list[tuple[BaseWeigher, float]] = []
        for setting in model.config.weighers:
            if setting.name not in WEIGHERS:
                msg = f"unknown weigher {setting.name!r}; the model knows {', '.join(WEIGHERS)}"
                raise InputError(msg)
            if setting.multiplier != 0:
                weighers.append((WEIGHERS[setting.name](), setting.multiplier))
        self.weighers = tuple(w for w, _ in weighers)
        self._mult = np.array([m for _, m in weighers], dtype=np.float64)
        self._has_min = np.array([w.minval is not None for w in self.weighers], dtype=bool)
        self._floor = np.array(
            [[-np.inf if w.minval is None else w.minval] for w in self.weighers],
            dtype=np.float64,
        ).reshape(len(self.weighers), 1)
        self._weights_np = np.zeros((len(self.weighers), n), dtype=np.float64)
        for k, w in enumerate(self.weighers):
            self._weights_np[k] = w.raw(self)
        self._needs_min = not bool(self._has_min.all())
        self._minvals = tuple(
            (k, float(w.minval)) for k, w in enumerate(self.weighers) if w.minval is not None
        )
        self._mult_list = self._mult.tolist()
        # minval of every weigher that has one (nova's are all 0.0)
        self._zero = np.array([w.minval or 0.0 for w in self.weighers], dtype=np.float64)
        self._rng = np.random.default_rng(seed)
        # Hosts whose usage changed, in order; prepared requests catch up from their mark.
        self._changes: list[int] = []
        self._log_base = 0
        self._incremental_limit = max(8, n // 16)
        self._shape_cache: dict[tuple[object, ...], npt.NDArray[np.bool_]] = {}
        self.resource_stage = "Placement" if model.config.placement else "ResourceFilters"
        self.cards: CardTable | None = CardTable(model.cards, n) if model.cards else None
        self.card_order = card_order
        # each prepared request's card ranking: its own generator, so the host draws of
        # host_subset_size stay what they are without cards
        self._card_rng = np.random.default_rng([seed, 1])
        self._root_classes = frozenset(self.classes)
        self._card_classes = frozenset(self.cards.columns if self.cards else ())
        # The group path: hosts in the same state (static class, free amounts, free devices,
        # raw weights) are interchangeable but for fleet order, so a decision weighs states.
        # Cards are not in a group's key: a model with cards decides host by host.
        self._grouped = (
            model.config.host_subset_size == 1 and bool(self.weighers) and self.cards is None
        )
        self._wcols: list[list[float]] = self._weights_np.T.tolist()
        self._floors: tuple[float | None, ...] = tuple(w.minval for w in self.weighers)
        self._woff = 1 + r + len(self.pool_keys)
        self._grouping: Grouping[Prepared] = Grouping(n, self._floors, self._woff, self._next_key)
        # Lazy hosts: when every weigher's new raw weight follows from a group key alone, a
        # claim moves its host by the groups' cached transitions (`HostGroup.next`) and the
        # per-host lists of free amounts, devices and weights catch up when read
        # (`_materialize`); RAM and vCPUs used stay per host (they are not in the key).
        self._lazy = self._grouped and all(
            type(w) in (RAMWeigher, CPUWeigher, PCIWeigher, DiskWeigher) for w in self.weighers
        )
        self._prepared = 0
        if self._grouped:
            self._regroup()

    # ----------------------------------------------------------------- preparing
    def _host_view(self, j: int) -> HostView:
        pci = {key: int(self.pci_free[i, j]) for i, key in enumerate(self.pool_keys)}
        return HostView(self.model.providers[j], pci, self.model.aliases)

    def _static_reason(self, j: int, spec: RequestSpec) -> tuple[str, str] | None:
        """The first amount-independent stage that removes provider `j`, or None."""
        provider = self.model.providers[j]
        for rc, _ in spec.resources:
            if rc not in provider.capacity:
                return self.resource_stage, f"no {rc} inventory"
        missing = spec.required_traits - provider.traits
        if missing:
            return self.resource_stage, f"lacks required trait {', '.join(sorted(missing))}"
        present = spec.forbidden_traits & provider.traits
        if present:
            return self.resource_stage, f"has forbidden trait {', '.join(sorted(present))}"
        if self.model.config.isolated_aggregates:
            isolated = self._isolation[j] - spec.required_traits
            if isolated:
                return ISOLATED, f"isolated aggregate requires {', '.join(sorted(isolated))}"
        view: HostView | None = None
        for f in self.filters:
            if f.dynamic:
                continue
            if view is None:
                view = self._host_view(j)
            if not f.host_passes(view, spec):
                return f.name, f.reason(view, spec)
        return None

    def _unit_reason(self, j: int, spec: RequestSpec) -> tuple[str, str] | None:
        for rc, amount in spec.resources:
            i = self._rc_index[rc]
            lo, hi, step = int(self.min_unit[i, j]), int(self.max_unit[i, j]), int(self.step[i, j])
            if not lo <= amount <= hi:
                return self.resource_stage, f"{rc} {amount} outside min/max unit {lo}..{hi}"
            if amount % step:
                return self.resource_stage, f"{rc} {amount} not a multiple of step {step}"
        return None

    def prepare(self, spec: RequestSpec) -> Prepared:
        """Make `spec` ready for `schedule`: check aliases and compute its static mask.

        Raises InputError for a PCI alias the cloud does not define (nova refuses the boot).
        """
        for alias, _ in spec.pci:
            if alias not in self.model.aliases:
                msg = f"flavor {spec.flavor} asks for PCI alias {alias!r}, which is not defined"
                raise InputError(msg)
        whole = spec
        card = None
        either: tuple[tuple[str, int, int], ...] = ()
        if self.cards is not None:
            parts = split(spec, self._root_classes, self._card_classes)
            spec = parts.root
            rank = self._rank()
            card = None if parts.card is None else self.cards.compile(parts.card, rank)
            either = tuple((rc, self._rc_index[rc], n) for rc, n in parts.either)
        shape_key: tuple[object, ...] = (
            spec.flavor,
            tuple(rc for rc, _ in spec.resources),
            spec.required_traits,
            spec.forbidden_traits,
            spec.aggregate_specs,
        )
        shape = self._shape_cache.get(shape_key)
        if shape is None:
            shape = np.array(
                [self._static_reason(j, spec) is None for j in range(len(self.names))],
                dtype=bool,
            )
            self._shape_cache[shape_key] = shape
        known = [(self._rc_index[rc], n) for rc, n in spec.resources if rc in self._rc_index]
        static = shape.copy()
        if len(known) < len(spec.resources):
            static[:] = False
        rows = np.array([i for i, _ in known], dtype=np.intp)
        amounts = np.array([n for _, n in known], dtype=np.int64)
        for i, n in known:
            static &= (self.min_unit[i] <= n) & (n <= self.max_unit[i]) & (n % self.step[i] == 0)
        pci_rows: list[tuple[int, int]] = []
        for alias, count in spec.pci:
            key: PoolKey = self.model.aliases[alias]
            if key in self._pool_index:
                pci_rows.append((self._pool_index[key], count))
            else:
                static[:] = False
        if card is not None and self.cards is not None:
            static &= self.cards.host_static(card)
        prepared = Prepared(whole, rows, amounts.reshape(-1, 1), static, tuple(pci_rows))
        prepared.root = spec
        prepared.card = card
        prepared.either = either
        if either and self.cards is not None:
            prepared.either_order = self._either_order()
        shifts: list[tuple[int, float]] = []
        recompute: list[int] = []
        for k, weigher in enumerate(self.weighers):
            shift = weigher.delta(spec.vcpus, spec.ram, spec.gpus, spec.disk)
            if shift is None:
                recompute.append(k)
            elif shift:
                shifts.append((k, shift))
        prepared.shifts = tuple(shifts)
        prepared.recompute = tuple(recompute)
        width = len(self.classes)
        prepared.key_terms = tuple((1 + row, amount) for row, amount in prepared.terms)
        prepared.key_pci = tuple((1 + width + row, count) for row, count in pci_rows)
        prepared.moves = (2 * self._prepared, 2 * self._prepared + 1)
        # what a claim (-1) and a release (+1) add at each position of a group key; a weight
        # w - s * shift is w + -(s * shift) bit for bit
        prepared.adds = tuple(
            tuple(
                [(at, sign * amount) for at, amount in prepared.key_terms]
                + [(at, sign * count) for at, count in prepared.key_pci]
                + [(self._woff + k, -(sign * shift)) for k, shift in shifts]
            )
            for sign in (-1, 1)
        )
        self._prepared += 1
        if self._grouped:
            prepared.view = GroupView(
                prepared.static_list,
                prepared.key_terms,
                prepared.key_pci,
                self._floors,
                self._mult_list,
            )
            grouping = self._grouping
            mask = static.tobytes()
            if mask not in grouping.masks:
                grouping.masks.add(mask)
                if grouping.refine(prepared.static_list):
                    self._regroup()
        return prepared

    # ----------------------------------------------------------------- grouping
    def _key(self, j: int) -> GroupKey:
        self._materialize()
        return (
            self._grouping.cls[j],
            *self._free_cols[j],
            *self._pci_cols[j],
            *self._wcols[j],
        )

    def _regroup(self) -> None:
        """Group every host afresh; every view recounts at its next decision."""
        self._materialize()
        self._grouping.regroup([self._key(j) for j in range(len(self.names))])

    # ----------------------------------------------------------------- deciding
    def _full_mask(self, request: Prepared) -> npt.NDArray[np.bool_]:
        if request.rows.size:
            ok = (self.free[request.rows] >= request.amounts).all(axis=0)
            ok &= request.static
        else:
            ok = request.static.copy()
        for row, count in request.pci_rows:
            # With PciPassthroughFilter the filter removes the host; without it the claim on
            # the host fails. Either way no host without free devices can take the request.
            ok &= self.pci_free[row] >= count
        if request.card is not None and self.cards is not None:
            ok &= self.cards.mask(request.card)
        if request.either and self.cards is not None:
            for rc, row, amount in request.either:
                ok &= (self.free[row] >= amount) | self.cards.either_mask(rc, amount)
        return ok

    def _fits(self, request: Prepared, j: int) -> bool:
        # Python-side mirrors of one host's free amounts: much cheaper than numpy scalars.
        if not request.static_list[j]:
            return False
        free = self._free_cols[j]
        for row, amount in request.terms:
            if free[row] < amount:
                return False
        pci = self._pci_cols[j]
        if not all(pci[row] >= count for row, count in request.pci_rows):
            return False
        cards = self.cards
        if cards is None:
            return True
        for rc, row, amount in request.either:
            if not cards.either_fits(j, rc, amount, free[row]):
                return False
        return request.card is None or cards.fits(j, request.card)

    def candidates(self, request: Prepared) -> npt.NDArray[np.intp]:
        """Indices of the hosts that pass every stage for `request` now, in fleet order."""
        log = self._changes
        since = request.seen - self._log_base
        fit = request.fit
        self._materialize()
        if fit is None or since < 0 or len(log) - since > self._incremental_limit:
            fit = request.fit = self._full_mask(request)
        else:
            for j in set(log[since:]):
                fit[j] = self._fits(request, j)
        request.seen = self._log_base + len(log)
        return fit.nonzero()[0]

    def _pick(self, idx: npt.NDArray[np.intp]) -> int:
        size = self.model.config.host_subset_size
        if idx.size == 1 or not self.weighers:
            if size > 1 and idx.size > 1:
                top = idx[:size]
                return int(top[int(self._rng.integers(top.size))])
            return int(idx[0])
        v = self.weights.take(idx, axis=1)
        lows = v.min(axis=1).tolist()
        for k, floor in self._minvals:
            if lows[k] < floor:
                np.maximum(v[k], floor, out=v[k])
            lows[k] = floor
        highs = v.max(axis=1).tolist()
        coef = [
            m / (hi - lo) if hi > lo else 0.0
            for m, hi, lo in zip(self._mult_list, highs, lows, strict=True)
        ]
        # Term by term (not np.dot): one rounding per product and per sum on every machine,
        # as the group path computes it.
        score = coef[0] * v[0]
        for k in range(1, len(coef)):
            score += coef[k] * v[k]
        if size == 1:
            return int(idx[int(score.argmax())])
        order = np.argsort(-score, kind="stable")[:size]
        return int(idx[int(order[int(self._rng.integers(order.size))])])

    def scores(self, request: Prepared) -> dict[str, float]:
        """The summed, normalised weight of every candidate host (for tests and explaining)."""
        idx = self.candidates(request)
        if idx.size <= 1 or not self.weighers:
            return {self.names[int(j)]: 0.0 for j in idx}
        v = np.maximum(self.weights[:, idx], self._floor)
        hi = v.max(axis=1)
        lo = v.min(axis=1)
        lo[self._has_min] = self._floor[self._has_min, 0]
        spread = hi - lo
        norm = np.divide(
            v - lo[:, None],
            spread[:, None],
            out=np.zeros_like(v),
            where=spread[:, None] > 0,
        )
        total = self._mult @ norm
        return {self.names[int(j)]: float(s) for j, s in zip(idx, total, strict=True)}

    def schedule(self, request: Prepared) -> Claim | None:
        """Place `request`: pick a host and claim its resources; None when no host can take it."""
        view = request.view
        if self._grouped and view is not None:
            grouping = self._grouping
            view.catch_up(grouping)
            best = view.best_groups
            if not best:
                return None
            if len(best) == 1:
                j = grouping.first(best[0])
            else:
                j = min(grouping.first(group) for group in best)
            if self._lazy:
                self._apply_lazy(j, request, False)
                return _new_claim(Claim, (j, request, -1))
        else:
            idx = self.candidates(request)
            if idx.size == 0:
                return None
            j = self._pick(idx)
        return self._claim(j, request)

    def claim_on(self, request: Prepared, host: str) -> Claim | None:
        """Claim `request` on `host` as `schedule` would once it picked that host (a card
        that fits, the classes of either kind); None when `host` cannot take it now."""
        j = self.names.index(host)
        self._materialize()
        if not self._fits(request, j):
            return None
        if self._lazy and self._grouped:
            self._apply_lazy(j, request, False)
            return _new_claim(Claim, (j, request, -1))
        return self._claim(j, request)

    def _claim(self, j: int, request: Prepared) -> Claim:
        """Take `request` on host `j` (a candidate): its card, classes of either kind, root."""
        card = -1
        either: tuple[int, ...] = ()
        cards = self.cards
        if cards is not None:
            if request.card is not None:
                chosen = cards.choose(j, request.card)
                assert chosen is not None, "a candidate host has a card that fits"
                card = chosen
                cards.take(card, request.card)
            if request.either:
                either = self._take_either(j, request, cards)
        self._apply(j, request, -1)
        return _new_claim(Claim, (j, request, card, either))

    def _take_either(self, j: int, request: Prepared, cards: CardTable) -> tuple[int, ...]:
        """Take each `either` class of `request` on host `j` from the root or a card, drawn
        among those with the amount free; returns where each came from (-1: the root)."""
        free = self._free_cols[j]
        out = []
        for rc, row, amount in request.either:
            where = cards.either_choose(j, rc, amount, free[row], request.either_order)
            if where < 0:
                free[row] -= amount
            else:
                cards.take_class(where, rc, amount)
            out.append(where)
        return tuple(out)

    def _rank(self) -> list[float] | None:
        """One request's ranking of the cards (None: fleet order); see `CardOrder`."""
        if self.card_order == "fleet" or self.cards is None:
            return None
        rank: list[float] = self._card_rng.random(len(self.cards.cards)).tolist()
        return rank

    def _either_order(self) -> tuple[int, ...]:
        """One request's order of the root (-1) and every card, for classes of either kind."""
        assert self.cards is not None
        providers = [-1, *range(len(self.cards.cards))]
        if self.card_order == "fleet":
            return tuple(providers)
        return tuple(providers[int(i)] for i in self._card_rng.permutation(len(providers)))

    def release(self, claim: Claim) -> None:
        """Give back what `claim` holds (the VM is deleted), its card's part to that card."""
        card = claim[2]
        if card >= 0 and self.cards is not None and claim[1].card is not None:
            self.cards.give(card, claim[1].card)
        if claim[1].either and self.cards is not None:
            for (rc, row, amount), where in zip(claim[1].either, claim[3], strict=True):
                if where < 0:
                    self._free_cols[claim[0]][row] += amount
                else:
                    self.cards.take_class(where, rc, -amount)
        if self._lazy and self._grouped:
            self._apply_lazy(claim[0], claim[1], True)
        else:
            self._apply(claim[0], claim[1], 1)

    def _apply(self, j: int, request: Prepared, sign: int) -> None:
        if self._lazy and self._grouped:
            self._apply_lazy(j, request, sign > 0)
            return
        column = self._free_cols[j]
        for row, amount in request.terms:
            column[row] += sign * amount
        lists = self._lists
        if request.pci_rows:
            pci_column = self._pci_cols[j]
            for row, count in request.pci_rows:
                pci_column[row] += sign * count
                lists.pci_free_total[j] += sign * count
        self._dirty.add(j)
        log = self._changes
        log.append(j)
        if len(log) > 65536:
            self._log_base += len(log)
            log.clear()
        spec = request.spec
        lists.ram_used[j] -= sign * spec.ram
        lists.vcpus_used[j] -= sign * spec.vcpus
        lists.disk_used[j] -= sign * spec.disk
        wcol = self._wcols[j]
        for k, shift in request.shifts:
            wcol[k] -= sign * shift
        for k in request.recompute:
            wcol[k] = self.weighers[k].raw_at(lists, j)
        if self._grouped:
            self._grouping.move(j, (self._grouping.cls[j], *column, *self._pci_cols[j], *wcol))

    def _next_key(self, key: GroupKey, request: Prepared, sign: int) -> GroupKey:
        """The state a claim (sign -1) or release (+1) of `request` takes a host in `key` to.

        The same operations, in the same order, as `_apply` on the host's lists.
        """
        new = list(key)
        for at, delta in request.adds[sign > 0]:
            new[at] += delta
        woff = self._woff
        if request.recompute:
            total = int(sum(new[1 + len(self.classes) : woff]))
            one = _HostLists([0.0], [0.0], [0.0], [0.0], [total], [0.0], [0.0])
            for k in request.recompute:
                new[woff + k] = self.weighers[k].raw_at(one, 0)
        return tuple(new)

    def _apply_lazy(self, j: int, request: Prepared, back: bool) -> None:
        """`_apply` for lazy hosts (a claim, or with `back` a release): move the host's group.

        The host's free amounts, devices and weights are written back when read
        (`_materialize`, which also notes the host as changed for the numpy views and for
        `candidates`); the RAM and vCPUs of its flavors are kept here.
        """
        self._grouping.transition(j, request.moves[back], request, 1 if back else -1)
        ram, vcpus, disk = request.uses[back]
        self._ram_used[j] += ram
        self._vcpus_used[j] += vcpus
        self._disk_used[j] += disk
        self._stale.add(j)

    def _materialize(self) -> None:
        """Write the lazy hosts' free amounts, devices and weights back from their groups."""
        stale = self._stale
        if not stale:
            return
        group_of = self._grouping.group_of
        r = 1 + len(self.classes)
        woff = self._woff
        free_cols = self._free_cols
        pci_cols = self._pci_cols
        wcols = self._wcols
        pci_total = self._lists.pci_free_total
        for j in stale:
            key = group_of[j].key
            free_cols[j] = [int(v) for v in key[1:r]]
            pci = [int(v) for v in key[r:woff]]
            pci_cols[j] = pci
            pci_total[j] = sum(pci)
            wcols[j] = [float(v) for v in key[woff:]]
        self._dirty |= stale
        log = self._changes
        log.extend(stale)
        if len(log) > 65536:
            self._log_base += len(log)
            log.clear()
        stale.clear()

    def _sync(self) -> None:
        """Bring the numpy views up to date with the hosts that changed since last time."""
        self._materialize()
        if not self._dirty:
            return
        hosts = sorted(self._dirty)
        self._dirty.clear()
        lists = self._lists
        self._free_np[:, hosts] = np.array([self._free_cols[j] for j in hosts]).T
        self._pci_np[:, hosts] = np.array([self._pci_cols[j] for j in hosts], dtype=np.int64).T
        self._pci_total_np[hosts] = [lists.pci_free_total[j] for j in hosts]
        self._ram_used_np[hosts] = [lists.ram_used[j] for j in hosts]
        self._vcpus_used_np[hosts] = [lists.vcpus_used[j] for j in hosts]
        self._disk_used_np[hosts] = [lists.disk_used[j] for j in hosts]
        self._weights_np[:, hosts] = (
            np.array([self._wcols[j] for j in hosts], dtype=np.float64).reshape(len(hosts), -1).T
        )

    @property
    def free(self) -> npt.NDArray[np.int64]:
        """Free amount of every resource class (rows) on every host (columns)."""
        self._sync()
        return self._free_np

    @property
    def pci_free(self) -> npt.NDArray[np.int64]:
        """Free devices of every PCI pool (rows) on every host (columns)."""
        self._sync()
        return self._pci_np

    @property
    def pci_free_total(self) -> npt.NDArray[np.int64]:
        """Free devices of all pools on every host."""
        self._sync()
        return self._pci_total_np

    @property
    def ram_used(self) -> npt.NDArray[np.float64]:
        """RAM (MiB) of the flavors on every host."""
        self._sync()
        return self._ram_used_np

    @property
    def disk_used(self) -> npt.NDArray[np.float64]:
        """Root and ephemeral disk (GB) of the flavors on every host."""
        self._sync()
        return self._disk_used_np

    @property
    def vcpus_used(self) -> npt.NDArray[np.float64]:
        """vCPUs of the flavors on every host."""
        self._sync()
        return self._vcpus_used_np

    @property
    def weights(self) -> npt.NDArray[np.float64]:
        """Raw weight of every weigher (rows) on every host (columns)."""
        self._sync()
        return self._weights_np

    # ----------------------------------------------------------------- explaining
    def explain(self, request: Prepared) -> tuple[Rejection, ...]:
        """Which stage or filter removes which host for `request` now (hosts that pass: none).

        Slow (a loop over hosts); meant for refusals and for people, not for every decision.
        """
        out: list[Rejection] = []
        spec = request.root
        card = request.card
        for j, name in enumerate(self.names):
            reason = self._static_reason(j, spec) or self._unit_reason(j, spec)
            if reason is None:
                for rc, amount in spec.resources:
                    free = int(self.free[self._rc_index[rc], j])
                    if free < amount:
                        reason = (self.resource_stage, f"{rc}: {free} free, {amount} asked")
                        break
            cards = self.cards
            if reason is None and card and cards and not cards.fits(j, card):
                reason = (CARD_STAGE, cards.reason(j, card))
            for rc, row, amount in request.either if reason is None and cards else ():
                root_free = int(self.free[row, j])
                if cards and not cards.either_fits(j, rc, amount, root_free):
                    reason = (
                        self.resource_stage,
                        f"{rc}: {amount} asked, {root_free} free on the root and less on "
                        "every card",
                    )
                    break
            if reason is None:
                view = self._host_view(j)
                for f in self.filters:
                    if f.dynamic and not f.host_passes(view, spec):
                        reason = (f.name, f.reason(view, spec))
                        break
                if (
                    reason is None
                    and self._pci_filter is None
                    and not PciPassthroughFilter().host_passes(view, spec)
                ):
                    reason = ("PciClaim", "no free matching PCI device")
            if reason is not None:
                out.append(Rejection(name, reason[0], reason[1]))
        return tuple(out)

    # ----------------------------------------------------------------- looking
    def free_pci(self, alias: str) -> int:
        """Free devices in the pool `alias` asks for, over all hosts."""
        key = self.model.aliases.get(alias)
        if key is None or key not in self._pool_index:
            return 0
        return int(self.pci_free[self._pool_index[key]].sum())

    def free_of(self, host: str, resource_class: str) -> int:
        """What `host` has free of `resource_class` now (0 without inventory)."""
        j = self.names.index(host)
        i = self._rc_index.get(resource_class)
        return 0 if i is None else int(self.free[i, j])
