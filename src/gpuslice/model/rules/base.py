"""What a scheduling rule is, and what it may look at.

A rule is one stage of nova's or Placement's decision. It has a static part and may have a
dynamic part:
- static: `host_passes(host, spec)` looks only at what does not change while VMs come and go
  (inventory, traits, aggregates, the flavor); `reason` says why a host fails, and `shape(spec)`
  is what of the request the answer depends on, so an engine asks once per shape and host;
- dynamic (`dynamic = True`): `needs(spec, layout)` names the key columns the rule reads (free
  amounts of resource classes, free devices of PCI pools) and the amount each must reach, and
  `fits(columns, needs)` says whether a host whose state is `columns` passes; `dynamic_reason`
  says why a host fails now. `needs` returns None when no host can ever pass (an amount of a
  class or a pool that no host has).
Rules on a host's whole tree of providers (`tree = True`: the vGPU card tie) get the whole
request; the others get the part the host's root serves. The card tie's dynamic columns are the
cards' free amounts, which the engine keeps per card (`gpuslice.model.cards.CardTable`) rather
than in a host's key. A rule never raises for a host that fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol

from gpuslice.model.request import RequestSpec

if TYPE_CHECKING:
    from gpuslice.model.cards import CardAsk
    from gpuslice.model.cloud import PoolKey, ProviderModel

Need = tuple[int, int]
"""(column of a host's state, the amount it must reach)."""


@dataclass(frozen=True)
class CardView:
    """One card of a host as a rule sees it: name, capacity and free amounts, traits, and
    what the provider is (`card`, or `VF` for a virtual function holding one vGPU)."""

    name: str
    capacity: Mapping[str, int]
    free: Mapping[str, int]
    traits: frozenset[str] = frozenset()
    kind: str = "card"

    def serves(self, ask: CardAsk) -> bool:
        """Whether the card can ever serve `ask`: every class held, traits right."""
        return (
            all(rc in self.capacity for rc, _ in ask.resources)
            and ask.required_traits <= self.traits
            and not ask.forbidden_traits & self.traits
        )

    def fits(self, ask: CardAsk) -> bool:
        """Whether the card can serve `ask` now."""
        return self.serves(ask) and all(self.free.get(rc, 0) >= n for rc, n in ask.resources)


@dataclass(frozen=True)
class HostView:
    """What a rule may look at: the provider, its free amounts and PCI devices, the aliases,
    and the cards (child providers) under it."""

    provider: ProviderModel
    pci_free: Mapping[PoolKey, int]
    aliases: Mapping[str, PoolKey]
    free: Mapping[str, int] = field(default_factory=dict)
    cards: tuple[CardView, ...] = ()

    def aggregate_values(self, key: str) -> frozenset[str]:
        """Every value of metadata `key` over the host's aggregates, comma lists split (nova)."""
        values: set[str] = set()
        for aggregate in self.provider.aggregates:
            raw = aggregate.metadata.get(key)
            if raw is not None:
                values.update(v.strip() for v in raw.split(","))
        return frozenset(values)


def needs_of(
    asked: Iterable[tuple[str, int]], column: Callable[[str], int | None]
) -> tuple[Need, ...] | None:
    """(column, amount) for each (name, amount) asked; None when a name has no column (no host
    has it: none can pass)."""
    out: list[Need] = []
    for name, amount in asked:
        at = column(name)
        if at is None:
            return None
        out.append((at, amount))
    return tuple(out)


class Layout(Protocol):
    """Where a host's dynamic state sits in its columns (an engine's key, say)."""

    def class_column(self, resource_class: str) -> int | None:
        """The column of free `resource_class`; None when no host has that class."""
        ...

    def pool_column(self, alias: str) -> int | None:
        """The column of free devices of the pool `alias` asks for; None when none has it."""
        ...


class Rule:
    """A scheduling rule (see the module docstring); the base lets every host pass."""

    name: ClassVar[str] = "Rule"
    dynamic: ClassVar[bool] = False
    # True for rules on the host's whole tree (cards): they get the whole request; the others
    # get the part the host's root serves
    tree: ClassVar[bool] = False

    def shape(self, spec: RequestSpec) -> object:
        """What of `spec` the static answer depends on (hashable); by default all of it."""
        return spec

    def host_passes(self, host: HostView, spec: RequestSpec) -> bool:
        """Whether `host` passes the static part; the base lets every host pass."""
        return True

    def reason(self, host: HostView, spec: RequestSpec) -> str:
        """Why `host` fails the static part (called only for hosts that fail)."""
        return "does not pass"

    def needs(self, spec: RequestSpec, layout: Layout) -> tuple[Need, ...] | None:
        """The columns the dynamic part reads and the amount each must reach."""
        return ()

    def fits(self, columns: Sequence[float], needs: tuple[Need, ...]) -> bool:
        """Whether a host whose dynamic state is `columns` passes: every column reaches its
        amount."""
        return all(columns[at] >= amount for at, amount in needs)

    def dynamic_reason(self, host: HostView, spec: RequestSpec) -> str | None:
        """Why `host` fails the dynamic part now; None when it passes."""
        return None
