"""Desired cloud objects against a live snapshot: the changes that make the cloud hold the plan.

Pure: `diff(desired, snapshot)` returns data. The rules (DESIGN.md, docs/cloud.md):
- resource classes and traits are created when missing and never deleted;
- traits are added to resource providers, never removed;
- aggregates and flavors are owned by gpuslice when they carry its marker (aggregate metadata
  `gpuslice:managed=true`, flavor description starting `[gpuslice]`). Owned objects are brought to
  exactly the desired state; an object of the same name that gpuslice does not own is left alone and
  reported as a conflict. An aggregate that is empty (no hosts, no metadata) is adopted: that is
  what an interrupted run leaves behind between creating it and marking it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gpuslice.cloud.state import (
    FLAVOR_OWNER_PREFIX,
    OWNER_KEY,
    OWNER_VALUE,
    CloudSnapshot,
    LiveAggregate,
    LiveFlavor,
)
from gpuslice.plan.types import Aggregate, CloudObjects, Flavor

FLAVOR_DESCRIPTION = f"{FLAVOR_OWNER_PREFIX} GPU flavor managed by gpuslice; do not edit by hand"


@dataclass(frozen=True)
class Change:
    """One API change; `text` says what it does in words an operator reads."""

    @property
    def text(self) -> str:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError


@dataclass(frozen=True)
class CreateResourceClass(Change):
    name: str

    @property
    def text(self) -> str:
        return f"+ resource class {self.name}"


@dataclass(frozen=True)
class CreateTrait(Change):
    name: str

    @property
    def text(self) -> str:
        return f"+ trait {self.name}"


@dataclass(frozen=True)
class AddProviderTraits(Change):
    provider: str
    traits: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"+ traits {', '.join(self.traits)} on resource provider {self.provider}"


def _set_unset(values: Mapping[str, str], unset: tuple[str, ...]) -> str:
    """`k=v` for each key set, `-k` for each key removed, comma-separated."""
    return ", ".join([f"{k}={v}" for k, v in sorted(values.items())] + [f"-{k}" for k in unset])


@dataclass(frozen=True)
class CreateAggregate(Change):
    name: str

    @property
    def text(self) -> str:
        return f"+ aggregate {self.name}"


@dataclass(frozen=True)
class SetAggregateMetadata(Change):
    aggregate: str
    set: Mapping[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return f"~ aggregate {self.aggregate} metadata: {_set_unset(self.set, self.unset)}"


@dataclass(frozen=True)
class AddAggregateHost(Change):
    aggregate: str
    host: str

    @property
    def text(self) -> str:
        return f"+ host {self.host} in aggregate {self.aggregate}"


@dataclass(frozen=True)
class RemoveAggregateHost(Change):
    aggregate: str
    host: str

    @property
    def text(self) -> str:
        return f"- host {self.host} from aggregate {self.aggregate}"


@dataclass(frozen=True)
class CreateFlavor(Change):
    flavor: Flavor

    @property
    def text(self) -> str:
        f = self.flavor
        access = "public" if f.is_public else "private"
        return f"+ flavor {f.name} ({f.vcpus} vCPU, {f.ram} MB, {f.disk} GB, {access})"


@dataclass(frozen=True)
class DeleteFlavor(Change):
    """Only for a flavor gpuslice owns whose vCPUs/RAM/disk/visibility changed (nova cannot edit
    those); running servers keep their embedded copy of the flavor."""

    name: str
    reason: str

    @property
    def text(self) -> str:
        return f"- flavor {self.name} (to recreate it: {self.reason})"


@dataclass(frozen=True)
class SetFlavorSpecs(Change):
    flavor: str
    set: Mapping[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return f"~ flavor {self.flavor} extra specs: {_set_unset(self.set, self.unset)}"


@dataclass(frozen=True)
class AddFlavorAccess(Change):
    flavor: str
    project: str

    @property
    def text(self) -> str:
        return f"+ project {self.project} may use flavor {self.flavor}"


@dataclass(frozen=True)
class RemoveFlavorAccess(Change):
    flavor: str
    project: str

    @property
    def text(self) -> str:
        return f"- project {self.project} from flavor {self.flavor}"


@dataclass(frozen=True)
class Conflict:
    """Something gpuslice will not change; the operator must resolve it."""

    subject: str
    reason: str

    @property
    def text(self) -> str:
        return f"! {self.subject}: {self.reason}"


@dataclass(frozen=True)
class Diff:
    """The changes in the order they must be made, and what blocks the rest."""

    changes: tuple[Change, ...]
    conflicts: tuple[Conflict, ...]

    @property
    def empty(self) -> bool:
        """Whether the cloud already holds everything (conflicts aside)."""
        return not self.changes


def diff(desired: CloudObjects, snapshot: CloudSnapshot) -> Diff:
    """What must change in the cloud of `snapshot` so that it holds `desired`."""
    changes: list[Change] = []
    conflicts: list[Conflict] = []
    changes += [
        CreateResourceClass(rc)
        for rc in _unique(desired.resource_classes)
        if rc not in snapshot.resource_classes
    ]
    wanted_traits = _unique(
        [*desired.traits, *(t for ts in desired.provider_traits.values() for t in ts)]
    )
    # Standard traits (os-traits) always exist; only custom ones can or need be created.
    changes += [
        CreateTrait(t)
        for t in wanted_traits
        if t.startswith("CUSTOM_") and t not in snapshot.traits
    ]
    for name, traits in sorted(desired.provider_traits.items()):
        provider = snapshot.provider(name)
        if provider is None:
            conflicts.append(
                Conflict(
                    f"resource provider {name}",
                    "not found in Placement (is its nova-compute running?); its traits "
                    "cannot be set",
                )
            )
            continue
        missing = tuple(t for t in _unique(traits) if t not in provider.traits)
        if missing:
            changes.append(AddProviderTraits(name, missing))
    service_hosts = {h.service_host for h in snapshot.hypervisors}
    for aggregate in desired.aggregates:
        _diff_aggregate(
            aggregate, snapshot.aggregate(aggregate.name), service_hosts, changes, conflicts
        )
    for flavor in desired.flavors:
        _diff_flavor(flavor, snapshot.flavor(flavor.name), changes, conflicts)
    return Diff(tuple(changes), tuple(conflicts))


def _diff_aggregate(
    want: Aggregate,
    have: LiveAggregate | None,
    service_hosts: set[str],
    changes: list[Change],
    conflicts: list[Conflict],
) -> None:
    adoptable = have is not None and not have.hosts and not _meta_without_az(have.metadata)
    if have is not None and not have.owned and not adoptable:
        conflicts.append(
            Conflict(
                f"aggregate {want.name}",
                f"exists but was not created by gpuslice (no {OWNER_KEY}={OWNER_VALUE} in its "
                "metadata); rename one of them or mark it as gpuslice's with "
                f"`openstack aggregate set --property {OWNER_KEY}={OWNER_VALUE} {want.name}`",
            )
        )
        return
    if have is None:
        changes.append(CreateAggregate(want.name))
    current_meta = dict(have.metadata) if have is not None else {}
    wanted_meta = {**{k: str(v) for k, v in want.metadata.items()}, OWNER_KEY: OWNER_VALUE}
    to_set = {k: v for k, v in wanted_meta.items() if current_meta.get(k) != v}
    to_unset = tuple(
        sorted(k for k in current_meta if k not in wanted_meta and k != "availability_zone")
    )
    if to_set or to_unset:
        changes.append(SetAggregateMetadata(want.name, to_set, to_unset))
    current_hosts = set(have.hosts) if have is not None else set()
    for host in _unique(want.hosts):
        if host in current_hosts:
            continue
        if host not in service_hosts:
            conflicts.append(
                Conflict(
                    f"host {host} in aggregate {want.name}",
                    "no nova-compute service has this host name; is the plan's host name the "
                    "one `openstack compute service list` shows?",
                )
            )
            continue
        changes.append(AddAggregateHost(want.name, host))
    changes += [RemoveAggregateHost(want.name, h) for h in sorted(current_hosts - set(want.hosts))]


def _meta_without_az(metadata: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in metadata.items() if k != "availability_zone"}


def _diff_flavor(
    want: Flavor, have: LiveFlavor | None, changes: list[Change], conflicts: list[Conflict]
) -> None:
    if have is not None and not have.owned:
        conflicts.append(
            Conflict(
                f"flavor {want.name}",
                "exists but was not created by gpuslice (its description does not start with "
                f"{FLAVOR_OWNER_PREFIX}); gpuslice leaves it alone. Rename or delete it, or give "
                "gpuslice's flavor another name in the fleet file",
            )
        )
        return
    wanted_specs = {k: str(v) for k, v in want.extra_specs.items()}
    if have is not None:
        differs = [
            f"{label} {old} -> {new}"
            for label, old, new in (
                ("vcpus", have.vcpus, want.vcpus),
                ("ram", have.ram, want.ram),
                ("disk", have.disk, want.disk),
                ("is_public", have.is_public, want.is_public),
            )
            if old != new
        ]
        if differs:
            changes.append(DeleteFlavor(want.name, ", ".join(differs)))
            have = None
    if have is None:
        changes.append(CreateFlavor(want))
        if wanted_specs:
            changes.append(SetFlavorSpecs(want.name, wanted_specs))
        if not want.is_public:
            changes += [AddFlavorAccess(want.name, p) for p in _unique(want.projects)]
        return
    to_set = {k: v for k, v in wanted_specs.items() if have.extra_specs.get(k) != v}
    to_unset = tuple(sorted(k for k in have.extra_specs if k not in wanted_specs))
    if to_set or to_unset:
        changes.append(SetFlavorSpecs(want.name, to_set, to_unset))
    if not want.is_public:
        current = set(have.projects or ())
        changes += [
            AddFlavorAccess(want.name, p) for p in _unique(want.projects) if p not in current
        ]
        changes += [RemoveFlavorAccess(want.name, p) for p in sorted(current - set(want.projects))]


def _unique(items: Iterable[str]) -> list[str]:
    """`items` without repeats, in first-seen order."""
    return list(dict.fromkeys(items))
