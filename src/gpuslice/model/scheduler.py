"""The scheduler: Placement's allocation candidates, then filters, then weighers; and claims.

A decision runs the rules of `gpuslice.model.rules.stages` in nova's order (Placement,
isolated aggregates, the enabled filters, the PCI claim); the first rule that removes a host is
the one `explain` names. Then the weighers (`gpuslice.model.rules.weighers`), normalised by
`gpuslice.model.rules.normalize`; among the best `host_subset_size` hosts one is picked at
random from the scheduler's seeded generator (with the default 1: the best; ties go to the host
that comes first in the fleet).

The engine compiles the rules through their interface (`gpuslice.model.rules.base`): each
static rule gives a per-host mask, computed once per rule and request shape; each dynamic rule
gives the key columns it reads and the amounts they must reach (its `fits`); each weigher gives
a raw value from a host's state and its delta under a claim (or None: recompute it). `settle()`
is nova's periodic resource update on every host: weighers marked `settles` (IoOpsWeigher) are
recomputed, and I/O operations in flight fall back to 0.

Cards (vGPU child providers, `gpuslice.model.cards`): a request whose numbered group asks a
card's class is split into the root's part (the rules above) and the cards' part, one ask per
card group; a host is a candidate when its root passes and its cards serve every group (k
alike groups under group_policy=isolate: k cards that each fit; `CARD_STAGE` in `explain`),
the claim takes the cards in the request's order (`CardTable.choose`) and its release gives
back to those cards. An unnumbered class that roots and cards both hold comes from the root
or a card of the chosen host. Each prepared request ranks the cards (and the root) once, drawn
from the seed (`CardOrder`; `gpuslice.model.cards` says why). A model with cards decides by the
per-host path (the group path's keys hold no cards); other models keep the group path.

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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple, cast

import numpy as np
import numpy.typing as npt

from gpuslice.errors import InputError
from gpuslice.model.cards import CardRequest, CardTable, split
from gpuslice.model.cloud import CloudModel
from gpuslice.model.groups import Grouping, GroupKey
from gpuslice.model.groupview import GroupView
from gpuslice.model.request import RequestSpec
from gpuslice.model.rules import (
    BaseWeigher,
    CardView,
    HostState,
    HostView,
    Need,
    Rule,
    bounds,
    clamp,
    make_weigher,
    scale,
    stages,
)

CardOrder = Literal["drawn", "fleet"]
"""How a request ranks a host's cards: `drawn` once per prepared request from the seed (as
Placement's hash order ranks them per flavor), or `fleet` order (first-fit); see
`gpuslice.model.cards`."""

UPDATE_RESOURCES_INTERVAL = 60.0
"""nova's periodic resource update, in seconds (`[DEFAULT] update_resources_interval` 0: the
periodic task's default spacing of 60 s); simulators call `Scheduler.settle` this often."""

KEY_FIELDS = frozenset({"pci_free_total"})
"""Host-state fields a group key holds (a weigher reading only these is recomputed from it)."""


@dataclass(frozen=True)
class Rejection:
    """One host removed from one decision: by which stage or filter, and why."""

    host: str
    stage: str
    reason: str

    def __str__(self) -> str:
        return f"{self.host}: removed by {self.stage} ({self.reason})"


class Prepared:
    """A request made ready for fast decisions: its static mask and compiled dynamic needs.

    Made by `Scheduler.prepare`; belongs to that scheduler. It also carries the scheduler's
    cached candidate mask for this request, kept in step with claims and releases host by host
    (so a decision does not recompute every host's fit).
    """

    __slots__ = (
        "adds",
        "amounts",
        "card",
        "custom",
        "either",
        "either_order",
        "fit",
        "key_needs",
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
        # every dynamic rule's needs as (position in a group key, amount); rules with their own
        # `fits` as (rule, needs), checked on the host's key
        self.key_needs: tuple[Need, ...] = ()
        self.custom: tuple[tuple[Rule, tuple[Need, ...]], ...] = ()
        self.view: GroupView | None = None
        # ids of this request's claim, release, and release after a settle in `HostGroup.next`
        self.moves = (0, 0, 0)
        # what a claim, a release, and a release of a claim made before the last settle add to
        # its host's RAM, vCPUs, disk used and I/O operations (x - s * n is x + -(s * n))
        self.uses: tuple[tuple[float, float, float, int], ...] = (
            (float(spec.ram), float(spec.vcpus), float(spec.disk), 1),
            (-float(spec.ram), -float(spec.vcpus), -float(spec.disk), -1),
            (-float(spec.ram), -float(spec.vcpus), -float(spec.disk), 0),
        )
        self.adds: tuple[tuple[tuple[int, float], ...], ...] = ((), (), ())


class _HostLists:
    """The per-host values weighers read, as Python lists; `at(j)` is one host's state."""

    __slots__ = (
        "disk_total",
        "disk_used",
        "io_ops",
        "pci_free_total",
        "ram_total",
        "ram_used",
        "vcpu_total",
        "vcpus_used",
    )

    def __init__(self, n: int) -> None:
        self.ram_total: list[float] = [0.0] * n
        self.ram_used: list[float] = [0.0] * n
        self.vcpu_total: list[float] = [0.0] * n
        self.vcpus_used: list[float] = [0.0] * n
        self.pci_free_total: list[int] = [0] * n
        self.disk_total: list[float] = [0.0] * n
        self.disk_used: list[float] = [0.0] * n
        self.io_ops: list[int] = [0] * n

    def at(self, j: int) -> _HostRow:
        """Host `j`'s state now, as a weigher reads it."""
        return _HostRow(
            self.ram_total[j],
            self.ram_used[j],
            self.vcpu_total[j],
            self.vcpus_used[j],
            self.pci_free_total[j],
            self.disk_total[j],
            self.disk_used[j],
            self.io_ops[j],
        )


@dataclass(frozen=True, slots=True)
class _HostRow:
    """One host's state (a `gpuslice.model.rules.HostState`), copied from the lists."""

    ram_total: float
    ram_used: float
    vcpu_total: float
    vcpus_used: float
    pci_free_total: int
    disk_total: float
    disk_used: float
    io_ops: int


class _KeyState:
    """A host state known only from a group key: its free PCI devices (see KEY_FIELDS)."""

    __slots__ = ("pci_free_total",)

    def __init__(self, pci_free_total: int) -> None:
        self.pci_free_total = pci_free_total

    def __getattr__(self, name: str) -> object:
        msg = f"a group key does not hold {name}"
        raise AttributeError(msg)


class Claim(NamedTuple):
    """What one placed VM holds: its provider index, its prepared request, the number of
    `settle` calls before it was made (a release after a later settle leaves I/O alone), the
    card it took (index in the model's cards; -1 for none; the first of several), where each
    of the request's `either` classes came from (-1 the root, else a card), and the card of
    each card group (empty for none)."""

    provider: int
    request: Prepared
    epoch: int = 0
    card: int = -1
    either: tuple[int, ...] = ()
    cards: tuple[int, ...] = ()


_new_claim = tuple.__new__
"""Makes a `Claim` without the generated `__new__`'s call (the same tuple)."""


class Scheduler:
    """The mutable side of the model: what is used where, and the decisions that change it.

    Deterministic: the same model, seed and sequence of calls give the same decisions.
    `settled`: every request comes after nova's periodic update counted the builds before it
    (requests without times, or further apart than the update interval): nothing is ever in
    flight, so weighers marked `settles` weigh every host alike and are left out.
    `card_order`: how requests rank a host's cards (`CardOrder`).
    """

    def __init__(
        self,
        model: CloudModel,
        *,
        seed: int = 0,
        settled: bool = False,
        card_order: CardOrder = "drawn",
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
        self.pci_total = np.zeros((len(self.pool_keys), n), dtype=np.int64)
        for j, p in enumerate(model.providers):
            for rc, cap in p.capacity.items():
                self.capacity[self._rc_index[rc], j] = cap
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
        lists = self._lists = _HostLists(n)
        lists.ram_total = [float(p.ram_total) for p in model.providers]
        lists.vcpu_total = [float(p.vcpu_total) for p in model.providers]
        lists.disk_total = [float(p.disk_total) for p in model.providers]
        lists.pci_free_total = self._pci_total_np.tolist()
        self.ram_total = np.array(lists.ram_total, dtype=np.float64)
        self.vcpu_total = np.array(lists.vcpu_total, dtype=np.float64)
        self.disk_total = np.array(lists.disk_total, dtype=np.float64)
        self._ram_used_np = np.zeros(n, dtype=np.float64)
        self._vcpus_used_np = np.zeros(n, dtype=np.float64)
        self._disk_used_np = np.zeros(n, dtype=np.float64)
        self._io_ops_np = np.zeros(n, dtype=np.int64)
        self._dirty: set[int] = set()
        self._stale: set[int] = set()
        self._ram_used = lists.ram_used
        self._vcpus_used = lists.vcpus_used
        self._disk_used = lists.disk_used
        self._io_ops = lists.io_ops
        # The rules, compiled: static ones (those that can remove a host before any claim) and
        # dynamic ones, each in nova's order.
        self.cards: CardTable | None = CardTable(model.cards, n) if model.cards else None
        self.card_order = card_order
        # each prepared request's card ranking: its own generator, so the host draws of
        # host_subset_size stay what they are without cards
        self._card_rng = np.random.default_rng([seed, 1])
        self._root_classes = frozenset(self.classes)
        self._card_classes = frozenset(self.cards.columns if self.cards else ())
        tree = (self._root_classes, self._card_classes) if self.cards is not None else None
        self.rules: tuple[Rule, ...] = stages(model.config, tree)
        self._static_rules = tuple(
            rule for rule in self.rules if type(rule).host_passes is not Rule.host_passes
        )
        self._dynamic_rules = tuple(rule for rule in self.rules if rule.dynamic)
        self.resource_stage = self.rules[0].name
        weighers: list[tuple[BaseWeigher, float]] = []
        for setting in model.config.weighers:
            weigher = make_weigher(setting.name)
            if setting.multiplier != 0 and not (settled and weigher.settles):
                weighers.append((weigher, setting.multiplier))
        self.weighers = tuple(w for w, _ in weighers)
        self.multipliers: tuple[float, ...] = tuple(m for _, m in weighers)
        self._mult_list = list(self.multipliers)
        self._settling = tuple(k for k, w in enumerate(self.weighers) if w.settles)
        self._epoch = 0
        self.settled = settled
        # hosts claimed on since the last settle (their I/O operations are in flight)
        self._busy: set[int] = set()
        self._weights_np = np.zeros((len(self.weighers), n), dtype=np.float64)
        self._wcols: list[list[float]] = [
            [w.raw(lists.at(j)) for w in self.weighers] for j in range(n)
        ]
        if n and self.weighers:
            self._weights_np[:, :] = np.array(self._wcols, dtype=np.float64).T
        self._floors: tuple[float | None, ...] = tuple(w.minval for w in self.weighers)
        self._rng = np.random.default_rng(seed)
        # Hosts whose usage changed, in order; prepared requests catch up from their mark.
        self._changes: list[int] = []
        self._log_base = 0
        self._incremental_limit = max(8, n // 16)
        self._masks: dict[tuple[int, object], npt.NDArray[np.bool_]] = {}
        # The group path: hosts in the same state (static class, free amounts, free devices,
        # raw weights) are interchangeable but for fleet order, so a decision weighs states.
        # Cards are not in a group's key: a model with cards decides host by host.
        self._grouped = (
            model.config.host_subset_size == 1 and bool(self.weighers) and self.cards is None
        )
        self._woff = 1 + r + len(self.pool_keys)
        self._grouping: Grouping[Prepared] = Grouping(n, self._floors, self._woff, self._next_key)
        # Lazy hosts: when every weigher's new raw weight follows from its delta or from a
        # group key alone, a claim moves its host by the groups' cached transitions
        # (`HostGroup.next`) and the per-host lists of free amounts, devices and weights catch
        # up when read (`_materialize`); RAM, vCPUs, disk used and I/O stay per host.
        self._lazy = self._grouped
        self._prepared = 0
        if self._grouped:
            self._regroup()

    # ----------------------------------------------------------------- the layout of a key
    def class_column(self, resource_class: str) -> int | None:
        """Where free `resource_class` sits in a group key; None when no host has the class."""
        i = self._rc_index.get(resource_class)
        return None if i is None else 1 + i

    def pool_column(self, alias: str) -> int | None:
        """Where free devices of `alias`'s pool sit in a group key; None when no host has it."""
        key = self.model.aliases.get(alias)
        i = None if key is None else self._pool_index.get(key)
        return None if i is None else 1 + len(self.classes) + i

    # ----------------------------------------------------------------- preparing
    def _host_view(self, j: int, *, dynamic: bool = False) -> HostView:
        cards = self._card_views(j)
        if not dynamic:
            return HostView(self.model.providers[j], {}, self.model.aliases, cards=cards)
        pci = {key: int(self.pci_free[i, j]) for i, key in enumerate(self.pool_keys)}
        free = {rc: int(self.free[i, j]) for i, rc in enumerate(self.classes)}
        return HostView(self.model.providers[j], pci, self.model.aliases, free, cards)

    def _card_views(self, j: int) -> tuple[CardView, ...]:
        table = self.cards
        if table is None:
            return ()
        return tuple(
            CardView(
                table.cards[k].name,
                table.cards[k].capacity,
                {rc: table.free[k][i] for i, rc in enumerate(table.columns)},
                table.cards[k].traits,
                table.cards[k].kind,
            )
            for k in table.of_host[j]
        )

    def _static_mask(self, k: int, rule: Rule, spec: RequestSpec) -> npt.NDArray[np.bool_]:
        """Rule `k`'s answer for every host, once per rule and request shape."""
        key = (k, rule.shape(spec))
        mask = self._masks.get(key)
        if mask is None:
            views = [self._host_view(j) for j in range(len(self.names))]
            mask = np.array([rule.host_passes(v, spec) for v in views], dtype=bool)
            self._masks[key] = mask
        return mask

    def prepare(self, spec: RequestSpec) -> Prepared:
        """Make `spec` ready for `schedule`: check aliases, compile the rules for it.

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
            card = (
                self.cards.compile(parts.cards, self._rank(), isolate=parts.isolate)
                if parts.cards
                else None
            )
            either = tuple((rc, self._rc_index[rc], n) for rc, n in parts.either)
        static = np.ones(len(self.names), dtype=bool)
        for k, rule in enumerate(self._static_rules):
            static &= self._static_mask(k, rule, whole if rule.tree else spec)
        plain: dict[int, int] = {}
        custom: list[tuple[Rule, tuple[Need, ...]]] = []
        for rule in self._dynamic_rules:
            needs = rule.needs(spec, self)
            if needs is None:
                static[:] = False
                continue
            if type(rule).fits is Rule.fits:
                for at, amount in needs:
                    plain[at] = max(plain.get(at, 0), amount)
            elif needs:
                custom.append((rule, needs))
        width = len(self.classes)
        free_needs = sorted((at - 1, n) for at, n in plain.items() if at <= width)
        pci_rows = tuple(sorted((at - 1 - width, n) for at, n in plain.items() if at > width))
        rows = np.array([i for i, _ in free_needs], dtype=np.intp)
        amounts = np.array([n for _, n in free_needs], dtype=np.int64)
        prepared = Prepared(whole, rows, amounts.reshape(-1, 1), static, pci_rows)
        prepared.root = spec
        prepared.card = card
        prepared.either = either
        if either and self.cards is not None:
            prepared.either_order = self._either_order()
        prepared.key_needs = tuple(sorted(plain.items()))
        prepared.custom = tuple(custom)
        shifts: list[tuple[int, float]] = []
        recompute: list[int] = []
        for k, weigher in enumerate(self.weighers):
            shift = weigher.delta(whole)
            if shift is None:
                recompute.append(k)
                if not weigher.reads <= KEY_FIELDS and self._lazy:
                    self._materialize()
                    self._lazy = False
            elif shift:
                shifts.append((k, shift))
        prepared.shifts = tuple(shifts)
        prepared.recompute = tuple(recompute)
        if self.settled:
            prepared.uses = tuple((*use[:3], 0) for use in prepared.uses)
        key_terms = [(1 + row, amount) for row, amount in prepared.terms]
        key_pci = [(1 + width + row, count) for row, count in pci_rows]
        settling = set(self._settling)
        base = 3 * self._prepared
        prepared.moves = (base, base + 1, base + 2)
        # what a claim (-1), a release (+1) and a release after a settle add at each position
        # of a group key; a weight w - s * shift is w + -(s * shift) bit for bit
        prepared.adds = tuple(
            tuple(
                [(at, sign * amount) for at, amount in key_terms]
                + [(at, sign * count) for at, count in key_pci]
                + [
                    (self._woff + k, -(sign * shift))
                    for k, shift in shifts
                    if not (settled and k in settling)
                ]
            )
            for sign, settled in ((-1, False), (1, False), (1, True))
        )
        self._prepared += 1
        if self._grouped:
            prepared.view = GroupView(
                prepared.static_list,
                prepared.key_needs,
                prepared.custom,
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
            ok &= self.pci_free[row] >= count
        cards = self.cards
        if cards is not None:
            if request.card is not None:
                ok &= cards.mask(request.card)
            for rc, row, amount in request.either:
                ok &= (self.free[row] >= amount) | cards.either_mask(rc, amount)
        if request.custom:
            for j in ok.nonzero()[0].tolist():
                ok[j] = self._custom_fits(request, j)
        return ok

    def _custom_fits(self, request: Prepared, j: int) -> bool:
        key = self._key(j)
        return all(rule.fits(key, needs) for rule, needs in request.custom)

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
        if cards is not None:
            for rc, row, amount in request.either:
                if not cards.either_fits(j, rc, amount, free[row]):
                    return False
            if request.card is not None and not cards.fits(j, request.card):
                return False
        return not request.custom or self._custom_fits(request, j)

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

    def _coefficients(self, v: npt.NDArray[np.float64]) -> list[float]:
        """Each weigher's `scale` over candidates' raw values `v` (rows: weighers), clamped
        in place."""
        coef: list[float] = []
        for k, (floor, multiplier) in enumerate(zip(self._floors, self._mult_list, strict=True)):
            row = v[k]
            if floor is not None:
                np.maximum(row, floor, out=row)
            low = float(row.min()) if floor is None else floor  # `bounds`, on numpy
            high = float(row.max())
            coef.append(scale(multiplier, low, high))
        return coef

    def _pick(self, idx: npt.NDArray[np.intp]) -> int:
        size = self.model.config.host_subset_size
        if idx.size == 1 or not self.weighers:
            if size > 1 and idx.size > 1:
                top = idx[:size]
                return int(top[int(self._rng.integers(top.size))])
            return int(idx[0])
        v = self.weights.take(idx, axis=1)
        coef = self._coefficients(v)
        # Term by term (not np.dot): one rounding per product and per sum on every machine,
        # as the group path computes it.
        score = coef[0] * v[0]
        for k in range(1, len(coef)):
            score += coef[k] * v[k]
        if size == 1:
            return int(idx[int(score.argmax())])
        order = np.argsort(-score, kind="stable")[:size]
        return int(idx[int(order[int(self._rng.integers(order.size))])])

    def weighed(self, request: Prepared) -> dict[str, dict[str, float]]:
        """Each candidate host's normalised weight per weigher, times its multiplier (nova's
        per-weigher scores, as its debug log shows them)."""
        idx = self.candidates(request)
        out: dict[str, dict[str, float]] = {self.names[int(j)]: {} for j in idx}
        if idx.size == 0:
            return out
        v = self.weights.take(idx, axis=1)
        for k, weigher in enumerate(self.weighers):
            row = [clamp(x, weigher.minval) for x in v[k].tolist()]
            low, high = bounds(row, weigher.minval)
            multiplier = self.multipliers[k]
            for j, value in zip(idx.tolist(), row, strict=True):
                norm = (value - low) / (high - low) if high > low else 0.0
                out[self.names[j]][weigher.name] = multiplier * norm
        return out

    def scores(self, request: Prepared) -> dict[str, float]:
        """The summed, normalised weight of every candidate host (for tests and explaining)."""
        return {host: sum(parts.values()) for host, parts in self.weighed(request).items()}

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
        else:
            idx = self.candidates(request)
            if idx.size == 0:
                return None
            j = self._pick(idx)
        return self._take(j, request)

    def claim_on(self, request: Prepared, host: str) -> Claim | None:
        """Claim `request` on `host` as `schedule` would once it picked that host (a card
        that fits, the classes of either kind); None when `host` cannot take it now."""
        j = self.names.index(host)
        self._materialize()
        if not self._fits(request, j):
            return None
        return self._take(j, request)

    def _take(self, j: int, request: Prepared) -> Claim:
        """Claim `request` on host `j`, which fits it: by the host's group when hosts are lazy."""
        if self._lazy and self._grouped:
            self._apply_lazy(j, request, 0)
            if not self.settled:
                self._busy.add(j)
            return _new_claim(Claim, (j, request, self._epoch, -1, (), ()))
        return self._claim(j, request)

    def _claim(self, j: int, request: Prepared) -> Claim:
        """Take `request` on host `j` (a candidate): its card, classes of either kind, root."""
        chosen: tuple[int, ...] = ()
        either: tuple[int, ...] = ()
        cards = self.cards
        if cards is not None:
            if request.card is not None:
                found = cards.choose(j, request.card)
                assert found is not None, "a candidate host has cards that fit"
                chosen = found
                cards.take(chosen, request.card)
            if request.either:
                either = self._take_either(j, request, cards)
        self._apply(j, request, -1, 0)
        if not self.settled:
            self._busy.add(j)
        card = chosen[0] if chosen else -1
        return _new_claim(Claim, (j, request, self._epoch, card, either, chosen))

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
        back = 1 if claim[2] == self._epoch else 2
        if self.cards is not None:
            self._release_cards(claim)
        if self._lazy and self._grouped:
            self._apply_lazy(claim[0], claim[1], back)
        else:
            self._apply(claim[0], claim[1], 1, back)

    def _release_cards(self, claim: Claim) -> None:
        cards = self.cards
        assert cards is not None
        request = claim[1]
        if claim[5] and request.card is not None:
            cards.give(claim[5], request.card)
        for (rc, row, amount), where in zip(request.either, claim[4], strict=True):
            if where < 0:
                self._free_cols[claim[0]][row] += amount
            else:
                cards.take_class(where, rc, -amount)
        if request.either:
            self._dirty.add(claim[0])
            self._changes.append(claim[0])

    def settle(self) -> None:
        """nova's periodic resource update on every host (`update_resources_interval`).

        Each compute recounts its stats: the builds claimed since the last update are done,
        so I/O operations in flight fall back to 0 and weighers marked `settles`
        (IoOpsWeigher) weigh the recount. A release of a VM claimed before this call no longer
        takes its I/O operation back. Touches only the hosts claimed on since the last call.
        """
        self._epoch += 1
        busy = self._busy
        if not busy:
            return
        self._materialize()
        lists = self._lists
        io = self._io_ops
        grouping = self._grouping
        # a weigher that reads only I/O weighs every settled host alike: compute it once
        idle = _HostRow(0.0, 0.0, 0.0, 0.0, 0, 0.0, 0.0, 0)
        same = {
            k: self.weighers[k].raw(idle)
            for k in self._settling
            if self.weighers[k].reads <= {"io_ops"}
        }
        for j in busy:
            io[j] = 0
            wcol = self._wcols[j]
            for k in self._settling:
                wcol[k] = same[k] if k in same else self.weighers[k].raw(lists.at(j))
            if self._grouped:
                grouping.move(j, (grouping.cls[j], *self._free_cols[j], *self._pci_cols[j], *wcol))
        self._dirty |= busy
        busy.clear()

    def _apply(self, j: int, request: Prepared, sign: int, move: int) -> None:
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
        ram, vcpus, disk, io = request.uses[move]
        lists.ram_used[j] += ram
        lists.vcpus_used[j] += vcpus
        lists.disk_used[j] += disk
        lists.io_ops[j] += io
        wcol = self._wcols[j]
        for at, delta in request.adds[move]:
            if at >= self._woff:
                wcol[at - self._woff] += delta
        for k in request.recompute:
            wcol[k] = self.weighers[k].raw(lists.at(j))
        if self._grouped:
            self._grouping.move(j, (self._grouping.cls[j], *column, *self._pci_cols[j], *wcol))

    def _next_key(self, key: GroupKey, request: Prepared, move: int) -> GroupKey:
        """The state that move `move` (0 claim, 1 release, 2 release after a settle) of
        `request` takes a host in `key` to: the same operations, in the same order, as
        `_apply` on the host's lists."""
        new = list(key)
        for at, delta in request.adds[move]:
            new[at] += delta
        woff = self._woff
        if request.recompute:
            state = _KeyState(int(sum(new[1 + len(self.classes) : woff])))
            for k in request.recompute:
                new[woff + k] = self.weighers[k].raw(cast("HostState", state))
        return tuple(new)

    def _apply_lazy(self, j: int, request: Prepared, move: int) -> None:
        """`_apply` for lazy hosts (move 0 a claim, 1 a release, 2 a release after a settle):
        move the host's group.

        The host's free amounts, devices and weights are written back when read
        (`_materialize`, which also notes the host as changed for the numpy views and for
        `candidates`); the RAM, vCPUs, disk and I/O of its flavors are kept here.
        """
        self._grouping.transition(j, request.moves[move], request, move)
        ram, vcpus, disk, io = request.uses[move]
        self._ram_used[j] += ram
        self._vcpus_used[j] += vcpus
        self._disk_used[j] += disk
        self._io_ops[j] += io
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
        self._io_ops_np[hosts] = [lists.io_ops[j] for j in hosts]
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
    def io_ops(self) -> npt.NDArray[np.int64]:
        """I/O operations in flight on every host (builds since the last `settle`)."""
        self._sync()
        return self._io_ops_np

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
        """Which rule removes which host for `request` now (hosts that pass: none).

        The rules' static parts first, then their dynamic parts, each in nova's order: the
        same rules `prepare` compiles. Slow (a loop over hosts); meant for refusals and for
        people, not for every decision.
        """
        out: list[Rejection] = []
        spec = request.root
        whole = request.spec
        for j, name in enumerate(self.names):
            view = self._host_view(j, dynamic=True)
            reason: tuple[str, str] | None = None
            for rule in self._static_rules:
                asked = whole if rule.tree else spec
                if not rule.host_passes(view, asked):
                    reason = (rule.name, rule.reason(view, asked))
                    break
            if reason is None:
                for rule in self._dynamic_rules:
                    asked = whole if rule.tree else spec
                    why = rule.dynamic_reason(view, asked)
                    if why is not None:
                        reason = (rule.name, why)
                        break
            if reason is not None:
                out.append(Rejection(name, reason[0], reason[1]))
        return tuple(out)

    # ----------------------------------------------------------------- looking
    def host_state(self, j: int) -> HostState:
        """Host `j`'s state now, as a weigher reads it."""
        self._materialize()
        return self._lists.at(j)

    def raw_weights(self, k: int) -> list[float]:
        """Weigher `k`'s raw value on every host, computed afresh from the hosts' states."""
        weigher = self.weighers[k]
        return [weigher.raw(self.host_state(j)) for j in range(len(self.names))]

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
