"""Placement's request groups on a host's tree of providers, as rules: the card tie.

A vGPU card is a child provider under the host's root (`gpuslice.model.cards`). The request is
taken apart there (`split`): the root's part goes through the other rules, the numbered group
that asks a card's class must come from one card, and an unnumbered class that roots and cards
both hold may come from the root or any card.
- `OneCard`: static, some card of the host holds every class of the card part, every trait it
  requires and none it forbids; dynamic, some such card has every amount free now ("any card
  fits"; the engine reads the cards' free amounts per class as the key columns of this rule).
  With several card groups (a k-vGPU flavor on virtual functions) the host's cards must serve
  them all (`serve`: k distinct cards under group_policy=isolate, rules in
  `gpuslice.model.cards`);
- `RootOrCard`: dynamic, for each class of either kind the root or some card has the amount
  free.
Both read the host's cards from `HostView.cards`; they let every host pass for requests
without a card part (and for clouds without cards).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import permutations

from gpuslice.model.cards import CARD_STAGE, CardAsk, Split, split
from gpuslice.model.request import RequestSpec
from gpuslice.model.rules.base import CardView, HostView, Rule


class _Tree(Rule):
    """A rule on a request taken apart for a cloud whose roots and cards hold these classes."""

    tree = True

    def __init__(self, root_classes: frozenset[str], card_classes: frozenset[str]) -> None:
        self.root_classes = root_classes
        self.card_classes = card_classes

    def parts(self, spec: RequestSpec) -> Split:
        """`spec` taken apart (`gpuslice.model.cards.split`)."""
        return split(spec, self.root_classes, self.card_classes)


class OneCard(_Tree):
    """Pass a host whose cards serve the request's card groups (the tie of each to a card)."""

    name = CARD_STAGE
    dynamic = True

    def shape(self, spec: RequestSpec) -> object:
        """Only the card part matters."""
        parts = self.parts(spec)
        return parts.cards, parts.isolate

    def host_passes(self, host: HostView, spec: RequestSpec) -> bool:
        """The host's cards can ever serve every card group."""
        parts = self.parts(spec)
        return not parts.cards or serve(host.cards, parts, now=False)

    def reason(self, host: HostView, spec: RequestSpec) -> str:
        """No card of the kind asked, or too few."""
        parts = self.parts(spec)
        ask = parts.cards[0]
        k = len(parts.cards)
        able = sum(card.serves(ask) for card in host.cards)
        if k > 1 and able:
            kind = _kind(host.cards)
            if not parts.isolate:
                return f"its {kind}s{_traits(ask)} hold fewer than {k} x {_per(parts)}"
            return f"{able} {kind}(s){_traits(ask)} can give {_per(parts)}"
        have = "no card" if not host.cards else "no card of this kind"
        return f"{have}{_traits(ask)} to give {ask.describe()} from one provider"

    def dynamic_reason(self, host: HostView, spec: RequestSpec) -> str | None:
        """The cards that could serve the card groups lack their amounts free now."""
        parts = self.parts(spec)
        if not parts.cards or serve(host.cards, parts, now=True):
            return None
        ask = parts.cards[0]
        amounts = dict(ask.resources)
        lead = "VGPU" if "VGPU" in amounts else ask.resources[0][0]
        what = f"{amounts[lead]} free {lead}" + (" and its slice" if len(amounts) > 1 else "")
        free = "; ".join(
            f"{card.name}: " + ", ".join(f"{card.free.get(rc, 0)} {rc}" for rc, _ in ask.resources)
            for card in host.cards
            if card.serves(ask)
        )
        k = len(parts.cards)
        if k == 1:
            return f"no card{_traits(ask)} with {what} ({ask.describe()} asked; free {free})"
        kind = _kind(host.cards)
        each = "each " if parts.isolate else "together "
        return f"no {k} {kind}s{_traits(ask)} {each}with {what} ({_per(parts)}; free {free})"


def serve(cards: Sequence[CardView], parts: Split, *, now: bool) -> bool:
    """Whether `cards` can serve every card group of `parts` (now: with their free amounts;
    else: ever). Under isolate each group needs a card of its own (alike groups: k cards that
    each fit; different groups: some assignment of distinct cards, tried exhaustively); under
    `none` alike groups may share a card while their summed amounts fit."""
    asks = parts.cards

    def ok(card: CardView, ask: CardAsk) -> bool:
        return card.fits(ask) if now else card.serves(ask)

    if len(asks) == 1:
        return any(ok(card, asks[0]) for card in cards)
    first = asks[0]
    if all(
        a.resources == first.resources
        and a.required_traits == first.required_traits
        and a.forbidden_traits == first.forbidden_traits
        for a in asks
    ):
        if parts.isolate:
            return sum(ok(card, first) for card in cards) >= len(asks)
        held = 0
        for card in cards:
            if card.serves(first):
                have = card.free if now else card.capacity
                held += min(have.get(rc, 0) // n for rc, n in first.resources)
        return held >= len(asks)
    return any(
        all(ok(card, ask) for card, ask in zip(chosen, asks, strict=True))
        for chosen in permutations(cards, len(asks))
    )


def _per(parts: Split) -> str:
    """`1 VGPU, ... asked per group, 2 groups, group_policy=isolate`."""
    policy = "group_policy=isolate" if parts.isolate else "group_policy=none"
    k = len(parts.cards)
    asks = {ask.describe() for ask in parts.cards}
    what = asks.pop() if len(asks) == 1 else "a different part"
    return f"{what} asked per group, {k} groups, {policy}"


def _kind(cards: Sequence[CardView]) -> str:
    kinds = {card.kind for card in cards}
    return kinds.pop() if len(kinds) == 1 else "card"


class RootOrCard(_Tree):
    """Pass a host whose root or some card has each class of either kind free (dynamic)."""

    name = "Placement"
    dynamic = True

    def dynamic_reason(self, host: HostView, spec: RequestSpec) -> str | None:
        """The first class of either kind that neither the root nor a card has free."""
        for rc, amount in self.parts(spec).either:
            root_free = host.free.get(rc, 0)
            if root_free < amount and all(card.free.get(rc, 0) < amount for card in host.cards):
                return f"{rc}: {amount} asked, {root_free} free on the root and less on every card"
        return None


def _traits(ask: CardAsk) -> str:
    return f" ({', '.join(sorted(ask.required_traits))})" if ask.required_traits else ""
