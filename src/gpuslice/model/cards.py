"""Cards: child providers under a host's root (vGPU cards), and the request part tied to one.

nova gives each physical GPU that offers an mdev type a child resource provider holding VGPU;
gpuslice's provider.yaml adds the card's slice (`CUSTOM_GPU_VCPU`, `CUSTOM_GPU_MEMORY_MB`) and
a trait to it. The model keeps a host's root where it was (one column of the scheduler) and
its cards here, one row each: the columns read per card are `CardTable.columns` (every class
any card holds), plus its traits and its host.

Which part of a request a card serves (`split`), as Placement takes a request apart:
- a numbered group (`resources1:...`, `trait1:...`) comes from one provider with all of its
  amounts and traits; it is tied to one card when it asks a class that no root provider has
  (VGPU), else it stays with the root (a tree of one provider serves every group);
- the unnumbered group takes each class from one provider of the tree: a class no root
  provider has (`resources:VGPU=N` where no slice is held per card) is asked of one card; a
  class that both roots and cards hold (`CUSTOM_GPU_VCPU` of a passthrough flavor on a host
  whose cards carry tied slices) may come from the root or from any card (`Split.either`);
  other classes come from the root;
- several numbered groups that each ask a card's class (a k-vGPU flavor on SR-IOV based vGPU:
  one group of 1 VGPU and its slice per virtual function) follow Placement 16
  (`objects/allocation_candidate.py`): it merges one candidate per group on one tree;
  `group_policy=isolate` keeps only merges whose numbered groups sit on as many distinct
  providers as there are groups (`_satisfies_group_policy`); with `none` groups may share a
  provider, as long as their summed amounts fit its capacity (`exceeds_capacity`). Identical
  groups (gpuslice's flavors) then need k cards that each fit the group (isolate), or cards
  whose copies of the group add up to k (none). Different groups are matched exactly under
  isolate (`match`: each group to a card of its own); under `none` the model refuses them
  (InputError naming the flavor). A missing policy with several numbered groups is
  Placement's HTTP 400 (`AllocationCandidates` refuses every host);
- an unnumbered card-only class beside numbered card groups, or a card ask beside classes of
  either kind: the model refuses (InputError) a request that would need it (gpuslice's
  flavors never do).

Which card (`choose`): the first card of the host that fits, in the request's card order (k
identical isolated groups: the first k cards that fit; `none`: each group in turn on the first
card with room left; different groups: each group in turn the earliest card in that order
that still leaves cards for the groups after it, `match`).
Placement builds a host's candidates as a set and lists them in its iteration order, which
follows the hashes of (provider id, class, amount) under Python's per-process string hashing;
nova takes the first. So within one Placement process each flavor (each set of amounts) ranks
the cards in a fixed but arbitrary order, and two flavors may rank them differently (seen on
real nova 34: 1-vGPU VMs went to one card, 2-vGPU VMs to the other, and a 4-vGPU VM was then
refused). The model draws each prepared request's ranking once from the scheduler's seed
(`drawn`, the default), or takes the fleet's order of the host's GPUs for every request
(`fleet`: first-fit, which packs cards and fragments less than nova does).
`fits` is "the host's cards can serve every group"; a release gives back to the cards the
claim took.

Which provider for a class of either kind (`either_choose`): the first with the amount free in
the request's ranking of the root and the host's cards, drawn the same way (with `fleet`, the
root first). On real nova 34 a passthrough flavor on a mixed host took its slice from the vGPU
cards in 7 runs of 7 (docs/vgpu.md); a root-first rule would hide that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from gpuslice.errors import InputError
from gpuslice.model.request import RequestGroup, RequestSpec

#: The stage `explain` names when a host passed its root's checks but no card can serve.
CARD_STAGE = "Placement: one card"


@dataclass(frozen=True)
class CardModel:
    """One card: its provider name, its host (index of the root provider in the model), the
    GPU model it belongs to, what it holds per class (capacity), its traits, and what the
    provider is (`card`, or `VF`: a virtual function of SR-IOV based vGPU)."""

    name: str
    host: int
    alias: str
    capacity: Mapping[str, int]
    traits: frozenset[str] = frozenset()
    kind: str = "card"


@dataclass(frozen=True)
class CardAsk:
    """The part of a request that one card must serve: amounts and traits (`suffix` "" when
    it is the unnumbered group's card-only classes)."""

    suffix: str
    resources: tuple[tuple[str, int], ...]
    required_traits: frozenset[str] = frozenset()
    forbidden_traits: frozenset[str] = frozenset()

    def describe(self) -> str:
        """`2 VGPU, 8 CUSTOM_GPU_VCPU, ...` for explanations."""
        return ", ".join(f"{n} {rc}" for rc, n in self.resources)


@dataclass(frozen=True)
class Split:
    """A request taken apart: the root's part, the card parts (one per numbered group that
    asks a card's class, in group order; empty: no card), whether those groups need distinct
    cards (`isolate`), and the unnumbered classes that may come from the root or any card
    (`either`)."""

    root: RequestSpec
    cards: tuple[CardAsk, ...] = ()
    either: tuple[tuple[str, int], ...] = ()
    isolate: bool = True

    @property
    def card(self) -> CardAsk | None:
        """The card part of a one-card request (None: no card; the first of several)."""
        return self.cards[0] if self.cards else None


def split(
    spec: RequestSpec, root_classes: frozenset[str], card_classes: frozenset[str] = frozenset()
) -> Split:
    """Take `spec` apart (rules in the module docstring); `root_classes` and `card_classes`
    are the classes any root provider and any card has."""
    asks: list[CardAsk] = []
    either: tuple[tuple[str, int], ...] = ()
    for group in spec.groups:
        if group.suffix:
            if any(rc not in root_classes for rc, _ in group.resources):
                asks.append(_ask(group, group.resources))
        else:
            only = tuple((rc, n) for rc, n in group.resources if rc not in root_classes)
            if only:
                asks.append(CardAsk("", only))
            either = tuple(
                (rc, n) for rc, n in group.resources if rc in root_classes and rc in card_classes
            )
    if either:
        if asks:
            msg = (
                f"flavor {spec.flavor} asks a card group beside unnumbered classes that cards "
                f"also hold ({', '.join(rc for rc, _ in either)}); the model cannot take both"
            )
            raise InputError(msg, source=f"flavor {spec.flavor}")
        shared = dict(either)
        rest = tuple((rc, n - shared.get(rc, 0)) for rc, n in spec.resources if rc not in shared)
        return Split(replace(spec, resources=rest), (), either)
    if not asks:
        return Split(spec)
    isolate = spec.group_policy != "none"
    if len(asks) > 1:
        _check_groups(spec, asks, isolate=isolate)
    taken: dict[str, int] = {}
    for ask in asks:
        for rc, n in ask.resources:
            taken[rc] = taken.get(rc, 0) + n
    root_resources = tuple(
        (rc, n - taken.get(rc, 0)) for rc, n in spec.resources if n > taken.get(rc, 0)
    )
    numbered = {ask.suffix for ask in asks if ask.suffix}
    if numbered:
        others = [g for g in spec.groups if g.suffix not in numbered]
        required = frozenset(t for g in others for t in g.required_traits)
        forbidden = frozenset(t for g in others for t in g.forbidden_traits)
    else:
        required, forbidden = spec.required_traits, spec.forbidden_traits
    root = replace(
        spec, resources=root_resources, required_traits=required, forbidden_traits=forbidden
    )
    return Split(root, tuple(asks), (), isolate)


def _check_groups(spec: RequestSpec, asks: list[CardAsk], *, isolate: bool) -> None:
    """Refuse what the model does not take apart (module docstring): an unnumbered card class
    beside numbered card groups, and different card groups without `group_policy=isolate`."""
    if any(not ask.suffix for ask in asks):
        msg = (
            f"flavor {spec.flavor} asks card classes in the unnumbered group beside "
            f"{len(asks) - 1} numbered card group(s); the model ties numbered groups to cards "
            "(ask every vGPU in a numbered group)"
        )
        raise InputError(msg, source=f"flavor {spec.flavor}")
    if not isolate and not _identical(asks):
        msg = (
            f"flavor {spec.flavor} asks {len(asks)} different request groups of card classes "
            "with group_policy=none; the model matches different groups only under "
            "group_policy=isolate (or make the groups alike)"
        )
        raise InputError(msg, source=f"flavor {spec.flavor}")


def _identical(asks: Sequence[CardAsk]) -> bool:
    """Whether every ask wants the same amounts and traits (the suffix aside)."""
    first = asks[0]
    return all(
        a.resources == first.resources
        and a.required_traits == first.required_traits
        and a.forbidden_traits == first.forbidden_traits
        for a in asks[1:]
    )


def _ask(group: RequestGroup, resources: tuple[tuple[str, int], ...]) -> CardAsk:
    return CardAsk(group.suffix, resources, group.required_traits, group.forbidden_traits)


def match(candidates: Sequence[Sequence[int]]) -> tuple[int, ...] | None:
    """One distinct card per group, each from its own `candidates` list, or None when no such
    assignment exists. Each group in turn gets the earliest card of its list that still leaves
    an assignment for the groups after it (the first valid assignment in the lists' order).
    Exact: every check is a maximum matching (Kuhn's augmenting paths)."""
    taken: set[int] = set()
    out: list[int] = []
    for g, cards in enumerate(candidates):
        for k in cards:
            if k in taken:
                continue
            gone = taken | {k}
            if _matches([[c for c in later if c not in gone] for later in candidates[g + 1 :]]):
                taken.add(k)
                out.append(k)
                break
        else:
            return None
    return tuple(out)


def _matches(candidates: Sequence[Sequence[int]]) -> bool:
    """Whether every group can have a distinct card of its list (Kuhn's algorithm)."""
    owner: dict[int, int] = {}

    def place(g: int, seen: set[int]) -> bool:
        for k in candidates[g]:
            if k in seen:
                continue
            seen.add(k)
            if k not in owner or place(owner[k], seen):
                owner[k] = g
                return True
        return False

    return all(place(g, set()) for g in range(len(candidates)))


class CardRequest:
    """The card parts of a request made ready for one table: per group, its (column, amount)
    terms and, per card, whether the card can ever serve it (classes present, traits right);
    whether the groups are alike (`same`) and need distinct cards (`isolate`)."""

    __slots__ = (
        "ask",
        "asks",
        "group_static",
        "group_terms",
        "isolate",
        "k",
        "order",
        "same",
        "static",
        "static_np",
        "terms",
    )

    def __init__(
        self,
        asks: tuple[CardAsk, ...],
        terms: tuple[tuple[tuple[int, int], ...], ...],
        static: list[list[bool]],
        order: tuple[tuple[int, ...], ...],
        *,
        isolate: bool = True,
    ):
        self.asks = asks
        self.ask = asks[0]
        self.k = len(asks)
        self.same = _identical(asks)
        self.isolate = isolate
        self.group_terms = terms
        self.group_static = static
        # group 0's terms and static answer: every group's when they are alike
        self.terms = terms[0]
        self.static = static[0]
        self.static_np = np.array(static[0], dtype=bool)
        # per host: its cards in the order this request tries them
        self.order = order


class CardTable:
    """The cards of a cloud and what each has free. Mutable: claims take, releases give."""

    def __init__(self, cards: Sequence[CardModel], hosts: int) -> None:
        self.cards = tuple(cards)
        self.columns: tuple[str, ...] = tuple(sorted({rc for c in cards for rc in c.capacity}))
        self._col = {rc: i for i, rc in enumerate(self.columns)}
        self.capacity: list[list[int]] = [
            [c.capacity.get(rc, 0) for rc in self.columns] for c in cards
        ]
        self.free: list[list[int]] = [list(row) for row in self.capacity]
        of_host: list[list[int]] = [[] for _ in range(hosts)]
        for k, card in enumerate(cards):
            of_host[card.host].append(k)
        self.of_host: tuple[tuple[int, ...], ...] = tuple(tuple(ks) for ks in of_host)
        self._host = np.array([c.host for c in cards], dtype=np.intp)
        self._hosts = hosts

    def ranked(self, rank: Sequence[float] | None) -> tuple[tuple[int, ...], ...]:
        """Per host, its cards by `rank` (one value per card, lowest first; None: fleet
        order)."""
        if rank is None:
            return self.of_host
        return tuple(tuple(sorted(ks, key=lambda k: rank[k])) for ks in self.of_host)

    def compile(
        self,
        asks: CardAsk | Sequence[CardAsk],
        rank: Sequence[float] | None = None,
        *,
        isolate: bool = True,
    ) -> CardRequest:
        """Make the card parts `asks` (one per group) ready: a card serves a group statically
        when it holds every asked class, has every required trait and no forbidden one;
        `choose` tries a host's cards by `rank` (see `ranked`)."""
        groups = (asks,) if isinstance(asks, CardAsk) else tuple(asks)
        terms = []
        static = []
        for ask in groups:
            ok = [
                all(rc in c.capacity for rc, _ in ask.resources)
                and ask.required_traits <= c.traits
                and not ask.forbidden_traits & c.traits
                for c in self.cards
            ]
            cols = tuple((self._col[rc], n) for rc, n in ask.resources if rc in self._col)
            if len(cols) < len(ask.resources):
                ok = [False] * len(self.cards)
            terms.append(cols)
            static.append(ok)
        return CardRequest(
            groups, tuple(terms), static, self.ranked(rank), isolate=isolate or len(groups) == 1
        )

    def card_fits(self, card: int, request: CardRequest, group: int = 0) -> bool:
        """Whether `card` can serve group `group` of `request` now: statically, and every
        amount free."""
        if not request.group_static[group][card]:
            return False
        free = self.free[card]
        return all(free[col] >= n for col, n in request.group_terms[group])

    def room(self, card: int, request: CardRequest) -> int:
        """How many copies of `request`'s (alike) groups `card` can take now: at most one
        under isolate, else as many as every class's free amount allows."""
        if not request.static[card]:
            return 0
        free = self.free[card]
        most = min((free[col] // n for col, n in request.terms if n > 0), default=request.k)
        return min(most, 1) if request.isolate else max(most, 0)

    def fits(self, host: int, request: CardRequest) -> bool:
        """Whether the cards of `host` can serve every group of `request` now."""
        ks = self.of_host[host]
        if request.k == 1:
            return any(self.card_fits(k, request) for k in ks)
        if request.same:
            left = request.k
            for k in ks:
                left -= self.room(k, request)
                if left <= 0:
                    return True
            return False
        return self._match(ks, request) is not None

    def _match(self, ks: Sequence[int], request: CardRequest) -> tuple[int, ...] | None:
        return match([[k for k in ks if self.card_fits(k, request, g)] for g in range(request.k)])

    def choose(self, host: int, request: CardRequest) -> tuple[int, ...] | None:
        """The cards of `host` that serve `request`'s groups now, one per group in group
        order (rules in the module docstring), or None."""
        order = request.order[host]
        if request.k == 1:
            for k in order:
                if self.card_fits(k, request):
                    return (k,)
            return None
        if not request.same:
            return self._match(order, request)
        out: list[int] = []
        for k in order:
            take = min(self.room(k, request), request.k - len(out))
            out.extend([k] * take)
            if len(out) == request.k:
                return tuple(out)
        return None

    def take(self, cards: Sequence[int], request: CardRequest) -> None:
        """Claim each group's amounts of `request` on its card (the caller chose cards that
        fit, `choose`)."""
        for group, card in enumerate(cards):
            free = self.free[card]
            for col, n in request.group_terms[group]:
                free[col] -= n

    def give(self, cards: Sequence[int], request: CardRequest) -> None:
        """Give each group's amounts back to its card (a release of a claim on them)."""
        for group, card in enumerate(cards):
            free = self.free[card]
            for col, n in request.group_terms[group]:
                free[col] += n

    def mask(self, request: CardRequest) -> npt.NDArray[np.bool_]:
        """Per host: whether its cards can serve `request` now (`fits` over every host at
        once; different groups are matched host by host)."""
        out = np.zeros(self._hosts, dtype=bool)
        if not self.cards:
            return out
        if request.k > 1 and not request.same:
            for j in np.unique(self._host).tolist():
                out[j] = self.fits(j, request)
            return out
        free = np.array(self.free, dtype=np.int64)
        if request.k == 1 or request.isolate:
            fit = request.static_np.copy()
            for col, n in request.terms:
                fit &= free[:, col] >= n
            if request.k == 1:
                out[self._host[fit]] = True
                return out
            room = fit.astype(np.int64)
        else:
            room = np.full(len(self.cards), request.k, dtype=np.int64)
            for col, n in request.terms:
                if n > 0:
                    np.minimum(room, free[:, col] // n, out=room)
            room[~request.static_np] = 0
        per_host = np.bincount(self._host, weights=room, minlength=self._hosts)
        return per_host >= request.k

    def either_fits(self, host: int, rc: str, amount: int, root_free: int) -> bool:
        """Whether the root (`root_free` of `rc`) or a card of `host` has `amount` of `rc` free."""
        return root_free >= amount or any(self.free_of(k, rc) >= amount for k in self.of_host[host])

    def either_mask(self, rc: str, amount: int) -> npt.NDArray[np.bool_]:
        """Per host: whether one of its cards has `amount` of `rc` free."""
        out = np.zeros(self._hosts, dtype=bool)
        col = self._col.get(rc)
        if col is None or not self.cards:
            return out
        free = np.array([row[col] for row in self.free], dtype=np.int64)
        out[self._host[free >= amount]] = True
        return out

    def either_choose(
        self, host: int, rc: str, amount: int, root_free: int, order: Sequence[int]
    ) -> int:
        """The provider `rc` comes from: the first in `order` (-1 the root, else a card of
        `host`; other hosts' cards are skipped) with `amount` free (the caller checked one
        has)."""
        mine = set(self.of_host[host])
        for k in order:
            if k < 0 and root_free >= amount:
                return -1
            if k in mine and self.free_of(k, rc) >= amount:
                return k
        msg = f"no provider of host {host} has {amount} {rc} free"
        raise AssertionError(msg)

    def take_class(self, card: int, rc: str, amount: int) -> None:
        """Claim `amount` of `rc` on `card`; a negative amount gives it back."""
        self.free[card][self._col[rc]] -= amount

    def free_of(self, card: int, resource_class: str) -> int:
        """What `card` has free of `resource_class` (0 without it)."""
        col = self._col.get(resource_class)
        return 0 if col is None else self.free[card][col]

    def used(self, card: int, resource_class: str) -> int:
        """What is claimed of `resource_class` on `card`."""
        col = self._col.get(resource_class)
        return 0 if col is None else self.capacity[card][col] - self.free[card][col]
