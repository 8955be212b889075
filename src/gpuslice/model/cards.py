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
- at most one card per request, and no card ask beside classes of either kind: the model
  refuses (InputError) a request that would need more (gpuslice's flavors never do).

Which card (`choose`): the first card of the host that fits, in the request's card order.
Placement builds a host's candidates as a set and lists them in its iteration order, which
follows the hashes of (provider id, class, amount) under Python's per-process string hashing;
nova takes the first. So within one Placement process each flavor (each set of amounts) ranks
the cards in a fixed but arbitrary order, and two flavors may rank them differently (seen on
real nova 34: 1-vGPU VMs went to one card, 2-vGPU VMs to the other, and a 4-vGPU VM was then
refused). The model draws each prepared request's ranking once from the scheduler's seed
(`drawn`, the default), or takes the fleet's order of the host's GPUs for every request
(`fleet`: first-fit, which packs cards and fragments less than nova does).
`fits` is "any card of the host fits"; a release gives back to the card the claim took.

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
    GPU model it belongs to, what it holds per class (capacity) and its traits."""

    name: str
    host: int
    alias: str
    capacity: Mapping[str, int]
    traits: frozenset[str] = frozenset()


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
    """A request taken apart: the root's part, one card's part (None: no card), and the
    unnumbered classes that may come from the root or any card (`either`)."""

    root: RequestSpec
    card: CardAsk | None = None
    either: tuple[tuple[str, int], ...] = ()


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
        taken = dict(either)
        rest = tuple((rc, n - taken.get(rc, 0)) for rc, n in spec.resources if rc not in taken)
        return Split(replace(spec, resources=rest), None, either)
    if not asks:
        return Split(spec)
    if len(asks) > 1:
        msg = (
            f"flavor {spec.flavor} asks {len(asks)} request groups of card classes; the model "
            "ties one group to one card (gpuslice's vGPU flavors have one numbered group)"
        )
        raise InputError(msg, source=f"flavor {spec.flavor}")
    (ask,) = asks
    taken = dict(ask.resources)
    root_resources = tuple(
        (rc, n - taken.get(rc, 0)) for rc, n in spec.resources if n > taken.get(rc, 0)
    )
    others = [g for g in spec.groups if g.suffix != ask.suffix or not ask.suffix]
    required = frozenset(t for g in others for t in g.required_traits)
    forbidden = frozenset(t for g in others for t in g.forbidden_traits)
    root = replace(
        spec,
        resources=root_resources,
        required_traits=required if ask.suffix else spec.required_traits,
        forbidden_traits=forbidden if ask.suffix else spec.forbidden_traits,
    )
    return Split(root, ask)


def _ask(group: RequestGroup, resources: tuple[tuple[str, int], ...]) -> CardAsk:
    return CardAsk(group.suffix, resources, group.required_traits, group.forbidden_traits)


class CardRequest:
    """A `CardAsk` made ready for one table: its (column, amount) terms and, per card,
    whether the card can ever serve it (classes present, traits right)."""

    __slots__ = ("ask", "order", "static", "static_np", "terms")

    def __init__(
        self,
        ask: CardAsk,
        terms: tuple[tuple[int, int], ...],
        static: list[bool],
        order: tuple[tuple[int, ...], ...],
    ):
        self.ask = ask
        self.terms = terms
        self.static = static
        self.static_np = np.array(static, dtype=bool)
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

    def compile(self, ask: CardAsk, rank: Sequence[float] | None = None) -> CardRequest:
        """Make `ask` ready: a card serves it statically when it holds every asked class, has
        every required trait and no forbidden one; `choose` tries a host's cards by `rank`
        (see `ranked`)."""
        static = [
            all(rc in c.capacity for rc, _ in ask.resources)
            and ask.required_traits <= c.traits
            and not ask.forbidden_traits & c.traits
            for c in self.cards
        ]
        terms = tuple((self._col[rc], n) for rc, n in ask.resources if rc in self._col)
        if len(terms) < len(ask.resources):
            static = [False] * len(self.cards)
        return CardRequest(ask, terms, static, self.ranked(rank))

    def card_fits(self, card: int, request: CardRequest) -> bool:
        """Whether `card` can serve `request` now: statically, and every amount free."""
        if not request.static[card]:
            return False
        free = self.free[card]
        return all(free[col] >= n for col, n in request.terms)

    def fits(self, host: int, request: CardRequest) -> bool:
        """Whether some card of `host` can serve `request` now."""
        return any(self.card_fits(k, request) for k in self.of_host[host])

    def choose(self, host: int, request: CardRequest) -> int | None:
        """The first card of `host`, in `request`'s order, that can serve it now, or None."""
        for k in request.order[host]:
            if self.card_fits(k, request):
                return k
        return None

    def take(self, card: int, request: CardRequest) -> None:
        """Claim `request`'s amounts on `card` (the caller chose a card that fits)."""
        free = self.free[card]
        for col, n in request.terms:
            free[col] -= n

    def give(self, card: int, request: CardRequest) -> None:
        """Give `request`'s amounts back to `card` (a release of a claim on it)."""
        free = self.free[card]
        for col, n in request.terms:
            free[col] += n

    def mask(self, request: CardRequest) -> npt.NDArray[np.bool_]:
        """Per host: whether some card of it can serve `request` now (`card_fits` over every
        card at once)."""
        out = np.zeros(self._hosts, dtype=bool)
        if not self.cards:
            return out
        free = np.array(self.free, dtype=np.int64)
        fit = request.static_np.copy()
        for col, n in request.terms:
            fit &= free[:, col] >= n
        out[self._host[fit]] = True
        return out

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
