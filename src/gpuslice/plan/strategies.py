"""The strategies, one class each, in one registry by name (what `make_plan` looks up).

A strategy states its promise, why it cannot work on a fleet's release (`refusal`: the one
release guard per strategy), and plans a fleet it does not refuse. `auto` is not a strategy:
it is the first of `AUTO_PREFERENCE` that the release does not refuse.
"""

from __future__ import annotations

from typing import ClassVar

from gpuslice.fleet import Fleet
from gpuslice.plan.placement import plan_placement
from gpuslice.plan.shared_host import plan_shared_host
from gpuslice.plan.split import plan_split, split_refusal
from gpuslice.plan.types import ConcreteStrategy, Plan, Promise


class Strategy:
    """One way to keep GPU hosts' CPU and RAM for GPU VMs (or not): name, promise, plan."""

    name: ClassVar[ConcreteStrategy]
    promise: ClassVar[Promise]

    def refusal(self, fleet: Fleet) -> str | None:
        """Why this strategy cannot work on `fleet`'s release, and what to use; None: it can."""
        return None

    def plan(self, fleet: Fleet) -> Plan:
        """The plan for `fleet` (call only when `refusal` is None)."""
        raise NotImplementedError


class NoneStrategy(Strategy):
    """Whitelist the GPUs and hold nothing back: the baseline that breaks the promise."""

    name = "none"
    promise = "broken"

    def plan(self, fleet: Fleet) -> Plan:
        """Plan shared hosts without any hold-back."""
        return plan_shared_host(fleet, self.name, self.promise)


class WeigherStrategy(Strategy):
    """A strong PCIWeigher sends ordinary VMs to hosts without GPUs first (a soft promise)."""

    name = "weigher"
    promise = "soft"

    def refusal(self, fleet: Fleet) -> str | None:
        """PCIWeigher exists from Pike (16)."""
        release = fleet.release
        if release.has("pci_weigher"):
            return None
        return (
            f"strategy weigher needs PCIWeigher, which nova has from Pike (16); "
            f"{release} does not. Use split (Newton) or dedicated"
        )

    def plan(self, fleet: Fleet) -> Plan:
        """Plan shared hosts with the PCI weigher's multiplier raised."""
        return plan_shared_host(fleet, self.name, self.promise)


class DedicatedStrategy(Strategy):
    """GPU hosts take GPU flavors only: the promise holds, the rest of those hosts idles."""

    name = "dedicated"
    promise = "holds"

    def plan(self, fleet: Fleet) -> Plan:
        """Plan GPU hosts kept for GPU flavors (isolated aggregates from Train)."""
        return plan_shared_host(fleet, self.name, self.promise)


class SplitStrategy(Strategy):
    """The original recipe: a second nova-compute service per GPU host owns the slices."""

    name = "split"
    promise = "holds"

    def refusal(self, fleet: Fleet) -> str | None:
        """Only before Placement is mandatory (Newton): see `split_refusal` for why."""
        return split_refusal(fleet) if fleet.release.has("placement_mandatory") else None

    def plan(self, fleet: Fleet) -> Plan:
        """Plan two services per GPU host."""
        return plan_split(fleet, self.promise)


class PlacementStrategy(Strategy):
    """One service per host; the slice is custom inventory only GPU flavors ask for."""

    name = "placement"
    promise = "holds"

    def refusal(self, fleet: Fleet) -> str | None:
        """Custom inventory comes from provider.yaml, which nova reads from Victoria (22)."""
        release = fleet.release
        if release.has("provider_yaml"):
            return None
        instead = "split" if not release.has("placement_mandatory") else "dedicated"
        return (
            f"strategy placement needs custom inventory from provider.yaml, which nova reads "
            f"from Victoria (22); {release} has none. Use {instead} on this release"
        )

    def plan(self, fleet: Fleet) -> Plan:
        """Plan slices as custom inventory."""
        return plan_placement(fleet, self.promise)


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        NoneStrategy(),
        WeigherStrategy(),
        DedicatedStrategy(),
        SplitStrategy(),
        PlacementStrategy(),
    )
}
"""Every concrete strategy by name, in the order reports list them."""

AUTO_PREFERENCE: tuple[ConcreteStrategy, ...] = ("placement", "split", "dedicated")
"""What `auto` tries, best first: no second service nor neutron patch, then the original
recipe, then dedicated hosts (it always works, at the cost of idle CPU and RAM)."""
