"""Audit rules over a snapshot of a live cloud: is the promise holding right now?

Pure: `audit(snapshot, expected)` returns an `AuditReport`. Each rule is one small function that
takes the snapshot (and what the plan expects, where known) and returns its violations; the
registry `RULES` names them. A violation of any rule means the promise is broken now (exit 1).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from gpuslice.cloud.gpus import (
    GPU_HOST_TRAIT,
    UNKNOWN_MODEL,
    FlavorState,
    GpuMenu,
    ModelCount,
    flavor_states,
    free_of,
    gpu_menu,
    requested_aliases,
)
from gpuslice.cloud.state import (
    ALIAS_SPEC,
    SLICE_CLASSES,
    CloudSnapshot,
    LiveFlavor,
    LiveProvider,
)
from gpuslice.cloud.vgpu_audit import CardReport, card_reports, vgpu_free_not_bootable, vgpus_asked
from gpuslice.flavor_request import request_from_flavor, request_from_specs
from gpuslice.plan.types import CloudObjects, PciAlias, Provider

_PCI_CLASS = re.compile(r"^(CUSTOM_PCI_|PGPU$)")


@dataclass(frozen=True)
class Expected:
    """What the fleet plan says the cloud should hold (empty where audit runs without a fleet)."""

    providers: tuple[Provider, ...] = ()
    cloud: CloudObjects = field(default_factory=CloudObjects)
    aliases: tuple[PciAlias, ...] = ()


@dataclass(frozen=True)
class Violation:
    """One way the promise is broken now; `rule` names the rule, `host` where it applies."""

    rule: str
    subject: str
    message: str
    host: str | None = None


@dataclass(frozen=True)
class HostReport:
    """One GPU host: its GPUs (in all and per model), its slice, and which GPU flavors can boot
    there now."""

    name: str
    service_host: str
    gpus_total: int | None
    gpus_free: int | None
    gpu_source: str
    slice_held: Mapping[str, int]
    slice_used: Mapping[str, int]
    bootable: Mapping[str, bool]
    models: Mapping[str, ModelCount] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditReport:
    """Every GPU host's state, the GPU flavors (per model and size), and every violation found.

    A fragmented flavor (GPUs free in the cloud, but not enough on one host) is reported, not a
    violation: the promise is per host.
    """

    hosts: tuple[HostReport, ...]
    gpu_flavors: tuple[str, ...]
    violations: tuple[Violation, ...]
    flavors: tuple[FlavorState, ...] = ()
    vgpu_cards: tuple[CardReport, ...] = ()

    @property
    def promise_broken(self) -> bool:
        """Whether any rule found the promise broken."""
        return bool(self.violations)

    def as_json(self) -> dict[str, object]:
        """A JSON-ready form (the `--json` contract, see docs/cloud.md)."""
        return {
            "promise_broken": self.promise_broken,
            "gpu_flavors": list(self.gpu_flavors),
            "hosts": [
                {
                    "name": h.name,
                    "service_host": h.service_host,
                    "gpus_total": h.gpus_total,
                    "gpus_free": h.gpus_free,
                    "gpu_source": h.gpu_source,
                    "slice_held": dict(h.slice_held),
                    "slice_used": dict(h.slice_used),
                    "bootable": dict(h.bootable),
                    "gpus_by_model": {
                        m: {"total": c.total, "free": c.free} for m, c in h.models.items()
                    },
                }
                for h in self.hosts
            ],
            "flavors": [
                {
                    "name": f.name,
                    "alias": f.alias,
                    "gpus": f.gpus,
                    "gpus_free": f.free,
                    "most_free_on_one_host": f.most_free,
                    "bootable_hosts": list(f.bootable_hosts),
                    "can_boot": f.can_boot,
                    "fragmented": f.fragmented,
                    "message": f.message,
                }
                for f in self.flavors
            ],
            "violations": [
                {"rule": v.rule, "host": v.host, "subject": v.subject, "message": v.message}
                for v in self.violations
            ],
            "vgpu_cards": [card.as_json() for card in self.vgpu_cards],
        }


# ---------------------------------------------------------------------------- flavor reading


def requested_resources(flavor: LiveFlavor) -> dict[str, int]:
    """The resources a flavor asks Placement for, summed over its request groups.

    Read as nova reads it (`gpuslice.flavor_request`, the model's reader too),
    leniently: a malformed amount or trait is skipped, as nova skips it.
    """
    return dict(request_from_flavor(flavor, strict=False).resources)


def candidates_query(flavor: LiveFlavor) -> dict[str, str]:
    """The `GET /allocation_candidates` query nova makes for `flavor` (empty: asks nothing).

    One `resources`/`required` pair per request group (numbered groups as `resources1`, ...;
    Placement 1.25+), forbidden traits as `!T`, and `group_policy` (nova's, or `none`) when
    more than one numbered group is asked. A group suffix that is not a number needs
    Placement 1.33; such groups are asked as part of the unnumbered one.
    """
    spec = request_from_flavor(flavor, strict=False)
    merged: dict[str, tuple[dict[str, int], set[str]]] = {}
    for group in spec.groups:
        suffix = group.suffix if group.suffix.isdigit() else ""
        amounts, traits = merged.setdefault(suffix, ({}, set()))
        for rc, n in group.resources:
            amounts[rc] = amounts.get(rc, 0) + n
        traits.update(group.required_traits)
        traits.update(f"!{t}" for t in group.forbidden_traits)
    query: dict[str, str] = {}
    for suffix, (amounts, traits) in sorted(merged.items()):
        if amounts:
            query[f"resources{suffix}"] = ",".join(f"{rc}:{n}" for rc, n in sorted(amounts.items()))
        if traits:
            query[f"required{suffix}"] = ",".join(sorted(traits))
    if not any(key.startswith("resources") for key in query):
        return {}
    if sum(1 for suffix in merged if suffix) > 1:
        query["group_policy"] = spec.group_policy or "none"
    return query


def required_traits(flavor: LiveFlavor) -> tuple[str, ...]:
    """Traits the flavor requires, in any request group (`trait[N]:NAME=required`)."""
    return tuple(sorted(request_from_flavor(flavor, strict=False).required_traits))


def alias_count(extra_specs: Mapping[str, str]) -> int:
    """How many PCI devices `pci_passthrough:alias` asks for (`gpu:1,other:2` is 3); 0 if none."""
    return sum(requested_aliases(extra_specs).values())


def asks_slice(extra_specs: Mapping[str, str]) -> bool:
    """Whether extra specs ask for any of the slice's custom resource classes."""
    return any(_is_slice_class(rc) for rc, _ in request_from_specs(extra_specs).resources)


def is_gpu_flavor(flavor: LiveFlavor) -> bool:
    """A GPU flavor asks for a GPU through a PCI alias."""
    return alias_count(flavor.extra_specs) > 0


def _is_slice_class(rc: str) -> bool:
    return rc in SLICE_CLASSES or rc.startswith("CUSTOM_GPU_")


def _int(value: object) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        return 0


# ---------------------------------------------------------------------------- hosts


def _children(snapshot: CloudSnapshot, root: LiveProvider) -> list[LiveProvider]:
    return [p for p in snapshot.providers if p.root_uuid == root.uuid and p.uuid != root.uuid]


def _pci_gpus(snapshot: CloudSnapshot, root: LiveProvider, menu: GpuMenu) -> dict[str, ModelCount]:
    """GPUs per model from the PCI device providers below `root` (PCI in Placement)."""
    total: dict[str, int] = {}
    used: dict[str, int] = {}
    for child in _children(snapshot, root):
        for rc, inventory in child.inventories.items():
            if _PCI_CLASS.match(rc):
                model = menu.model_of_class(rc)
                total[model] = total.get(model, 0) + inventory.total - inventory.reserved
                used[model] = used.get(model, 0) + child.usages.get(rc, 0)
    return {m: ModelCount(n, n - used.get(m, 0)) for m, n in sorted(total.items())}


def _slice_per_gpu(gpu_flavors: Iterable[LiveFlavor]) -> dict[str, int]:
    """The smallest slice one GPU VM asks per GPU, per slice class."""
    per_gpu: dict[str, int] = {}
    for flavor in gpu_flavors:
        count = alias_count(flavor.extra_specs)
        for rc, amount in requested_resources(flavor).items():
            if _is_slice_class(rc) and count:
                share = max(1, amount // count)
                per_gpu[rc] = min(per_gpu.get(rc, share), share)
    return per_gpu


def _gpus_held_by_servers(
    snapshot: CloudSnapshot, root: LiveProvider, menu: GpuMenu
) -> dict[str, int]:
    """GPUs per alias that GPU VMs hold on `root`'s tree (other PCI aliases are not GPUs)."""
    tree = {p.uuid for p in snapshot.providers if p.root_uuid == root.uuid}
    consumers = {c for p in snapshot.providers if p.uuid in tree for c in p.allocations}
    held: dict[str, int] = {}
    for consumer in consumers:
        server = snapshot.servers.get(consumer)
        if server is None:
            continue
        for alias, count in menu.gpus_asked(server.extra_specs).items():
            held[alias] = held.get(alias, 0) + count
    return held


def _is_gpu_host(
    snapshot: CloudSnapshot, root: LiveProvider, planned: set[str], menu: GpuMenu
) -> bool:
    return (
        root.name in planned
        or GPU_HOST_TRAIT in root.traits
        or any(_is_slice_class(rc) for rc in root.inventories)
        or bool(_pci_gpus(snapshot, root, menu))
    )


def _models_on(
    snapshot: CloudSnapshot,
    root: LiveProvider,
    planned: Provider | None,
    menu: GpuMenu,
    slice_total: list[int],
) -> tuple[str, dict[str, ModelCount]]:
    """(where the count comes from, GPUs per model) on one GPU host.

    Placement's PCI providers where it tracks devices; else the plan's devices less what GPU
    VMs hold; else the slice divided by the smallest per-GPU slice (model unknown unless the
    cloud has one GPU alias).
    """
    pci = _pci_gpus(snapshot, root, menu)
    if pci:
        return "placement-pci", pci
    held = _gpus_held_by_servers(snapshot, root, menu)
    if planned is not None:
        planned_models: dict[str, int] = {}
        for device in planned.pci_devices:
            model = menu.model_of_device(device.vendor_id, device.product_id)
            planned_models[model] = planned_models.get(model, 0) + 1
        return "fleet", {
            m: ModelCount(n, max(0, n - held.get(m, 0))) for m, n in sorted(planned_models.items())
        }
    if slice_total:
        total = min(slice_total)
        model = next(iter(menu.aliases)) if len(menu.aliases) == 1 else UNKNOWN_MODEL
        return "slice", {model: ModelCount(total, max(0, total - sum(held.values())))}
    return "unknown", {}


def host_reports(snapshot: CloudSnapshot, expected: Expected) -> tuple[HostReport, ...]:
    """What each GPU host has, per GPU model, and which GPU flavors can boot there now.

    A flavor is bootable on a host when Placement offers a candidate there and, where the host's
    GPUs of the flavor's model are known, at least as many are free as it asks.
    """
    menu = gpu_menu_of(snapshot, expected)
    per_gpu = _slice_per_gpu(menu.flavors)
    planned = {p.name: p for p in expected.providers if p.pci_devices}
    service_hosts = {h.name: h.service_host for h in snapshot.hypervisors}
    reports = []
    for root in snapshot.providers:
        if root.parent_uuid is not None or not _is_gpu_host(snapshot, root, set(planned), menu):
            continue
        held = {
            rc: inv.capacity for rc, inv in sorted(root.inventories.items()) if _is_slice_class(rc)
        }
        used = {rc: root.usages.get(rc, 0) for rc in held}
        slice_total = [held[rc] // per_gpu[rc] for rc in held if per_gpu.get(rc)]
        source, models = _models_on(snapshot, root, planned.get(root.name), menu, slice_total)
        bootable = {}
        for flavor in menu.flavors:
            offered = root.name in snapshot.candidates.get(flavor.name, frozenset())
            need = menu.alias_of(flavor)
            free = free_of(models, need[0]) if need is not None else None
            bootable[flavor.name] = offered and (need is None or free is None or free >= need[1])
        reports.append(
            HostReport(
                name=root.name,
                service_host=service_hosts.get(root.name, root.name),
                gpus_total=sum(m.total for m in models.values()) if models else None,
                gpus_free=sum(m.free for m in models.values()) if models else None,
                gpu_source=source,
                slice_held=held,
                slice_used=used,
                bootable=bootable,
                models=models,
            )
        )
    return tuple(sorted(reports, key=lambda r: r.name))


def gpu_menu_of(snapshot: CloudSnapshot, expected: Expected) -> GpuMenu:
    """The GPU flavors and aliases audit judges: the plan's where known (see `gpu_menu`)."""
    return gpu_menu(snapshot, (f.name for f in expected.cloud.flavors), expected.aliases)


# ---------------------------------------------------------------------------- rules

Rule = Callable[[CloudSnapshot, Expected, tuple[HostReport, ...]], list[Violation]]


def slice_consumer_without_gpu(
    snapshot: CloudSnapshot, expected: Expected, hosts: tuple[HostReport, ...]
) -> list[Violation]:
    """A consumer that holds slice resources must be a GPU VM (its flavor asks for a GPU alias;
    an SR-IOV NIC's alias is not one)."""
    menu = gpu_menu_of(snapshot, expected)
    found = []
    for provider in snapshot.providers:
        for consumer, resources in sorted(provider.allocations.items()):
            held = {rc: n for rc, n in resources.items() if _is_slice_class(rc) and n > 0}
            if not held:
                continue
            amounts = ", ".join(f"{rc}={n}" for rc, n in sorted(held.items()))
            server = snapshot.servers.get(consumer)
            if server is None:
                found.append(
                    Violation(
                        "slice_consumer_without_gpu",
                        consumer,
                        f"consumer {consumer} is not a nova server and holds {amounts} of the "
                        "GPU slice",
                        provider.name,
                    )
                )
            elif not menu.gpus_asked(server.extra_specs) and not vgpus_asked(server.extra_specs):
                found.append(
                    Violation(
                        "slice_consumer_without_gpu",
                        server.id,
                        f"server {server.name} ({server.id}, flavor {server.flavor_name}) has no "
                        f"GPU and holds {amounts} of the GPU slice",
                        provider.name,
                    )
                )
    return found


def flavor_slice_without_alias(
    snapshot: CloudSnapshot, expected: Expected, hosts: tuple[HostReport, ...]
) -> list[Violation]:
    """A flavor that asks for slice resources must also ask for a GPU (a GPU's PCI alias)."""
    menu = gpu_menu_of(snapshot, expected)
    return [
        Violation(
            "flavor_slice_without_alias",
            f.name,
            f"flavor {f.name} asks for GPU slice resources but no GPU alias in {ALIAS_SPEC}: its "
            "VMs use up the slice of a GPU they do not get",
        )
        for f in snapshot.flavors
        if asks_slice(f.extra_specs)
        and not menu.gpus_asked(f.extra_specs)
        and not vgpus_asked(f.extra_specs)
    ]


def inventory_drift(
    snapshot: CloudSnapshot, expected: Expected, hosts: tuple[HostReport, ...]
) -> list[Violation]:
    """Every provider of the plan exists; a GPU host's has the planned inventory (total,
    reserved) and traits. Hosts without GPUs get no file from gpuslice, so nova's defaults stand
    there: their inventory is not judged."""
    found = []
    for planned in expected.providers:
        live = snapshot.provider(planned.name)
        if live is None:
            found.append(
                Violation(
                    "inventory_drift",
                    planned.name,
                    f"resource provider {planned.name} of the plan is not in Placement",
                    planned.name,
                )
            )
            continue
        if not planned.pci_devices:
            continue
        for rc, inventory in sorted(planned.inventories.items()):
            have = live.inventories.get(rc)
            if have is None:
                found.append(
                    Violation(
                        "inventory_drift",
                        f"{planned.name}/{rc}",
                        f"{planned.name} reports no {rc}; the plan has total {inventory.total}",
                        planned.name,
                    )
                )
                continue
            if (have.total, have.reserved) != (inventory.total, inventory.reserved):
                found.append(
                    Violation(
                        "inventory_drift",
                        f"{planned.name}/{rc}",
                        f"{planned.name} {rc}: total {have.total} reserved {have.reserved}, the "
                        f"plan has total {inventory.total} reserved {inventory.reserved}",
                        planned.name,
                    )
                )
        missing = sorted(set(planned.traits) - set(live.traits))
        if missing:
            found.append(
                Violation(
                    "inventory_drift",
                    f"{planned.name}/traits",
                    f"{planned.name} lacks trait(s) {', '.join(missing)} of the plan",
                    planned.name,
                )
            )
    return found


def host_outside_aggregate(
    snapshot: CloudSnapshot, expected: Expected, hosts: tuple[HostReport, ...]
) -> list[Violation]:
    """Each GPU host is in its aggregate: the plan's, or else some aggregate gpuslice owns."""
    found = []
    if expected.cloud.aggregates:
        for want in expected.cloud.aggregates:
            live = snapshot.aggregate(want.name)
            have = set(live.hosts) if live is not None else set()
            for host in want.hosts:
                if host not in have:
                    found.append(
                        Violation(
                            "host_outside_aggregate",
                            f"{want.name}/{host}",
                            f"host {host} is not in aggregate {want.name}"
                            + ("" if live is not None else " (the aggregate does not exist)"),
                            host,
                        )
                    )
        return found
    owned = [a for a in snapshot.aggregates if a.owned]
    if not owned:
        return found
    members = {h for a in owned for h in a.hosts}
    for report in hosts:
        if report.service_host not in members:
            names = ", ".join(sorted(a.name for a in owned))
            found.append(
                Violation(
                    "host_outside_aggregate",
                    report.service_host,
                    f"GPU host {report.service_host} is in none of gpuslice's aggregates ({names})",
                    report.name,
                )
            )
    return found


def quota_from_placement(
    snapshot: CloudSnapshot, expected: Expected, hosts: tuple[HostReport, ...]
) -> list[Violation]:
    """Quota must count a GPU VM's cores: with `[quota] count_usage_from_placement` it counts 0."""
    slice_holders = {
        consumer
        for p in snapshot.providers
        for consumer, res in p.allocations.items()
        if any(_is_slice_class(rc) and n > 0 for rc, n in res.items())
    }
    expected_cores: dict[str, int] = {}
    holders_by_project: dict[str, int] = {}
    for server in snapshot.servers.values():
        expected_cores[server.project_id] = expected_cores.get(server.project_id, 0) + server.vcpus
        if server.id in slice_holders:
            holders_by_project[server.project_id] = holders_by_project.get(server.project_id, 0) + 1
    found = []
    for project, holders in sorted(holders_by_project.items()):
        in_use = snapshot.quota_cores_in_use.get(project)
        if in_use is not None and in_use < expected_cores[project]:
            found.append(
                Violation(
                    "quota_from_placement",
                    project,
                    f"project {project}: quota counts {in_use} cores in use, its servers have "
                    f"{expected_cores[project]} vCPUs ({holders} on the GPU slice). Quota usage "
                    "is counted from Placement ([quota] count_usage_from_placement), where GPU "
                    "VMs hold no VCPU: they count 0 cores",
                )
            )
    return found


def gpu_free_not_bootable(
    snapshot: CloudSnapshot, expected: Expected, hosts: tuple[HostReport, ...]
) -> list[Violation]:
    """Where k GPUs of a model are free on a host, its k-GPU flavor can boot there (the promise).

    Judged per model: free L40S never count for an A100 flavor. Where a host's model is unknown
    (slice counts with several GPU aliases in the cloud) nothing is judged rather than guessed.
    """
    menu = gpu_menu_of(snapshot, expected)
    found = []
    for report in hosts:
        for flavor in menu.flavors:
            need = menu.alias_of(flavor)
            if need is None or report.bootable.get(flavor.name, True):
                continue
            alias, count = need
            free = free_of(report.models, alias)
            if free is None or free < count:
                continue
            found.append(
                Violation(
                    "gpu_free_not_bootable",
                    f"{report.name}/{flavor.name}",
                    f"{report.name} has {free} {alias} GPU(s) free but Placement offers no "
                    f"candidate there for flavor {flavor.name} ({count} GPU(s))",
                    report.name,
                )
            )
    return found


def vgpu_card_free_not_bootable(
    snapshot: CloudSnapshot, expected: Expected, hosts: tuple[HostReport, ...]
) -> list[Violation]:
    """Where N vGPUs of a card are free, the N-vGPU flavor can boot on that card (the promise
    per physical GPU; `gpuslice.cloud.vgpu_audit`)."""
    cards = card_reports(snapshot, snapshot.flavors)
    return [
        Violation("vgpu_card_free_not_bootable", subject, message, host)
        for host, subject, message in vgpu_free_not_bootable(cards, snapshot.flavors)
    ]


RULES: dict[str, Rule] = {
    "slice_consumer_without_gpu": slice_consumer_without_gpu,
    "flavor_slice_without_alias": flavor_slice_without_alias,
    "inventory_drift": inventory_drift,
    "host_outside_aggregate": host_outside_aggregate,
    "quota_from_placement": quota_from_placement,
    "gpu_free_not_bootable": gpu_free_not_bootable,
    "vgpu_card_free_not_bootable": vgpu_card_free_not_bootable,
}


def audit(snapshot: CloudSnapshot, expected: Expected | None = None) -> AuditReport:
    """Run every rule over `snapshot` and report per GPU host."""
    expected = expected or Expected()
    hosts = host_reports(snapshot, expected)
    violations = [v for rule in RULES.values() for v in rule(snapshot, expected, hosts)]
    menu = gpu_menu_of(snapshot, expected)
    return AuditReport(
        hosts=hosts,
        gpu_flavors=tuple(f.name for f in menu.flavors),
        violations=tuple(violations),
        flavors=flavor_states(menu, ((h.name, h.models, h.bootable) for h in hosts)),
        vgpu_cards=card_reports(snapshot, snapshot.flavors),
    )


def prometheus_text(report: AuditReport) -> str:
    """node-exporter textfile metrics for `report`."""
    lines: list[str] = []
    _gauge(
        lines,
        "promise_broken",
        "1 when any audit rule found the GPU promise broken.",
        [("", int(report.promise_broken))],
    )
    _gauge(
        lines,
        "gpus_total",
        "GPUs on a GPU host.",
        [(f'host="{_label(h.name)}"', h.gpus_total) for h in report.hosts],
    )
    _gauge(
        lines,
        "gpus_free",
        "GPUs free on a GPU host.",
        [(f'host="{_label(h.name)}"', h.gpus_free) for h in report.hosts],
    )
    _gauge(
        lines,
        "model_gpus_free",
        "GPUs of one model free on a GPU host.",
        [
            (f'host="{_label(h.name)}",model="{_label(m)}"', c.free)
            for h in report.hosts
            for m, c in h.models.items()
        ],
    )
    _gauge(
        lines,
        "flavor_fragmented",
        "1 when a GPU flavor's GPUs are free in the cloud but not on one host.",
        [(f'flavor="{_label(f.name)}"', int(f.fragmented)) for f in report.flavors],
    )
    _gauge(
        lines,
        "gpu_flavors_bootable",
        "GPU flavors Placement can place on a host now.",
        [(f'host="{_label(h.name)}"', sum(h.bootable.values())) for h in report.hosts],
    )
    _gauge(
        lines,
        "flavor_bootable",
        "1 when a GPU flavor can boot on a host now.",
        [
            (f'host="{_label(h.name)}",flavor="{_label(f)}"', int(ok))
            for h in report.hosts
            for f, ok in sorted(h.bootable.items())
        ],
    )
    _gauge(
        lines,
        "violations",
        "Violations of the GPU promise found, per rule.",
        [(f'rule="{rule}"', sum(1 for v in report.violations if v.rule == rule)) for rule in RULES],
    )
    return "\n".join(lines) + "\n"


def _gauge(
    lines: list[str], name: str, help_text: str, samples: list[tuple[str, int | None]]
) -> None:
    """Append one gauge: its HELP and TYPE lines, then a sample per known value."""
    metric = f"gpuslice_{name}"
    lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge"]
    lines += [
        f"{metric}{{{labels}}} {value}" if labels else f"{metric} {value}"
        for labels, value in samples
        if value is not None
    ]


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
