"""Quota under Keystone unified limits: the registered limits GPU flavors need, and why.

With `[quota] driver = nova.quota.UnifiedLimitsDriver` nova counts a server's resources as
`class:<resource class>` limits (nova `limit/placement.py`). Up to 2024.2 (30) every class a
flavor asks for is enforced and one without a registered limit gets limit 0, so a GPU flavor's
`resources:CUSTOM_GPU_VCPU=2` is refused until that class has a limit. From 2025.1 (31) only the
classes `[quota] unified_limits_resource_list` names are enforced that way (default: servers).
"""

from __future__ import annotations

from collections.abc import Iterable

from gpuslice.errors import InputError
from gpuslice.flavor_request import request_from_flavor
from gpuslice.fleet import Fleet
from gpuslice.plan.types import Flavor, HostPlan, Note, RegisteredLimit

# Classes nova maps to the legacy limits every unified-limits cloud registers (cores, ram) or
# that every ordinary flavor already asks for (disk).
_ALREADY_LIMITED = frozenset({"VCPU", "MEMORY_MB", "DISK_GB"})


def check_unified_limits(fleet: Fleet) -> None:
    """Refuse `unified_limits` on a release whose nova has no UnifiedLimitsDriver (before 25)."""
    if fleet.unified_limits and not fleet.release.has("unified_limits_driver"):
        msg = (
            "unified_limits: nova has [quota] driver = nova.quota.UnifiedLimitsDriver from "
            f"Yoga (25); {fleet.release} has none. Remove unified_limits"
        )
        raise InputError(msg, source=fleet.source, field="unified_limits")


def counted_classes(flavor: Flavor) -> dict[str, int]:
    """The resource classes of `flavor` that unified limits count and a cloud may not limit yet.

    Rules: every class the flavor's request asks (as nova 34 builds it, summed over request
    groups: `gpuslice.flavor_request`) outside VCPU, MEMORY_MB and DISK_GB; PCPU
    when `hw:cpu_policy=dedicated` turns its vCPUs into PCPU. Amounts are per server.
    """
    spec = request_from_flavor(flavor)
    return {rc: n for rc, n in spec.resources if rc not in _ALREADY_LIMITED}


def registered_limits(
    fleet: Fleet, hosts: Iterable[HostPlan], flavors: Iterable[Flavor]
) -> tuple[RegisteredLimit, ...]:
    """The registered limits the plan's GPU flavors need under unified limits (else none).

    Rule: one limit per counted class (see `counted_classes`), set to what the whole fleet
    offers of that class, so no project is held below what exists; sorted by name.
    """
    if not fleet.unified_limits:
        return ()
    wanted = sorted({rc for flavor in flavors for rc in counted_classes(flavor)})
    offered = dict.fromkeys(wanted, 0)
    for host in hosts:
        for provider in (*host.providers, *host.vgpu_cards):
            for rc in wanted:
                inventory = provider.inventories.get(rc)
                if inventory is not None:
                    offered[rc] += inventory.capacity
    return tuple(
        RegisteredLimit(
            f"class:{rc}",
            offered[rc],
            f"gpuslice: all {rc} the fleet offers; GPU flavors ask for it",
        )
        for rc in wanted
    )


def unified_limits_note(fleet: Fleet, limits: tuple[RegisteredLimit, ...]) -> Note | None:
    """What the operator must do about unified limits on this release (None when unused)."""
    if not fleet.unified_limits:
        return None
    if not limits:
        return Note(
            "unified-limits",
            "unified limits: the GPU flavors ask only for VCPU, MEMORY_MB and DISK_GB, which "
            "your cores, ram and disk limits already cover; nothing more to register",
        )
    names = ", ".join(limit.resource_name for limit in limits)
    create = "openstack registered limit create --service nova --default-limit N RESOURCE"
    if fleet.release.has("unified_limits_resource_list"):
        text = (
            f"unified limits: {fleet.release} enforces a class without a registered limit only "
            "when [quota] unified_limits_resource_list requires it (default: servers) or "
            "unified_limits_resource_strategy = ignore leaves it out; cloud-objects.json "
            f"lists registered limits for {names} so GPU boots work either way ({create})"
        )
    else:
        text = (
            f"unified limits: {fleet.release} counts every resource class a flavor asks for "
            f"and gives a class without a registered limit limit 0, so GPU boots are refused "
            f"until {names} have registered limits: create those in cloud-objects.json's "
            f"registered_limits before the first GPU boot ({create})"
        )
    if fleet.release.has("unified_limits_experimental"):
        text += (
            f"; nova {fleet.release.number} still lists UnifiedLimitsDriver as 'Do not use. "
            "Still being developed.' (supported from 2023.2)"
        )
    return Note("unified-limits", text)
