"""Boot a rendered plan on real Nova and check the promise, step by step.

The input is rendered TEXT (the files `gpuslice render` writes): each GPU host's nova.conf and
provider.yaml go to its compute service, the controllers' nova.conf to API and scheduler, and
cloud-objects.json becomes API calls. The fleet only supplies the hardware (CPUs, RAM, disk,
GPUs) for the fake libvirt host and the plan's expectations (general part, inventories).

Each GPU host runs in a real-nova run of its own: nova's harness shares one configuration
between services, and filling one host must not spill onto another. Hosts with the same
hardware and the same files are run once.

Scenario per GPU host (see docs/verify.md): fill with ordinary VMs until No valid host; one
GPU VM per GPU goes ACTIVE with its device in the guest XML; one more GPU VM is refused;
deleting a GPU VM does not let an ordinary VM in; then the same with GPU VMs first.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpuslice.errors import InputError
from gpuslice.fleet import Fleet, Host
from gpuslice.inventory.device import GpuDevice
from gpuslice.plan import make_plan, split_refusal
from gpuslice.plan.types import NOVA_CONF, NOVA_GPU_CONF, PROVIDER_YAML, Plan
from gpuslice.plan.vgpu import VGPU, is_tied, parent_inventory, vgpu_parents
from gpuslice.releases import FACTS, Release
from gpuslice.render import render_files
from gpuslice.twin.confcheck import ConfFinding, ValueCheck, canonical, check_entries
from gpuslice.twin.ini import ConfEntry, parse_ini
from gpuslice.twin.job import HostJob, Steps
from gpuslice.twin.merged import Key, kept_note, keys_of, split_applied, weigh_findings
from gpuslice.twin.report import Report, Row
from gpuslice.twin.scenario import (
    CLOUD_OBJECTS,
    HostUnderTest,
    boot_gpus,
    compare_model,
    run_scenario,
)
from gpuslice.twin.vgpu import run_vgpu_scenario

if TYPE_CHECKING:
    from gpuslice.twin._nova34 import NovaTwin

NOVA_VERSION = "nova 34.0.0"
NOVA_RELEASE = Release(34)
# The last release where split works; verify ports its recipe to nova 34's option names.
SPLIT_RELEASE = Release(14)
# Options whose value is a path on the real host; the run points them at its own copies.
_PATH_OPTIONS = {
    ("compute", "provider_config_location"),
    ("DEFAULT", "state_path"),
    ("DEFAULT", "instances_path"),
    ("oslo_concurrency", "lock_path"),
}


def nova_registry() -> dict[str, list[Any]]:
    """nova's registered options, group -> options (imports nova)."""
    from gpuslice.twin import _nova34

    return _nova34.registry()


def read_tree(root: Path) -> dict[str, str]:
    """Every text file below `root` as relative path -> text (a render directory)."""
    if not root.is_dir():
        raise InputError("is not a directory", source=str(root), field="--rendered")
    files: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            try:
                files[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise InputError(f"cannot read: {error}", source=str(path)) from None
    return files


def _is_conf(path: str) -> bool:
    return path.endswith((f"/{NOVA_CONF}", f"/{NOVA_GPU_CONF}"))


def check_files(
    files: Mapping[str, str],
    registry: Mapping[str, Sequence[Any]],
    source: Release = NOVA_RELEASE,
    value_checks: Mapping[tuple[str, str], ValueCheck] | None = None,
    own: Mapping[str, frozenset[Key]] | None = None,
) -> list[ConfFinding]:
    """Findings for every nova.conf and nova-gpu.conf in `files` against nova's options.

    Files written for an older `source` release are first moved to nova 34's option names.
    With `own` (path -> the options gpuslice writes there), findings on any other option of a
    file are warnings: the operator's lines of a merged file (`gpuslice.twin.merged`).
    """
    findings: list[ConfFinding] = []
    for path, text in files.items():
        if _is_conf(path):
            entries = parse_ini(text, path)
            entries = port_entries(entries, source, NOVA_RELEASE)
            known = {**registry, **_mdev_groups(entries)}
            found = check_entries(entries, known, value_checks=value_checks)
            if own is not None:
                found = weigh_findings(found, own.get(path, frozenset()))
            findings.extend(found)
    return findings


def own_keys(
    ours: Mapping[str, str], registry: Mapping[str, Sequence[Any]], source: Release
) -> dict[str, frozenset[Key]]:
    """Per nova.conf path of gpuslice's own render, the options it sets (as written and as nova
    reads them: deprecated names moved, unknown ones kept so they stay gpuslice's errors)."""
    own: dict[str, frozenset[Key]] = {}
    for path, text in ours.items():
        if _is_conf(path):
            ported = port_entries(parse_ini(text, path), source, NOVA_RELEASE)
            own[path] = keys_of(ported) | keys_of(canonical(ported, registry))
    return own


def kept_notes(
    files: Mapping[str, str],
    registry: Mapping[str, Sequence[Any]],
    source: Release,
    own: Mapping[str, frozenset[Key]],
) -> list[str]:
    """One note per file naming the operator's options a run does not apply."""
    notes: list[str] = []
    for path, text in files.items():
        if _is_conf(path):
            entries = port_entries(parse_ini(text, path), source, NOVA_RELEASE)
            _, kept = split_applied(canonical(entries, registry), own.get(path, frozenset()))
            note = kept_note(path, kept)
            if note is not None:
                notes.append(note)
    return notes


def _mdev_groups(entries: Sequence[ConfEntry]) -> dict[str, list[Any]]:
    """nova's dynamic `[mdev_<type>]` groups for the types a file enables (none without)."""
    types = [
        t.strip()
        for e in entries
        if (e.section, e.name) == ("devices", "enabled_mdev_types")
        for t in e.value.split(",")
        if t.strip()
    ]
    if not types:
        return {}
    from gpuslice.twin import _nova34

    return _nova34.mdev_registry(types)


def verify(
    fleet: Fleet,
    *,
    strategy: str | None = None,
    rendered: Mapping[str, str] | None = None,
    hosts: Sequence[str] = (),
    compare: int = 0,
    seed: int = 1,
    multi: int = 0,
    mix: bool = False,
) -> Report:
    """Verify `fleet` under `strategy` on real nova 34; returns every row.

    `rendered` (relative path -> text, as `gpuslice render` writes) replaces rendering the plan
    in memory. With `compare` > 0, each host then replays a sequence of that many requests
    (made from `seed`) on nova and on the embedded model. Raises InputError when a nova.conf has
    an unknown option or a bad value. With `multi` > 0 (and `compare` > 0) it runs only the
    multi-host comparison: the first (or the `hosts`-named) GPU host cloned `multi` times
    under one nova (`gpuslice.twin.compare_multi`); with `mix`, copies of every host of the
    fleet in turn, each with its own nova.conf.
    """
    name = strategy or fleet.strategy
    report = Report()
    if multi > 0 and compare > 0:
        from gpuslice.twin.compare_multi import run_multi

        _jobs(fleet, make_plan(fleet, name), {}, {}, hosts)  # unknown --host names fail here
        template = next(h for h in fleet.gpu_hosts if not hosts or h.name in hosts)
        started = time.monotonic()
        run_multi(fleet, name, None if mix else template, multi, compare, seed, report)
        label = f"mixed x {multi}" if mix else f"{template.name} x {multi}"
        report.run_seconds[label] = round(time.monotonic() - started, 1)
        return report
    refusal: str | None = None
    try:
        plan = make_plan(fleet, name)
    except InputError as error:
        if name != "split":
            raise
        # split is refused after Newton; verify shows why on real nova with the Newton recipe.
        refusal = error.detail
        plan = make_plan(dataclasses.replace(fleet, release=SPLIT_RELEASE), "split")
        report.notes.append(
            f"strategy split is refused for {fleet.release}; running the Newton recipe on "
            f"{NOVA_VERSION} to show why. gpuslice says: {refusal}"
        )
    if plan.strategy == "split" and refusal is None:
        # A Newton fleet: its split plan stands, but nova 34 is where verify runs it.
        refusal = split_refusal(dataclasses.replace(fleet, release=NOVA_RELEASE))
    source = plan.release
    if source != NOVA_RELEASE:
        report.notes.append(
            f"files rendered for {source}; option names moved to {NOVA_VERSION}'s through the "
            "release facts table"
        )
    files = dict(rendered) if rendered is not None else render_files(plan)
    registry = nova_registry()
    from gpuslice.twin import _nova34

    # The options gpuslice writes, from its own render: in --rendered files (perhaps merged
    # into an operator's) every other option is the operator's.
    own = own_keys(render_files(plan) if rendered is not None else files, registry, source)
    findings = check_files(files, registry, source, _nova34.value_checks(), own)
    fatal = [f for f in findings if f.fatal]
    if fatal and refusal is None:
        problems = "\n  ".join(str(f) for f in fatal)
        msg = f"rendered configuration that {NOVA_VERSION} does not accept:\n  {problems}"
        raise InputError(msg)
    report.notes.extend(f"warning: {f}" for f in findings if not f.fatal)
    report.notes.extend(f"not accepted by {NOVA_VERSION}, left out: {f}" for f in fatal)
    report.notes.extend(kept_notes(files, registry, source, own))

    controller, dropped = _known_filters(_controller_conf(fleet, files, registry, source, own))
    if dropped:
        report.notes.append(f"filters {NOVA_VERSION} no longer has, left out: {', '.join(dropped)}")
    cloud = _cloud_objects(files)
    jobs = _jobs(fleet, plan, files, registry, hosts, source, own)
    seen: dict[tuple[object, ...], str] = {}
    for job in jobs:
        sig = job.signature()
        if sig in seen:
            report.notes.append(
                f"{job.host.name}: same hardware and files as {seen[sig]}; its rows stand for both"
            )
            continue
        seen[sig] = job.host.name
        started = time.monotonic()
        if refusal is not None:
            rows = _run_split(fleet, plan, job, controller, cloud, refusal)
        else:
            compared = _shared_keys(fleet, files, own, job.host.name)
            rows = _run_host(fleet, plan, job, controller, cloud, (compare, seed), report, compared)
        report.rows.extend(rows)
        report.run_seconds[job.host.name] = round(time.monotonic() - started, 1)
    return report


def port_entries(entries: Sequence[ConfEntry], source: Release, target: Release) -> list[ConfEntry]:
    """`entries` written for `source` with option locations moved to `target`'s names.

    Uses the release facts table: every fact whose value is a (section, option) location.
    """
    moves: dict[tuple[str, str], tuple[str, str]] = {}
    for key in FACTS:
        old, new = source.fact(key), target.fact(key)
        locations = isinstance(old, tuple) and isinstance(new, tuple)
        if locations and old != new and all(isinstance(p, str) for p in (*old, *new)):
            moves[(old[0], old[1])] = (new[0], new[1])
    out: list[ConfEntry] = []
    for entry in entries:
        section, name = moves.get((entry.section, entry.name), (entry.section, entry.name))
        out.append(dataclasses.replace(entry, section=section, name=name))
    return out


def _read_conf(
    text: str,
    path: str,
    registry: Mapping[str, Sequence[Any]],
    source: Release,
    own: Mapping[str, frozenset[Key]] | None = None,
) -> tuple[ConfEntry, ...]:
    """The entries of one file a run applies (with `own`: gpuslice's and scheduling ones)."""
    entries = canonical(port_entries(parse_ini(text, path), source, NOVA_RELEASE), registry)
    if own is not None:
        entries, _ = split_applied(entries, own.get(path, frozenset()))
    return tuple(entries)


def _controller_conf(
    fleet: Fleet,
    files: Mapping[str, str],
    registry: Mapping[str, Sequence[Any]],
    source: Release = NOVA_RELEASE,
    own: Mapping[str, frozenset[Key]] | None = None,
) -> tuple[ConfEntry, ...]:
    texts = {c: files.get(f"{c}/{NOVA_CONF}") for c in fleet.controllers}
    present = {c: t for c, t in texts.items() if t is not None}
    if not present:
        return ()
    first = next(iter(present))
    return _read_conf(present[first], f"{first}/{NOVA_CONF}", registry, source, own)


def _known_filters(
    entries: Sequence[ConfEntry],
) -> tuple[tuple[ConfEntry, ...], list[str]]:
    """Drop scheduler filters this nova does not have (the Newton list names removed ones)."""
    from gpuslice.twin import _nova34

    known = _nova34.filter_names()
    out: list[ConfEntry] = []
    dropped: list[str] = []
    for entry in entries:
        if (entry.section, entry.name) == ("filter_scheduler", "enabled_filters"):
            names = [n.strip() for n in entry.value.split(",") if n.strip()]
            dropped.extend(n for n in names if n not in known)
            entry = dataclasses.replace(entry, value=",".join(n for n in names if n in known))
        out.append(entry)
    return tuple(out), dropped


def _cloud_objects(files: Mapping[str, str]) -> dict[str, Any]:
    text = files.get(CLOUD_OBJECTS)
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(str(error), source=CLOUD_OBJECTS, line=error.lineno) from None
    if not isinstance(data, dict):
        raise InputError("must be a JSON object", source=CLOUD_OBJECTS)
    return data


def _jobs(
    fleet: Fleet,
    plan: Plan,
    files: Mapping[str, str],
    registry: Mapping[str, Sequence[Any]],
    only: Sequence[str],
    source: Release = NOVA_RELEASE,
    own: Mapping[str, frozenset[Key]] | None = None,
) -> list[HostJob]:
    unknown = [h for h in only if h not in {host.name for host in fleet.gpu_hosts}]
    if unknown:
        names = ", ".join(h.name for h in fleet.gpu_hosts)
        msg = f"not a GPU host of the fleet: {', '.join(unknown)} (GPU hosts: {names})"
        raise InputError(msg, field="--host")
    plans = {hp.host.name: hp for hp in plan.hosts}
    jobs: list[HostJob] = []
    for host in fleet.gpu_hosts:
        if only and host.name not in only:
            continue
        conf_path = f"{host.name}/{NOVA_CONF}"
        text = files.get(conf_path, "")
        gpu_path = f"{host.name}/{NOVA_GPU_CONF}"
        gpu_text = files.get(gpu_path)
        jobs.append(
            HostJob(
                host=host,
                plan=plans.get(host.name),
                conf=_read_conf(text, conf_path, registry, source, own),
                provider_yaml=files.get(f"{host.name}/{PROVIDER_YAML}"),
                gpu_conf=_read_conf(gpu_text, gpu_path, registry, source, own)
                if gpu_text is not None
                else (),
            )
        )
    return jobs


# --- one run per GPU host ---------------------------------------------------------------------


def gpus_as_nova_sees_them(fleet: Fleet, host: Host) -> tuple[GpuDevice, ...]:
    """The host's GPUs, each with the device type the fake libvirt gives it.

    A GPU's own (discovered or stated) type, else its model's, else type-PCI. type-VF GPUs are
    refused, but for `vfio_variant` models (the fake host then adds each VF's card as its PF).
    """
    out: list[GpuDevice] = []
    for gpu in host.gpus:
        device_type = gpu.device_type or fleet.model_of(gpu).device_type or "type-PCI"
        if device_type == "type-VF" and not fleet.model_of(gpu).vfio_variant:
            msg = (
                f"{host.name}: GPU {gpu.address} is a virtual function (type-VF); verify "
                "models whole GPUs (type-PCI and type-PF) only"
            )
            raise InputError(msg, field="--host")
        out.append(dataclasses.replace(gpu, device_type=device_type))
    return tuple(out)


def _fake_host(fleet: Fleet, host: Host, **overrides: Any) -> Any:
    """The fake libvirt host for `host`: its GPUs as nova sees them, its vGPU cards as
    mdev-capable GPUs offering `vgpus_per_gpu` of their type, its hypervisor hostname.

    A card whose type sits on its virtual functions (`vgpu_on: vfs`) becomes one mdev-capable
    function per VF in use, offering one vGPU each, at the VF's address; the card itself is
    left out (on SR-IOV vGPU hardware it offers no type). nova's mdev code reads only the
    functions libvirt lists as mdev-capable, not how a VF hangs off its card.
    """
    from gpuslice.twin._nova34 import FakeHost

    nodes = len(host.cpu_numa) or 1
    cards: list[tuple[str, str, int]] = []
    on_vfs: dict[str, GpuDevice] = {}
    for gpu, address in vgpu_parents(fleet, host):
        model = fleet.model_of(gpu)
        assert model.vgpu is not None
        cards.append((address, model.vgpu.mdev_type, parent_inventory(model)[VGPU].total))
        if address != gpu.address:
            on_vfs[address] = dataclasses.replace(gpu, address=address, function="virtual")
    gpus = [
        g
        for g in gpus_as_nova_sees_them(fleet, host)
        if g.address not in _cards_on_vfs(fleet, host)
    ]
    if host.hypervisor_hostname:
        overrides.setdefault("hypervisor_hostname", host.hypervisor_hostname)
    return FakeHost(
        name=host.name,
        cpus=host.cpus,
        numa_nodes=nodes,
        cpu_numa=host.cpu_numa,
        memory_mb=host.memory_mb,
        disk_gb=host.disk_gb,
        gpus=(*gpus, *on_vfs.values()),
        mdev_cards=tuple(cards),
        **overrides,
    )


def _cards_on_vfs(fleet: Fleet, host: Host) -> set[str]:
    """The addresses of the host's cards whose vGPU type sits on their virtual functions."""
    out = set()
    for gpu in fleet.vgpu_gpus(host):
        spec = fleet.model_of(gpu).vgpu
        if spec is not None and spec.on == "vfs":
            out.add(gpu.address)
    return out


def _prepare_conf(
    job_conf: Sequence[ConfEntry],
    root: Path,
    provider_yaml: str | None,
    provider_default: str | None = None,
) -> list[ConfEntry]:
    """The entries to apply, with the host's paths moved below `root` (the host's `/`).

    The rendered provider.yaml is written where it lives on the host, below `root`. When the
    files do not set provider_config_location, nova reads its default (`provider_default`),
    which is moved below `root` the same way: the file is read only if it is there.
    """
    if provider_yaml is not None:
        target = root / PROVIDER_YAML
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(provider_yaml, encoding="utf-8")
    entries: list[ConfEntry] = []
    located = False
    for entry in job_conf:
        key = (entry.section, entry.name)
        if key in _PATH_OPTIONS:
            path = root / entry.value.lstrip("/")
            path.mkdir(parents=True, exist_ok=True)
            entries.append(dataclasses.replace(entry, value=str(path)))
            located = located or key == ("compute", "provider_config_location")
        elif key == ("DEFAULT", "host"):
            continue  # the service host; the run starts the service under it
        else:
            entries.append(entry)
    if not located and provider_default is not None:
        path = root / provider_default.lstrip("/")
        path.mkdir(parents=True, exist_ok=True)
        entries.append(
            ConfEntry(
                f"nova's default for {PROVIDER_YAML}",
                0,
                "compute",
                "provider_config_location",
                str(path),
            )
        )
    return entries


def _shared_keys(
    fleet: Fleet, files: Mapping[str, str], own: Mapping[str, frozenset[Key]], host: str
) -> frozenset[Key]:
    """The options gpuslice writes both in the controllers' nova.conf and in `host`'s."""
    paths = [f"{c}/{NOVA_CONF}" for c in fleet.controllers if f"{c}/{NOVA_CONF}" in files]
    if not paths:
        return frozenset()
    return own.get(paths[0], frozenset()) & own.get(f"{host}/{NOVA_CONF}", frozenset())


def _conflicts(
    controller: Sequence[ConfEntry], host: Sequence[ConfEntry], compared: frozenset[Key]
) -> list[str]:
    """Options of `compared` both set with different values (one CONF holds both in a run).

    `compared` are the options gpuslice writes in both files: an operator's other options may
    well differ between a controller and a host (the controller's are then not in force while
    the host runs, which the GPU scenario does not depend on).
    """

    def values(entries: Sequence[ConfEntry]) -> dict[tuple[str, str], list[str]]:
        out: dict[tuple[str, str], list[str]] = {}
        for entry in entries:
            out.setdefault((entry.section, entry.name), []).append(entry.value)
        return out

    ctl, mine = values(controller), values(host)
    both = set(ctl) & set(mine) & compared
    return [f"[{s}] {n}" for (s, n) in sorted(both) if ctl[(s, n)] != mine[(s, n)]]


def run_on_host(
    fleet: Fleet, host: str, body: Callable[[NovaTwin, HostJob, HostUnderTest], None]
) -> None:
    """Start real nova 34 with `fleet`'s rendered plan for GPU host `host` (its nova.conf,
    provider.yaml and cloud objects, as verify does) and call `body` instead of the scenario.

    For experiments the scenario does not run (tests pinning what nova does in a given state).
    """
    from gpuslice.twin import _nova34

    plan = make_plan(fleet, fleet.strategy)
    files = render_files(plan)
    registry = nova_registry()
    own = own_keys(files, registry, plan.release)
    controller, _dropped = _known_filters(
        _controller_conf(fleet, files, registry, plan.release, own)
    )
    (job,) = _jobs(fleet, plan, files, registry, [host], plan.release, own)
    steps = Steps(host, plan.strategy)
    with tempfile.TemporaryDirectory(prefix="gpuslice-twin-") as tmp:
        default = _nova34.option_default("compute", "provider_config_location")
        entries = _prepare_conf(job.conf, Path(tmp) / host, job.provider_yaml, default)

        def run(twin: NovaTwin) -> None:
            twin.apply(entries)
            rp_uuid = twin.start_host(_fake_host(fleet, job.host))
            _create_cloud_objects(twin, _cloud_objects(files), [host], rp_uuid, steps)
            body(twin, job, HostUnderTest(twin, fleet, job, rp_uuid))

        _nova34.run(_nova34.RunSpec(controller, run))


def _run_host(
    fleet: Fleet,
    plan: Plan,
    job: HostJob,
    controller: Sequence[ConfEntry],
    cloud: Mapping[str, Any],
    compare: tuple[int, int] = (0, 1),
    report: Report | None = None,
    compared: frozenset[Key] = frozenset(),
) -> list[Row]:
    from gpuslice.twin import _nova34

    steps = Steps(job.host.name, plan.strategy)
    with tempfile.TemporaryDirectory(prefix="gpuslice-verify-") as tmp:
        workdir = Path(tmp)
        default = _nova34.option_default("compute", "provider_config_location")
        root = workdir / job.host.name
        entries = _prepare_conf(job.conf, root, job.provider_yaml, default)
        clash = _conflicts(controller, entries, compared)
        steps.add(
            "controllers' and host's nova.conf agree where both set an option",
            "agree (one process holds both)",
            "differ: " + ", ".join(clash) if clash else "agree",
            not clash,
        )

        def body(twin: NovaTwin) -> None:
            twin.apply(entries)
            rp_uuid = twin.start_host(_fake_host(fleet, job.host))
            _check_host_seen(twin, steps, fleet, job, rp_uuid)
            _create_cloud_objects(twin, cloud, [job.host.name], rp_uuid, steps)
            if fleet.vgpu_gpus(job.host):
                tied = is_tied(fleet, plan.strategy)
                run_vgpu_scenario(twin, steps, fleet, job, rp_uuid, tied)
            else:
                run_scenario(twin, steps, fleet, job, rp_uuid)
            if compare[0] > 0 and job.plan is not None:
                found = compare_model(twin, steps, fleet, plan, job.plan, *compare)
                if report is not None:
                    report.comparisons[job.host.name] = found

        _nova34.run(_nova34.RunSpec(controller, body))
    return steps.rows


def _check_host_seen(
    twin: NovaTwin, steps: Steps, fleet: Fleet, job: HostJob, rp_uuid: str
) -> None:
    """nova sees the host's CPUs, RAM, disk and passthrough GPUs (vGPU cards are no PCI
    devices to nova), and the root provider's inventory and traits as planned."""
    host = job.host
    inv = twin.inventories(rp_uuid)
    devices = twin.pci_devices(host.name)

    def total(rc: str) -> int:
        return int(inv.get(rc, {}).get("total", 0))

    cpus = total("VCPU") + total("PCPU")  # shared plus dedicated CPUs
    passed = {g.address for g in fleet.passthrough_gpus(host)}
    want_gpus = sorted(
        f"{g.address} {g.vendor_id}:{g.product_id} {g.device_type}"
        for g in gpus_as_nova_sees_them(fleet, host)
        if g.address in passed
    )
    seen_gpus = sorted(f"{d[0]} {d[1]}:{d[2]} {d[4]}" for d in devices)
    expected = f"{len(host.cpus)} CPUs, {host.memory_mb} MB, {host.disk_gb} GB; GPUs {want_gpus}"
    seen = f"{cpus} CPUs, {total('MEMORY_MB')} MB, {total('DISK_GB')} GB; GPUs {seen_gpus}"
    steps.add("nova sees the fleet's host", expected, seen, expected == seen)
    if job.plan is None:
        return
    for provider in job.plan.providers:
        want = {
            rc: (i.total, i.reserved, float(i.allocation_ratio))
            for rc, i in sorted(provider.inventories.items())
        }
        got = {
            rc: (int(v["total"]), int(v["reserved"]), float(v["allocation_ratio"]))
            for rc, v in sorted(inv.items())
            if rc in want
        }
        missing = sorted(set(want) - set(got))
        steps.add(
            f"provider {provider.name}: inventory as planned (total, reserved, ratio)",
            _fmt_inv(want),
            _fmt_inv(got) + (f"; missing {', '.join(missing)}" if missing else ""),
            want == got,
        )
        traits = set(twin.traits(rp_uuid))
        lacking = sorted(set(provider.traits) - traits)
        if provider.traits:
            steps.add(
                f"provider {provider.name}: traits as planned",
                ", ".join(provider.traits),
                "missing " + ", ".join(lacking) if lacking else ", ".join(provider.traits),
                not lacking,
            )


def _fmt_inv(inv: Mapping[str, tuple[int, int, float]]) -> str:
    return "; ".join(f"{rc} {t}/{r}/{a:g}" for rc, (t, r, a) in inv.items())


def _create_cloud_objects(
    twin: NovaTwin,
    cloud: Mapping[str, Any],
    running: Sequence[str],
    rp_uuid: str,
    steps: Steps,
) -> None:
    for rc in cloud.get("resource_classes", []):
        twin.ensure_resource_class(rc)
    for trait in cloud.get("traits", []):
        twin.ensure_trait(trait)
    for provider, traits in (cloud.get("provider_traits") or {}).items():
        if provider in running:
            for trait in traits:
                twin.ensure_trait(trait)
            twin.add_provider_traits(rp_uuid, traits)
    for aggregate in cloud.get("aggregates", []):
        members = [h for h in aggregate.get("hosts", []) if h in running]
        twin.create_aggregate(aggregate["name"], aggregate.get("metadata", {}), members)
    for flavor in cloud.get("flavors", []):
        twin.create_flavor(
            flavor["name"],
            int(flavor["vcpus"]),
            int(flavor["ram"]),
            int(flavor["disk"]),
            is_public=bool(flavor.get("is_public", True)),
            extra_specs=flavor.get("extra_specs") or {},
        )
    steps.add(
        "cloud-objects.json created through the compute and placement APIs",
        "accepted",
        f"accepted: {len(cloud.get('flavors', []))} flavor(s), "
        f"{len(cloud.get('aggregates', []))} aggregate(s), {len(cloud.get('traits', []))} trait(s)",
        True,
    )


# --- split: two services on one libvirt host -----------------------------------------------------


def _run_split(
    fleet: Fleet,
    plan: Plan,
    job: HostJob,
    controller: Sequence[ConfEntry],
    cloud: Mapping[str, Any],
    refusal: str,
) -> list[Row]:
    from gpuslice.twin import _nova34

    service_host = next(
        (e.value for e in job.gpu_conf if (e.section, e.name) == ("DEFAULT", "host")),
        f"{job.host.name}-gpu",
    )
    steps = Steps(job.host.name, "split")
    with tempfile.TemporaryDirectory(prefix="gpuslice-verify-") as tmp:
        workdir = Path(tmp)
        first = _prepare_conf(job.conf, workdir / job.host.name, None)
        # The GPU service reads nova.conf then nova-gpu.conf (its systemd unit says so).
        second = _prepare_conf([*job.conf, *job.gpu_conf], workdir / service_host, None)

        def body(twin: NovaTwin) -> None:
            twin.apply(first)
            rp_uuid = twin.start_host(_fake_host(fleet, job.host))
            steps.add(
                f"first service {job.host.name} starts",
                f"provider {job.host.name}",
                f"provider {_provider_name(twin, rp_uuid)}",
                True,
            )
            twin.apply(second)
            fake = _fake_host(
                fleet, job.host, service_host=service_host, hypervisor_hostname=job.host.name
            )
            # As the recipe is often run: both services share state_path, so the compute_id
            # file hands the GPU service the first service's node.
            shared_error = twin.try_start_host(fake, node_uuid=rp_uuid)
            steps.add(
                f"second service {service_host} sharing {job.host.name}'s state_path starts",
                "starts",
                shared_error or "started",
                not shared_error,
            )
            # As gpuslice renders it: its own state_path, so a node of its own.
            own = _nova34.stable_node_uuid(f"{service_host}-own-state")
            before = len(twin.logs())
            error = twin.try_start_host(fake, node_uuid=own)
            log = twin.logs()[before:]
            conflict = _quote(log, "Conflicting resource provider name")
            providers = sorted(p["name"] for p in twin.providers())
            seen = error or conflict or f"providers {providers}"
            steps.add(
                f"second service {service_host} with its own state_path registers a provider",
                f"a provider for {service_host}'s slice",
                f"placement: 409 {seen}" if conflict and not error else seen,
                bool(not error and not conflict and len(providers) == 2),
            )
            # The refusal speaks for the whole fleet and names one GPU host as its example.
            core = _core(conflict)
            names = [h.name for h in fleet.gpu_hosts]
            quoted = bool(conflict) and any(
                core.replace(job.host.name, name) in refusal for name in names
            )
            steps.add(
                "gpuslice's refusal of split quotes what nova did",
                f"refusal contains {core!r} (for any GPU host's name)"
                if conflict
                else "a 409 from placement",
                "it does" if quoted else f"refusal: {refusal}",
                quoted,
            )
            _create_cloud_objects(twin, cloud, [job.host.name, service_host], rp_uuid, steps)
            host = HostUnderTest(twin, fleet, job, rp_uuid)
            boot_gpus(host, steps, "split")

        _nova34.run(_nova34.RunSpec(controller, body))
    return steps.rows


def _provider_name(twin: NovaTwin, rp_uuid: str) -> str:
    for provider in twin.providers():
        if provider["uuid"] == rp_uuid:
            return str(provider["name"])
    return "none"


def _quote(log: str, needle: str) -> str:
    for line in log.splitlines():
        if needle in line:
            start = line.find(needle)
            return line[start:].split('"')[0].split("\\n")[0].strip()
    return ""


def _core(quote: str) -> str:
    """The part of nova's message gpuslice's refusal must carry (without request ids)."""
    return quote.split(". ")[0].rstrip(".")
