"""Placement's request groups on a host's tree of providers, as rules: the card tie.

A vGPU card is a child provider under the host's root (`gpuslice.model.cards`). The request is
taken apart there (`split`): the root's part goes through the other rules, the numbered group
that asks a card's class must come from one card, and an unnumbered class that roots and cards
both hold may come from the root or any card.
- `OneCard`: static, some card of the host holds every class of the card part, every trait it
  requires and none it forbids; dynamic, some such card has every amount free now ("any card
  fits"; the engine reads the cards' free amounts per class as the key columns of this rule);
- `RootOrCard`: dynamic, for each class of either kind the root or some card has the amount
  free.
Both read the host's cards from `HostView.cards`; they let every host pass for requests
without a card part (and for clouds without cards).
"""

from __future__ import annotations

from gpuslice.model.cards import CARD_STAGE, CardAsk, Split, split
from gpuslice.model.request import RequestSpec
from gpuslice.model.rules.base import HostView, Rule


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
    """Pass a host with a card that serves the request's card part (the tie to one card)."""

    name = CARD_STAGE
    dynamic = True

    def shape(self, spec: RequestSpec) -> object:
        """Only the card part matters."""
        return self.parts(spec).card

    def host_passes(self, host: HostView, spec: RequestSpec) -> bool:
        """Some card of the host can ever serve the card part."""
        ask = self.parts(spec).card
        return ask is None or any(card.serves(ask) for card in host.cards)

    def reason(self, host: HostView, spec: RequestSpec) -> str:
        """No card of the kind asked."""
        ask = self.parts(spec).card
        assert ask is not None
        have = "no card" if not host.cards else "no card of this kind"
        return f"{have}{_traits(ask)} to give {ask.describe()} from one provider"

    def dynamic_reason(self, host: HostView, spec: RequestSpec) -> str | None:
        """No card that can serve the card part has its amounts free now."""
        ask = self.parts(spec).card
        if ask is None or any(card.fits(ask) for card in host.cards):
            return None
        amounts = dict(ask.resources)
        lead = "VGPU" if "VGPU" in amounts else ask.resources[0][0]
        what = f"{amounts[lead]} free {lead}" + (" and its slice" if len(amounts) > 1 else "")
        free = "; ".join(
            f"{card.name}: " + ", ".join(f"{card.free.get(rc, 0)} {rc}" for rc, _ in ask.resources)
            for card in host.cards
            if card.serves(ask)
        )
        return f"no card{_traits(ask)} with {what} ({ask.describe()} asked; free {free})"


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
