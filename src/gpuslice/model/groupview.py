"""One request's view of the host groups: its candidates, bounds, scores and best groups.

A decision weighs groups, not hosts (see `gpuslice.model.groups`). Each prepared request
keeps a `GroupView`: its candidate groups, each weigher's normalisation bounds and how many
candidate groups sit at each bound, every candidate's score and the best groups. Before a
decision the view catches up on the groups that appeared or vanished since its last one
(`catch_up`); it weighs every candidate again only when a bound moved (`rescore`), and looks
at every group only when it fell far behind or the groups were rebuilt (`recount`).

Scores are nova's normalised, multiplied and summed weights without the constant offsets:
`sum(scale(m, low, high) * w)` (`gpuslice.model.rules.normalize`), summed left to right with
one rounding per product and per sum, as the per-host path (`Scheduler._pick`) computes them,
so both choose alike.
"""

from __future__ import annotations

from operator import add, eq, gt, sub
from typing import Any

from gpuslice.model.groups import Grouping, HostGroup
from gpuslice.model.rules import Need, Rule, scale
from gpuslice.model.rules.normalize import lower_bound


def _weighted_sums(
    coef: list[float], ws: list[tuple[float, ...]], columns: list[tuple[float, ...]]
) -> list[float]:
    """`weighted_sum(coef, w)` for every `w` in `ws` (`columns` is `ws` transposed): the same
    sums, in the same order, written out for up to five weighers (this is the hot loop of a
    decision) and column by column beyond."""
    n = len(coef)
    if n == 5:
        c0, c1, c2, c3, c4 = coef
        return [c0 * a + c1 * b + c2 * c + c3 * d + c4 * e for a, b, c, d, e in ws]
    if n == 4:
        c0, c1, c2, c3 = coef
        return [c0 * a + c1 * b + c2 * c + c3 * d for a, b, c, d in ws]
    if n == 3:
        c0, c1, c2 = coef
        return [c0 * a + c1 * b + c2 * c for a, b, c in ws]
    totals = [0.0] * len(ws)
    for c, column in zip(coef, columns, strict=True):
        totals = [t + c * w for t, w in zip(totals, column, strict=True)]
    return totals


class GroupView:
    """What one prepared request knows of the groups (see the module docstring).

    `static_list[j]` says whether host j passes the request's static stages; `key_needs` are
    (position in a group key, amount it must reach) of every dynamic rule, and `custom` the
    (rule, needs) of rules with their own `fits`.
    `floors` and `mult` are each weigher's minval (None: the candidates' lowest bounds it)
    and multiplier.
    """

    __slots__ = (
        "best",
        "best_groups",
        "cls_ok",
        "coef",
        "custom",
        "epoch",
        "floors",
        "hi",
        "hi_n",
        "key_needs",
        "lo",
        "lo_n",
        "memo",
        "mult",
        "opens",
        "pos",
        "scores",
        "static_list",
    )

    def __init__(
        self,
        static_list: list[bool],
        key_needs: tuple[Need, ...],
        custom: tuple[tuple[Rule, tuple[Need, ...]], ...],
        floors: tuple[float | None, ...],
        mult: list[float],
    ) -> None:
        self.static_list = static_list
        self.key_needs = key_needs
        self.custom = custom
        self.floors = floors
        self.mult = mult
        # the weighers without a minval (their lower bound is the candidates' lowest)
        self.opens = tuple(k for k, floor in enumerate(floors) if floor is None)
        self.epoch = -1
        self.pos = 0
        self.cls_ok: list[bool] = []
        self.memo: dict[HostGroup, bool] = {}
        self.scores: dict[HostGroup, float] = {}
        self.hi: list[float] = []
        self.lo: list[float] = []
        # how many candidate groups sit at each bound (a bound moves when its count drops to 0)
        self.hi_n: list[int] = []
        self.lo_n: list[int] = []
        self.coef: list[float] = []
        self.best = 0.0
        self.best_groups: list[HostGroup] = []

    def fits(self, group: HostGroup) -> bool:
        """Whether the hosts of `group` pass every stage (what `Scheduler._fits` says)."""
        key = group.key
        if not self.cls_ok[int(key[0])]:
            return False
        for at, amount in self.key_needs:
            if key[at] < amount:
                return False
        return all(rule.fits(key, needs) for rule, needs in self.custom)

    def recount(self, grouping: Grouping[Any]) -> None:
        """Find the candidate groups among all groups, then weigh them."""
        if self.epoch != grouping.epoch:
            self.epoch = grouping.epoch
            self.cls_ok = [self.static_list[j] for j in grouping.cls_rep]
            self.memo = {}
        self.pos = grouping.event_base + len(grouping.events)
        memo = self.memo
        if len(memo) > 2 * len(grouping.groups) + 64:
            memo.clear()
        scores: dict[HostGroup, float] = {}
        fits = self.fits
        for group in grouping.groups.values():
            ok = memo.get(group)
            if ok is None:
                ok = memo[group] = fits(group)
            if ok:
                scores[group] = 0.0
        self.scores = scores
        self.rescore()

    def rescore(self) -> None:
        """Weigh the candidate groups: bounds, multipliers, scores and the best."""
        scores = self.scores
        if not scores:
            self.best_groups = []
            return
        groups = list(scores)
        ws = [g.weights for g in groups]
        values = list(zip(*ws, strict=True))
        hi: list[float] = []
        lo: list[float] = []
        hi_n: list[int] = []
        lo_n: list[int] = []
        coef: list[float] = []
        for v, floor, m in zip(values, self.floors, self.mult, strict=True):
            high = max(v)
            low = lower_bound(v, floor)
            hi.append(high)
            lo.append(low)
            hi_n.append(v.count(high))
            # (a weigher with a minval keeps its lower bound: its count there is never read)
            lo_n.append(v.count(low) if floor is None else 0)
            coef.append(scale(m, low, high))
        self.hi, self.lo, self.hi_n, self.lo_n, self.coef = hi, lo, hi_n, lo_n, coef
        totals = _weighted_sums(coef, ws, values)
        self.scores = dict(zip(groups, totals, strict=True))
        best = self.best = max(totals)
        if totals.count(best) == 1:
            self.best_groups = [groups[totals.index(best)]]
        else:
            self.best_groups = [g for g, v in zip(groups, totals, strict=True) if v == best]

    def _best(self) -> None:
        scores = self.scores
        best = self.best = max(scores.values())
        self.best_groups = [g for g, s in scores.items() if s == best]

    def catch_up(self, grouping: Grouping[Any]) -> None:
        """Apply the groups that appeared or vanished since this view's last decision.

        A group that moves no bound is weighed alone; one that moves a bound changes every
        candidate's score, so the candidates are weighed again (`rescore`).
        """
        start = self.pos - grouping.event_base
        events = grouping.events
        if (
            self.epoch != grouping.epoch
            or start < 0
            or len(events) - start > len(grouping.groups) // 2 + 8
        ):
            # (a long backlog costs more than looking at every group once)
            self.recount(grouping)
            return
        if start == len(events):
            return
        self.pos = grouping.event_base + len(events)
        scores = self.scores
        memo = self.memo
        hi = self.hi
        lo = self.lo
        opens = self.opens
        coef = self.coef
        fits = self.fits
        moved = not scores
        best_gone = False
        window = events[start:]
        # Net changes: a group that came and went within the window is skipped; additions go
        # first, so a bound that a new group shares is not taken for gone.
        gone = [group for added, group in window if not added]
        vanished = set(gone)
        for added, group in window:
            if not added or group in vanished:
                continue
            ok = memo.get(group)
            if ok is None:
                ok = memo[group] = fits(group)
            if not ok:
                continue
            scores[group] = 0.0
            if moved:
                continue
            weights = group.weights
            if any(map(gt, weights, hi)) or any(weights[k] < lo[k] for k in opens):
                moved = True
                continue
            # (counts at a minval bound are kept but never read: that bound does not move)
            self.hi_n = list(map(add, self.hi_n, map(eq, weights, hi)))
            self.lo_n = list(map(add, self.lo_n, map(eq, weights, lo)))
            score = 0.0
            for c, w in zip(coef, weights):  # noqa: B905 (one weight per weigher)
                score += c * w
            scores[group] = score
            if score > self.best:
                self.best = score
                self.best_groups = [group]
                best_gone = False
            elif score == self.best:
                self.best_groups.append(group)
        for group in gone:
            if scores.pop(group, None) is None or moved:
                continue
            weights = group.weights
            hi_n = self.hi_n = list(map(sub, self.hi_n, map(eq, weights, hi)))
            lo_n = self.lo_n = list(map(sub, self.lo_n, map(eq, weights, lo)))
            if 0 in hi_n or any(not lo_n[k] for k in opens):
                moved = True
                continue
            if group in self.best_groups:
                self.best_groups.remove(group)
                best_gone = not self.best_groups
        if moved:
            self.rescore()
        elif best_gone:
            self._best()
