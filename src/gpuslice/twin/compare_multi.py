"""Fidelity of the embedded model on many hosts: the same requests on real nova and the model.

`--compare-model --hosts N` clones one GPU host of the fleet N times (disk sizes stepped so
that the weighers have something to tell apart); with `--mix` it copies every host of the fleet
in turn (GPU hosts of each model and plain hosts, each compute with its own nova.conf) and draws
every GPU flavor of the plan. It plays requests in three modes:

- lock-step: before each boot the model decides; then nova's outcome is fed back (the model
  claims on nova's host, or claims nothing when nova refused), so every decision starts from
  the state nova is in;
- lock-step, settled: the same, and each host a request touched runs nova's periodic
  resource update right after it (requests more than a minute apart); the model settles there
  too (`Scheduler.settle`: builds in flight counted done);
- free-running: the model plays the whole sequence alone; nova replays it.

Each boot is scored on accept/refuse agreement and on same host. A boot placed elsewhere by
the model is explained from the model's own numbers: nova's host removed by a model stage
(`filter`), an equal sum of weights (`tie`), or the weigher whose normalised value favours the
model's pick most (`weigher`). Pure except the `play_*` functions, which drive a `NovaTwin`.
"""

from __future__ import annotations

import dataclasses
import random
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gpuslice.errors import InputError
from gpuslice.flavor_request import DISK_GB, MEMORY_MB, VCPU
from gpuslice.fleet import Fleet, Host
from gpuslice.model import Claim, Prepared, Scheduler, from_plan, request_from_flavor
from gpuslice.plan.types import Flavor, HostPlan, Plan

if TYPE_CHECKING:
    from gpuslice.twin._nova34 import NovaTwin, NovaWeighed
    from gpuslice.twin.report import Report

# Disk step of the clones (GB added per copy): every copy a size of its own, so that nova's
# and the model's tie rules (host-state order, fleet order) decide as little as possible.
DISK_STEP_GB = 2
# Same share of deletes and GPU boots as the single-host sequence.
DELETE_SHARE = 0.35
GPU_SHARE = 0.30
TIE_EPSILON = 1e-9


def clone_fleet(fleet: Fleet, template: Host, count: int) -> Fleet:
    """`fleet` with its hosts replaced by `count` copies of `template`, named `NAME-KK`.

    Copy k has `DISK_STEP_GB * k` GB more disk; everything else (CPUs, RAM,
    GPUs) is the template's, so the rendered nova.conf is the same on every copy (nova's
    harness holds one CONF for all computes of a run).
    """
    if count < 2:
        msg = f"--hosts {count}: the multi-host comparison needs at least 2 hosts"
        raise InputError(msg, field="--hosts")
    width = len(str(count - 1))
    hosts = tuple(_copy(template, k, width) for k in range(count))
    return dataclasses.replace(fleet, hosts=hosts)


def _copy(original: Host, k: int, width: int) -> Host:
    """Copy `k` of `original`: named `NAME-KK`, `DISK_STEP_GB * k` GB more disk."""
    return dataclasses.replace(
        original,
        name=f"{original.name}-{k:0{width}d}",
        disk_gb=original.disk_gb + DISK_STEP_GB * k,
        hypervisor_hostname=None,
        gpu_service_host=None,
    )


def mix_fleet(fleet: Fleet, count: int) -> Fleet:
    """`fleet` with its hosts replaced by `count` copies of them in turn (host 0, 1, ..., 0,
    1, ...), copy k named `NAME-KK` with `DISK_STEP_GB * k` GB more disk than its original.

    Every kind of host the fleet has (GPU models, sizes, plain hosts) appears once `count`
    reaches the number of hosts; fewer is refused, naming the number needed. vGPU hosts are
    refused: their mdev options (`[mdev_<type>]` groups) are not scoped per compute yet.
    """
    vgpu = [h.name for h in fleet.hosts if fleet.vgpu_gpus(h)]
    if vgpu:
        msg = (
            f"--mix does not run vGPU hosts yet ({', '.join(vgpu)}); compare them one host at "
            "a time (--compare-model without --hosts)"
        )
        raise InputError(msg, field="--mix")
    if count < len(fleet.hosts):
        msg = (
            f"--hosts {count} --mix: the fleet has {len(fleet.hosts)} hosts; give at least "
            "that many so that every kind of host is copied"
        )
        raise InputError(msg, field="--hosts")
    width = len(str(count - 1))
    hosts = tuple(_copy(fleet.hosts[k % len(fleet.hosts)], k, width) for k in range(count))
    return dataclasses.replace(fleet, hosts=hosts)


def mix_flavors(plan: Plan) -> tuple[tuple[Flavor, ...], tuple[Flavor, ...]]:
    """(GPU flavors, ordinary flavors) for a mixed run, all public and named `cmp.*`.

    GPU: every flavor the plan creates (each model's menu, k-GPU sizes included). Ordinary:
    `ordinary_flavors` of each host kind (the first copy of each original), sizes that repeat
    kept once, named after the kind.
    """
    from gpuslice.twin.compare import ordinary_flavors

    gpu = tuple(
        dataclasses.replace(f, name=f"cmp.{f.name}", is_public=True) for f in plan.cloud.flavors
    )
    ordinary: dict[tuple[int, int, int], Flavor] = {}
    seen: set[str] = set()
    for host in plan.hosts:
        kind = host.host.name.rsplit("-", 1)[0]
        if kind in seen:
            continue
        seen.add(kind)
        for f in ordinary_flavors(host):
            key = (f.vcpus, f.ram, f.disk)
            ordinary.setdefault(key, dataclasses.replace(f, name=f"{f.name}.{kind}"))
    return gpu, tuple(ordinary.values())


@dataclass(frozen=True)
class Decision:
    """One request in one mode: what nova and the model did, and why they differ if they do."""

    index: int
    request: str
    nova_host: str | None  # None: refused (or, for a delete, the VM was absent)
    model_host: str | None
    kind: str = "boot"
    cause: str = ""

    @property
    def accept_agrees(self) -> bool:
        return (self.nova_host is None) == (self.model_host is None)

    @property
    def same_host(self) -> bool:
        return self.nova_host == self.model_host

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "request": self.request,
            "kind": self.kind,
            "nova": self.nova_host or ("deleted" if self.kind == "delete" else "refused"),
            "model": self.model_host or ("deleted" if self.kind == "delete" else "refused"),
            "same_host": self.same_host,
            "cause": self.cause,
        }


@dataclass(frozen=True)
class Summary:
    """Agreement over the boots of one mode."""

    mode: str
    boots: int
    accept_agree: int
    placed_by_both: int
    same_host: int
    causes: Mapping[str, int]

    @property
    def same_host_share(self) -> float:
        """Same host among boots both sides placed (1.0 when none were)."""
        return self.same_host / self.placed_by_both if self.placed_by_both else 1.0

    def describe(self) -> str:
        causes = ", ".join(f"{k} {v}" for k, v in sorted(self.causes.items())) or "none"
        return (
            f"accept/refuse {self.accept_agree} of {self.boots}; same host "
            f"{self.same_host} of {self.placed_by_both} ({100 * self.same_host_share:.1f} %); "
            f"differences by cause: {causes}"
        )


def summarize(mode: str, decisions: Sequence[Decision]) -> Summary:
    """Count agreement over the boots of `decisions` (deletes are not decisions)."""
    boots = [d for d in decisions if d.kind == "boot"]
    both = [d for d in boots if d.nova_host is not None and d.model_host is not None]
    causes: dict[str, int] = {}
    for d in boots:
        if not d.same_host:
            key = d.cause.split(":", 1)[0] or "unexplained"
            causes[key] = causes.get(key, 0) + 1
    return Summary(
        mode,
        len(boots),
        sum(d.accept_agrees for d in boots),
        len(both),
        sum(d.same_host for d in both),
        causes,
    )


def weigh(scheduler: Scheduler, request: Prepared) -> dict[str, dict[str, float]]:
    """Each candidate host's normalised weight per weigher, times its multiplier (nova's
    `normalize`, through `Scheduler.weighed`)."""
    return scheduler.weighed(request)


def explain_difference(
    weights: Mapping[str, Mapping[str, float]],
    nova_host: str | None,
    model_host: str | None,
    removed: Mapping[str, str],
) -> str:
    """Why the model's pick is not nova's, from the model's numbers before it decided.

    `filter:` nova's host was not a candidate of the model (with the model's reason);
    `refused:` one side refused; `tie:` equal summed weights, fleet order chose the model's
    pick where nova's host-state order chose another; `weigher:` the weigher whose weighted
    value favours the model's pick over nova's host most.
    """
    if nova_host == model_host:
        return ""
    if nova_host is None:
        return "refused: nova refused, the model placed it"
    if model_host is None:
        why = removed.get(nova_host, "no candidate")
        return f"refused: the model refused; nova's host {nova_host}: {why}"
    if nova_host not in weights:
        why = removed.get(nova_host, "not a candidate")
        return f"filter: the model removes nova's host {nova_host} ({why})"
    mine, theirs = weights[model_host], weights[nova_host]
    gap = sum(mine.values()) - sum(theirs.values())
    if abs(gap) <= TIE_EPSILON:
        return (
            f"tie: {model_host} and {nova_host} weigh the same ({sum(mine.values()):.4f}); "
            "the model takes fleet order, nova its host-state order"
        )
    name = max(mine, key=lambda w: mine[w] - theirs.get(w, 0.0))
    return (
        f"weigher: {name} {mine[name]:.4f} on {model_host} vs {theirs.get(name, 0.0):.4f} "
        f"on {nova_host} (sums {sum(mine.values()):.4f} vs {sum(theirs.values()):.4f})"
    )


def nova_evidence(weighing: Sequence[NovaWeighed], hosts: Sequence[str | None]) -> str:
    """nova's own summed weight and weigher inputs for `hosts` in one weighing ("" if none)."""
    by_host = {w.host: w for w in weighing}
    parts = []
    for host in hosts:
        w = by_host.get(host or "")
        if w is not None:
            parts.append(
                f"{w.host} {w.weight:.4f} (free RAM {w.free_ram_mb:.0f} MB, vCPUs "
                f"{w.vcpus_free:g}, disk {w.free_disk_mb:.0f} MB, PCI {w.pci_free}, "
                f"io_ops {w.io_ops}, instances {w.instances})"
            )
    return "nova weighed " + "; ".join(parts) if parts else ""


def nova_decider(
    weighing: Sequence[NovaWeighed], nova_host: str | None, model_host: str | None, known: set[str]
) -> str:
    """The weigher whose score in nova's own weighing favours nova's host over the model's
    pick most; `missing:` when the model has no such weigher ("" when nova did not weigh)."""
    by_host = {w.host: dict(w.scores) for w in weighing}
    theirs, mine = by_host.get(nova_host or ""), by_host.get(model_host or "")
    if not theirs or mine is None:
        return ""
    name = max(theirs, key=lambda w: theirs[w] - mine.get(w, 0.0))
    gap = theirs[name] - mine.get(name, 0.0)
    if gap <= TIE_EPSILON:
        return ""
    tag = "missing" if name not in known else "nova"
    return (
        f"{tag}: nova's {name} gives {nova_host} {theirs[name]:+.4f}, "
        f"{model_host} {mine.get(name, 0.0):+.4f}"
    )


def model_evidence(
    scheduler: Scheduler, raw: np.ndarray[Any, Any], hosts: Sequence[str | None]
) -> str:
    """The model's raw weigher values `raw` (as `Scheduler.weights`) for `hosts`."""
    names = [w.name for w in scheduler.weighers]
    parts = []
    for host in hosts:
        if host is None:
            continue
        j = scheduler.names.index(host)
        values = ", ".join(f"{n} {raw[k, j]:g}" for k, n in enumerate(names))
        parts.append(f"{host} ({values})")
    return "model raw " + "; ".join(parts)


def _removed(scheduler: Scheduler, request: Prepared) -> dict[str, str]:
    return {r.host: f"{r.stage}: {r.reason}" for r in scheduler.explain(request)}


@dataclass
class Sequencer:
    """Draws the requests: deletes of running VMs, GPU boots, ordinary boots (from `seed`).

    A GPU boot takes `gpu`, or one of them drawn when it lists several (one flavor draws
    nothing, so the one-host sequence stays as it was)."""

    gpu: Flavor | Sequence[Flavor]
    ordinary: Sequence[Flavor]
    seed: int

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def draw(self, running: Sequence[int]) -> tuple[str, Flavor | int]:
        """("delete", index of the boot to undo) or ("boot", flavor)."""
        draw = self.rng.random()
        if draw < DELETE_SHARE and running:
            return "delete", self.rng.choice(sorted(running))
        if draw < DELETE_SHARE + GPU_SHARE:
            if isinstance(self.gpu, Flavor):
                return "boot", self.gpu
            return "boot", self.rng.choice(list(self.gpu))
        return "boot", self.rng.choice(list(self.ordinary))


def _describe(flavor: Flavor) -> str:
    return f"boot {flavor.name} ({flavor.vcpus} vCPU, {flavor.ram} MB, {flavor.disk} GB)"


def _cause(
    scheduler: Scheduler,
    snapshot: np.ndarray[Any, Any],
    weights: Mapping[str, Mapping[str, float]],
    removed: Mapping[str, str],
    last: Sequence[NovaWeighed],
    pair: tuple[str | None, str | None],
) -> str:
    """Why nova and the model chose differently (empty when they agree), with the evidence:
    nova's own weighing of the two hosts and the model's raw values for them. A nova weigher
    the model lacks, when it decided, is named as the cause."""
    nova_host, model_host = pair
    cause = explain_difference(weights, nova_host, model_host, removed)
    if not cause:
        return cause
    raw = model_evidence(scheduler, snapshot, pair)
    known = {w.name for w in scheduler.weighers}
    decider = nova_decider(last, nova_host, model_host, known)
    if decider.startswith("missing") and cause.startswith("weigher"):
        cause = decider  # a weigher the model lacks decided; the model's view follows
        decider = ""
    found = nova_evidence(last, pair)
    return "; ".join(x for x in (cause, decider, found, raw) if x)


@dataclass(frozen=True)
class _Pick:
    """The model's decision for one boot, with what explains it: the prepared request, every
    candidate's per-weigher scores, the hosts the rules removed, the raw weights before."""

    prepared: Prepared
    weights: Mapping[str, Mapping[str, float]]
    removed: Mapping[str, str]
    snapshot: np.ndarray[Any, Any]
    placed: Claim | None
    host: str | None

    def cause(
        self, scheduler: Scheduler, last: Sequence[NovaWeighed], nova_host: str | None
    ) -> str:
        """Why nova's host differs from the model's (see `_cause`); empty when they agree."""
        pair = (nova_host, self.host)
        return _cause(scheduler, self.snapshot, self.weights, self.removed, last, pair)


def _model_pick(scheduler: Scheduler, flavor: Flavor, overrides: bool) -> _Pick:
    """The model's decision step, shared by lock-step and free-running: prepare, weigh,
    explain, then schedule (the claim stays; lock-step gives it back for nova's)."""
    prepared = scheduler.prepare(request_from_flavor(flavor, overrides=overrides))
    weights = weigh(scheduler, prepared)
    removed = _removed(scheduler, prepared)
    snapshot = scheduler.weights.copy()
    placed = scheduler.schedule(prepared)
    host = scheduler.names[placed.provider] if placed is not None else None
    return _Pick(prepared, weights, removed, snapshot, placed, host)


def play_lockstep(
    twin: NovaTwin,
    plan: Plan,
    flavor_ids: Mapping[str, str],
    sequencer: Sequencer,
    length: int,
    watched: Sequence[Sequence[NovaWeighed]] = (),
    *,
    settle: bool = False,
) -> list[Decision]:
    """Lock-step: the model decides first, then takes nova's outcome as its own state.

    `settle`: after each request, the host it touched runs its periodic resource update, as
    when requests come more than a minute apart (nova's `io_ops` of a finished build drop).
    """
    scheduler = Scheduler(from_plan(plan), seed=sequencer.seed)
    overrides = plan.release.has("resource_overrides_in_flavor")
    servers: dict[int, str] = {}
    claims: dict[int, Claim] = {}
    out: list[Decision] = []
    for index in range(length):
        kind, what = sequencer.draw(list(servers))
        if kind == "delete":
            assert isinstance(what, int)
            twin.delete(servers.pop(what))
            claim = claims.pop(what, None)
            if claim is not None:
                scheduler.release(claim)
                if settle:
                    twin.run_periodic(scheduler.names[claim.provider])
                    scheduler.settle()
            out.append(Decision(index, f"delete the VM of request {what}", None, None, "delete"))
            continue
        assert isinstance(what, Flavor)
        pick = _model_pick(scheduler, what, overrides)
        if pick.placed is not None:
            scheduler.release(pick.placed)
        before = len(watched)
        boot = twin.boot(f"cmp-{index}", flavor_ids[what.name])
        nova_host = boot.host if boot.active else None
        last = watched[-1] if len(watched) > before else ()
        cause = pick.cause(scheduler, last, nova_host)
        if boot.active:
            servers[index] = boot.server_id
            if settle and nova_host:
                twin.run_periodic(nova_host)
            claim = scheduler.claim_on(pick.prepared, nova_host) if nova_host else None
            if claim is not None:
                claims[index] = claim
            else:
                cause += "; the model cannot follow nova onto its host"
            if settle:
                scheduler.settle()
        elif "No valid host" not in boot.fault:
            cause = f"error: {boot.fault[:200]}"
        out.append(Decision(index, _describe(what), nova_host, pick.host, "boot", cause))
    for server in servers.values():
        twin.delete(server)
    return out


def play_free(
    twin: NovaTwin,
    plan: Plan,
    flavor_ids: Mapping[str, str],
    sequencer: Sequencer,
    length: int,
    watched: Sequence[Sequence[NovaWeighed]] = (),
) -> list[Decision]:
    """Free-running: the model plays the sequence alone, nova replays it; deletes follow the
    model (a VM nova did not place is absent there)."""
    scheduler = Scheduler(from_plan(plan), seed=sequencer.seed)
    overrides = plan.release.has("resource_overrides_in_flavor")
    claims: dict[int, Claim] = {}
    servers: dict[int, str] = {}
    out: list[Decision] = []
    for index in range(length):
        kind, what = sequencer.draw(list(claims))
        if kind == "delete":
            assert isinstance(what, int)
            scheduler.release(claims.pop(what))
            server = servers.pop(what, None)
            if server is not None:
                twin.delete(server)
            out.append(Decision(index, f"delete the VM of request {what}", None, None, "delete"))
            continue
        assert isinstance(what, Flavor)
        pick = _model_pick(scheduler, what, overrides)
        if pick.placed is not None:
            claims[index] = pick.placed
        before = len(watched)
        boot = twin.boot(f"free-{index}", flavor_ids[what.name])
        nova_host = boot.host if boot.active else None
        if boot.active:
            servers[index] = boot.server_id
        last = watched[-1] if len(watched) > before else ()
        cause = pick.cause(scheduler, last, nova_host)
        out.append(Decision(index, _describe(what), nova_host, pick.host, "boot", cause))
    for server in servers.values():
        twin.delete(server)
    return out


def plain_host_conf(fleet: Fleet, host: HostPlan) -> dict[tuple[str, str], object]:
    """The options a host gpuslice renders nothing for runs with in a mixed run: its
    reserve as the plan's inventory states it (the fleet's `host_reserve`, whose default is
    nova's), and the allocation ratios only where the fleet states them (else nova's
    defaults: the release's initial ratios)."""
    (provider,) = host.providers
    inv = provider.inventories
    out: dict[tuple[str, str], object] = {
        ("DEFAULT", "reserved_host_memory_mb"): inv[MEMORY_MB].reserved,
        ("DEFAULT", "reserved_host_disk_mb"): inv[DISK_GB].reserved * 1024,
        ("DEFAULT", "reserved_host_cpus"): inv[VCPU].reserved,
    }
    if fleet.ratios_stated:
        out[("DEFAULT", "cpu_allocation_ratio")] = inv[VCPU].allocation_ratio
        out[("DEFAULT", "ram_allocation_ratio")] = inv[MEMORY_MB].allocation_ratio
        out[("DEFAULT", "disk_allocation_ratio")] = inv[DISK_GB].allocation_ratio
    return out


def run_multi(
    fleet: Fleet,
    strategy: str,
    template: Host | None,
    count: int,
    length: int,
    seed: int,
    report: Report,
) -> None:
    """Start `count` hosts under one real nova and play the three modes.

    The hosts: `template` cloned `count` times, or with `template` None, copies of every host
    of the fleet in turn (`mix_fleet`), each compute with its own nova.conf (plain hosts:
    `plain_host_conf`). Adds one row per mode to `report`, and the per-request decisions
    under `report.comparisons[mode]` ("lock-step", "lock-step, settled", "free-running").
    Raises InputError when a template's copies render different nova.conf.
    """
    from gpuslice.plan import make_plan
    from gpuslice.render import render_files
    from gpuslice.twin import _nova34
    from gpuslice.twin import verify as v
    from gpuslice.twin.compare import ordinary_flavors
    from gpuslice.twin.job import Steps

    clones = clone_fleet(fleet, template, count) if template else mix_fleet(fleet, count)
    plan = make_plan(clones, strategy)
    files = render_files(plan)
    registry = v.nova_registry()
    own = v.own_keys(files, registry, plan.release)
    controller, _dropped = v._known_filters(
        v._controller_conf(clones, files, registry, plan.release, own)
    )
    cloud = v._cloud_objects(files)
    jobs = v._jobs(clones, plan, files, registry, (), plan.release, own)
    if template is not None:
        confs = {tuple((e.section, e.name, e.value) for e in job.conf) for job in jobs}
        yamls = {job.provider_yaml for job in jobs}
        if len(confs) != 1 or len(yamls) != 1:
            msg = (
                f"{template.name}: its copies with stepped disk sizes render different nova.conf "
                "or provider.yaml files; the multi-host comparison needs one for all (one CONF "
                "per run)"
            )
            raise InputError(msg, field="--hosts")
        model_flavor = fleet.model_of(template.gpus[0]).flavor
        planned = next(f for f in plan.cloud.flavors if f.name == model_flavor)
        gpu: Flavor | tuple[Flavor, ...] = dataclasses.replace(
            planned, name="cmp.gpu", is_public=True
        )
        ordinary = ordinary_flavors(plan.hosts[0])
        label = f"{template.name} x {count}"
    else:
        gpu, ordinary = mix_flavors(plan)
        label = f"mixed x {count} ({len(fleet.hosts)} fleet hosts in turn)"
    gpus = (gpu,) if isinstance(gpu, Flavor) else gpu
    steps = Steps(label, plan.strategy)
    found: dict[str, list[Decision]] = {}
    setup = Steps(steps.host, plan.strategy)  # cloud objects' rows: not part of the comparison
    by_name = {job.host.name: job for job in jobs}
    plans = {hp.host.name: hp for hp in plan.hosts}

    def own_conf(host: Host, root: Path) -> dict[tuple[str, str], Any]:
        job = by_name.get(host.name)
        default = _nova34.option_default("compute", "provider_config_location")
        if job is None:
            prepared = v._prepare_conf((), root, None, default)
            return {**_nova34.conf_values(prepared), **plain_host_conf(clones, plans[host.name])}
        return _nova34.conf_values(v._prepare_conf(job.conf, root, job.provider_yaml, default))

    def body(twin: NovaTwin) -> None:
        if template is not None:
            twin.apply(entries)
            started = [job.host for job in jobs]
            uuids = [twin.start_host(v._fake_host(clones, h)) for h in started]
        else:
            started = list(clones.hosts)
            confs = [own_conf(h, Path(tmp) / h.name) for h in started]
            keys = {key for conf in confs for key in conf}
            uuids = [
                twin.start_host(
                    v._fake_host(clones, h),
                    conf={k: conf.get(k, _nova34.option_default(*k)) for k in keys},
                )
                for h, conf in zip(started, confs, strict=True)
            ]
        names = [h.name for h in started]
        for name, rp_uuid in zip(names, uuids, strict=True):
            v._create_cloud_objects(twin, _only_traits(cloud), [name], rp_uuid, setup)
        v._create_cloud_objects(twin, _without_traits(cloud), names, uuids[0], setup)
        twin.run_periodics()  # nova.conf's allocation ratios into the host states
        ids = {
            f.name: twin.create_flavor(
                f.name, f.vcpus, f.ram, f.disk, is_public=True, extra_specs=f.extra_specs
            )
            for f in (*ordinary, *gpus)
        }
        watched = twin.watch_weighing()
        found["lock-step"] = play_lockstep(
            twin, plan, ids, Sequencer(gpu, ordinary, seed), length, watched
        )
        twin.run_periodics()  # each mode starts from an empty, settled cloud
        found["lock-step, settled"] = play_lockstep(
            twin, plan, ids, Sequencer(gpu, ordinary, seed), length, watched, settle=True
        )
        twin.run_periodics()
        found["free-running"] = play_free(
            twin, plan, ids, Sequencer(gpu, ordinary, seed), length, watched
        )

    with tempfile.TemporaryDirectory(prefix="gpuslice-compare-") as tmp:
        default = _nova34.option_default("compute", "provider_config_location")
        entries = v._prepare_conf(jobs[0].conf, Path(tmp), jobs[0].provider_yaml, default)
        _nova34.run(_nova34.RunSpec(controller, body))
    for mode, decisions in found.items():
        summary = summarize(mode, decisions)
        report.comparisons[mode] = [d.as_dict() for d in decisions]
        lock = mode.startswith("lock-step")
        steps.add(
            f"embedded model and nova on {count} hosts, {mode} ({len(decisions)} requests, "
            f"seed {seed})",
            ">= 99 % same host, every accept/refuse agrees"
            if lock
            else "reported (diverges after the first different pick)",
            summary.describe(),
            (summary.same_host_share >= 0.99 and summary.accept_agree == summary.boots)
            if lock
            else True,
        )
    report.rows.extend(steps.rows)


def _only_traits(cloud: Mapping[str, object]) -> dict[str, object]:
    return {"provider_traits": cloud.get("provider_traits") or {}}


def _without_traits(cloud: Mapping[str, object]) -> dict[str, object]:
    return {k: val for k, val in cloud.items() if k != "provider_traits"}
