"""Put a strategy's decisions together into a `Plan`: the controllers' and hosts' files."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from gpuslice.fleet import Fleet
from gpuslice.plan.common import (
    NodeFiles,
    alias_option,
    aliases,
    device_type_notes,
    filters_option,
)
from gpuslice.plan.menu import numa_flavors, placement_scale, unknown_numa_notes
from gpuslice.plan.quota import registered_limits, unified_limits_note
from gpuslice.plan.types import (
    NOVA_CONF,
    CloudObjects,
    ConcreteStrategy,
    HostPlan,
    NodePlan,
    Note,
    Plan,
    Promise,
    SchedulerSettings,
)


def controller_files(fleet: Fleet, scheduler: SchedulerSettings) -> NodeFiles:
    """What every controller gets: the alias (nova-api), the scheduler's filters and, when the
    plan schedules PCI devices through Placement, `[filter_scheduler] pci_in_placement`."""
    files = NodeFiles()
    alias_option(fleet, files)
    filters_option(fleet, scheduler.filters, files)
    if scheduler.pci_in_placement:
        files.set(
            NOVA_CONF,
            "filter_scheduler",
            "pci_in_placement",
            "True",
            "the scheduler asks Placement for the PCI devices, as computes report them",
        )
    return files


def assemble(
    fleet: Fleet,
    strategy: ConcreteStrategy,
    promise: Promise,
    hosts: tuple[HostPlan, ...],
    host_files: Mapping[str, NodeFiles],
    controllers: NodeFiles,
    scheduler: SchedulerSettings,
    cloud: CloudObjects,
    notes: tuple[Note, ...],
) -> Plan:
    """A plan with one node per controller (all alike) and one per host that has files.

    The menu's NUMA and Placement-scale rules (`gpuslice.plan.menu`) apply to every strategy.
    Under unified limits the cloud objects gain the registered limits the GPU flavors need,
    and the notes say what to do with them (`gpuslice.plan.quota`).
    """
    menu_notes = placement_scale(fleet, controllers) + unknown_numa_notes(fleet)
    if strategy == "placement":
        flavors, numa_notes = numa_flavors(fleet, cloud.flavors)
        cloud = dataclasses.replace(cloud, flavors=flavors)
        menu_notes += numa_notes
    notes = notes + menu_notes
    limits = registered_limits(fleet, hosts, cloud.flavors)
    if limits:
        cloud = dataclasses.replace(cloud, registered_limits=limits)
    quota_note = unified_limits_note(fleet, limits)
    if quota_note is not None:
        notes = (*notes, quota_note)
    nodes = [
        NodePlan(name, "controller", tuple(controllers.options), tuple(controllers.documents))
        for name in fleet.controllers
    ]
    nodes.extend(
        NodePlan(host.name, "compute", tuple(files.options), tuple(files.documents))
        for host in fleet.hosts
        if (files := host_files.get(host.name)) is not None
    )
    return Plan(
        fleet=fleet,
        strategy=strategy,
        promise=promise,
        hosts=hosts,
        nodes=tuple(nodes),
        aliases=aliases(fleet),
        scheduler=scheduler,
        cloud=cloud,
        notes=(*notes, *device_type_notes(fleet)),
    )
