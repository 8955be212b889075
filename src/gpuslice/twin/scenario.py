"""The scenario verify runs on one GPU host of a running real nova, and --compare-model.

Ordinary first: fill with ordinary VMs until No valid host; one GPU VM per GPU goes ACTIVE with
its device in the guest XML; one more is refused; deleting a GPU VM does not let an ordinary VM
in; a GPU VM of the same flavor boots again. Then GPU first, the same steps the other way round.
Where the host's menu has multi-GPU flavors, both orders again with the host's GPUs taken by the
largest flavors that fit (`menu_boots`: a 4-GPU VM, or 2-GPU and 1-GPU VMs of several models),
each with all its devices, of its model, in the guest XML. With dedicated CPUs on a host whose
NUMA layout the fleet gives, `gpuslice.twin.numa` adds its steps (GPU VMs on their GPUs' nodes;
flavors booted without the plan's `hw:numa_nodes`). Every step adds a row (expected, seen) to
`Steps`.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from gpuslice.cpuset import format_cpuset, parse_cpuset
from gpuslice.errors import InputError
from gpuslice.fleet import Fleet, GpuFlavor, GpuModel, Host
from gpuslice.plan.types import Flavor, HostPlan, Plan
from gpuslice.twin.job import HostJob, Steps

if TYPE_CHECKING:
    from gpuslice.twin._nova34 import Boot, NovaTwin

CLOUD_OBJECTS = "cloud-objects.json"
NO_VALID_HOST = "No valid host"
# The smallest ordinary VM: one vCPU, 64 MiB, no disk. If it is refused, no ordinary VM fits.
SMALLEST = (1, 64, 0)
MAX_FILL_BOOTS = 40


@dataclasses.dataclass(frozen=True)
class MenuBoot:
    """One GPU VM of the menu phase: its flavor, size, GPU count and its model's GPU addresses."""

    flavor: str
    flavor_id: str
    vcpus: int
    ram: int
    gpus: int
    addresses: frozenset[str]


def menu_boots(fleet: Fleet, host: Host) -> list[tuple[GpuModel, GpuFlavor]]:
    """The flavors that take all of `host`'s GPUs, largest first per model; empty when that is
    one 1-GPU VM per GPU (the phases before already ran it).

    Per model in fleet order: the largest flavor of its menu that fits the GPUs still free,
    again and again, until none is left.
    """
    chosen: list[tuple[GpuModel, GpuFlavor]] = []
    for model in fleet.models:
        left = sum(1 for g in host.gpus if fleet.model_of(g) == model)
        for item in sorted(model.menu, key=lambda f: -f.gpus):
            while left >= item.gpus:
                chosen.append((model, item))
                left -= item.gpus
    if all(item.gpus == 1 for _, item in chosen):
        return []
    return chosen


class HostUnderTest:
    """A host during the scenario: its servers and the flavors made for it."""

    def __init__(self, twin: NovaTwin, fleet: Fleet, job: HostJob, rp_uuid: str) -> None:
        self.twin = twin
        self.fleet = fleet
        self.job = job
        self.rp_uuid = rp_uuid
        self.name = job.host.name
        self.counter = 0
        self.flavors: dict[tuple[int, int, int], str] = {}
        self.gpu_flavor: dict[str, tuple[str, int, int]] = {}
        self.menu: list[MenuBoot] = []
        by_name = {f["name"]: f for f in twin.flavors()}
        for gpu in job.host.gpus:
            model = fleet.model_of(gpu)
            found = by_name.get(model.flavor)
            if found is None:
                msg = f"cloud-objects.json has no flavor {model.flavor!r} for {gpu.address}"
                raise InputError(msg, source=CLOUD_OBJECTS)
            self.gpu_flavor[gpu.address] = (str(found["id"]), found["vcpus"], found["ram"])
        for model, item in menu_boots(fleet, job.host):
            found = by_name.get(item.name)
            if found is None:
                msg = f"cloud-objects.json has no flavor {item.name!r} of {model.alias}'s menu"
                raise InputError(msg, source=CLOUD_OBJECTS)
            self.menu.append(
                MenuBoot(
                    item.name,
                    str(found["id"]),
                    found["vcpus"],
                    found["ram"],
                    item.gpus,
                    frozenset(g.address for g in job.host.gpus if fleet.model_of(g) == model),
                )
            )

    def ordinary_flavor(self, size: tuple[int, int, int]) -> str:
        if size not in self.flavors:
            vcpus, ram, disk = size
            self.flavors[size] = self.twin.create_flavor(
                f"ordinary-{vcpus}c-{ram}m-{disk}g", vcpus, ram, disk
            )
        return self.flavors[size]

    def boot(self, kind: str, flavor_id: str) -> Boot:
        self.counter += 1
        return self.twin.boot(f"{kind}-{self.counter}", flavor_id)

    def free_general(self) -> tuple[int, int, int]:
        inv = self.twin.inventories(self.rp_uuid)
        used = self.twin.usages(self.rp_uuid)

        def free(rc: str) -> int:
            if rc not in inv:
                return 0
            i = inv[rc]
            cap = int((i["total"] - i["reserved"]) * i["allocation_ratio"])
            return min(cap - int(used.get(rc, 0)), int(i["max_unit"]))

        return free("VCPU"), free("MEMORY_MB"), max(free("DISK_GB"), 0)

    def fill(self) -> tuple[list[tuple[Boot, tuple[int, int, int]]], Boot | None]:
        """Boot ordinary VMs, each as large as what is free, until nova refuses one."""
        booted: list[tuple[Boot, tuple[int, int, int]]] = []
        for _ in range(MAX_FILL_BOOTS):
            vcpus, ram, disk = self.free_general()
            size = (vcpus, ram, disk) if vcpus >= 1 and ram >= 1 else SMALLEST
            result = self.boot("ordinary", self.ordinary_flavor(size))
            if not result.active:
                if size != SMALLEST:
                    # Refused although placement showed it free: try the smallest VM.
                    result = self.boot("ordinary", self.ordinary_flavor(SMALLEST))
                    if result.active:
                        booted.append((result, SMALLEST))
                        continue
                return booted, result
            booted.append((result, size))
        return booted, None

    def delete_all(self) -> None:
        # Refused (ERROR) servers hold nothing; leaving them saves a delete each.
        for server_id in self.twin.server_ids("ACTIVE"):
            self.twin.delete(server_id)


def _refused(result: Boot) -> bool:
    return not result.active and NO_VALID_HOST in result.fault


def _outcome(result: Boot) -> str:
    if result.active:
        return "ACTIVE"
    return f"{result.status}: {result.fault.strip() or 'no fault'}"


def attached(xml: str) -> list[str]:
    root = ET.fromstring(xml)
    found: list[str] = []
    for hostdev in root.iter("hostdev"):
        address = hostdev.find("./source/address")
        if address is None:
            continue
        domain, bus, slot, func = (
            int(address.get(k, "0"), 16) for k in ("domain", "bus", "slot", "function")
        )
        found.append(f"{domain:04x}:{bus:02x}:{slot:02x}.{func:x}")
    return found


def hostdev_managed(xml: str) -> dict[str, str]:
    """Each PCI hostdev's address -> its `managed` attribute ('yes', 'no'; '' when absent)."""
    found: dict[str, str] = {}
    for hostdev in ET.fromstring(xml).iter("hostdev"):
        if hostdev.find("./source/address") is not None:
            (address,) = attached(f"<domain>{ET.tostring(hostdev, encoding='unicode')}</domain>")
            found[address] = hostdev.get("managed", "")
    return found


def pinned(xml: str) -> set[int]:
    """Host CPUs the guest's vCPUs are pinned to (`<cputune><vcpupin cpuset=...>`)."""
    cpus: set[int] = set()
    for pin in ET.fromstring(xml).iter("vcpupin"):
        cpus |= set(parse_cpuset(pin.get("cpuset", "")))
    return cpus


def guest_size(xml: str) -> tuple[int, int]:
    root = ET.fromstring(xml)
    vcpu = root.findtext("vcpu") or "0"
    memory = root.findtext("memory") or "0"
    return int(vcpu), int(memory) // 1024


def boot_gpus(host: HostUnderTest, steps: Steps, label: str) -> list[tuple[str, str]]:
    """One GPU VM per GPU; returns (server id, flavor id) of those that went ACTIVE."""
    from gpuslice.twin import numa  # numa's steps read this module's guest XML helpers

    servers: list[tuple[str, str]] = []
    in_guests: list[str] = []
    for index, gpu in enumerate(host.job.host.gpus, start=1):
        flavor_id, vcpus, ram = host.gpu_flavor[gpu.address]
        result = host.boot("gpu", flavor_id)
        seen = _outcome(result)
        ok = result.active
        if result.active:
            servers.append((result.server_id, flavor_id))
            xml = host.twin.guest_xml(host.name, result.server_id)
            devices = attached(xml)
            guest = guest_size(xml)
            in_guests.extend(devices)
            seen = f"ACTIVE, guest XML: {', '.join(devices) or 'no PCI device'}, "
            seen += f"{guest[0]} vCPU, {guest[1]} MB"
            host_gpus = {g.address for g in host.job.host.gpus}
            ok = len(devices) == 1 and devices[0] in host_gpus and guest == (vcpus, ram)
            if host.fleet.model_of(gpu).vfio_variant:
                # A VF of a vendor vfio variant driver: libvirt must leave it on that driver.
                managed = hostdev_managed(xml)
                seen += ", managed=" + ",".join(managed.values())
                ok = ok and set(managed.values()) == {"no"}
            gpu_cpus = set(host.job.plan.gpu_cpus) if host.job.plan else set()
            if gpu_cpus:
                # Dedicated CPUs: the GPU VM must be pinned inside the slice's CPUs.
                on = pinned(xml)
                seen += f", pinned to {format_cpuset(sorted(on)) or 'nothing'}"
                ok = ok and bool(on) and on <= gpu_cpus
        steps.add(
            f"{label}: GPU VM {index} of {len(host.job.host.gpus)}",
            f"ACTIVE with a {gpu.vendor_product} in the guest XML, {vcpus} vCPU, {ram} MB"
            + (", managed=no" if host.fleet.model_of(gpu).vfio_variant else "")
            + (
                f", pinned within {format_cpuset(sorted(host.job.plan.gpu_cpus))}"
                if host.job.plan and host.job.plan.gpu_cpus
                else ""
            ),
            seen,
            ok,
        )
        if result.active:
            numa.local_row(host, steps, f"{label}: GPU VM {index}", xml, devices)
    if len(servers) == len(host.job.host.gpus):
        _each_gpu_once(host, steps, label, in_guests)
    return servers


def _each_gpu_once(host: HostUnderTest, steps: Steps, label: str, in_guests: list[str]) -> None:
    """The step that the guests hold every GPU of the host exactly once, between them."""
    each_once = sorted(in_guests) == sorted(g.address for g in host.job.host.gpus)
    steps.add(
        f"{label}: each GPU attached once",
        ", ".join(sorted(g.address for g in host.job.host.gpus)),
        ", ".join(sorted(in_guests)),
        each_once,
    )


def _extra_gpu(host: HostUnderTest, steps: Steps, label: str) -> None:
    flavor_id = next(iter(host.gpu_flavor.values()))[0]
    result = host.boot("gpu", flavor_id)
    steps.add(
        f"{label}: one more GPU VM (all GPUs in use)",
        NO_VALID_HOST,
        _outcome(result),
        _refused(result),
    )
    if result.active:
        host.twin.delete(result.server_id)


def boot_menu(host: HostUnderTest, steps: Steps, label: str) -> list[tuple[str, str]]:
    """The menu phase's GPU VMs (`menu_boots`); returns (server id, flavor id) of the ACTIVE."""
    from gpuslice.twin import numa  # numa's steps read this module's guest XML helpers

    servers: list[tuple[str, str]] = []
    in_guests: list[str] = []
    for boot in host.menu:
        result = host.boot("gpu", boot.flavor_id)
        seen = _outcome(result)
        ok = result.active
        if result.active:
            servers.append((result.server_id, boot.flavor_id))
            xml = host.twin.guest_xml(host.name, result.server_id)
            devices = attached(xml)
            guest = guest_size(xml)
            in_guests.extend(devices)
            seen = f"ACTIVE, guest XML: {', '.join(devices) or 'no PCI device'}, "
            seen += f"{guest[0]} vCPU, {guest[1]} MB"
            ok = (
                len(devices) == boot.gpus
                and set(devices) <= boot.addresses
                and guest == (boot.vcpus, boot.ram)
            )
        steps.add(
            f"{label}: {boot.flavor} ({boot.gpus} GPU(s))",
            f"ACTIVE with {boot.gpus} of {', '.join(sorted(boot.addresses))} in the guest XML, "
            f"{boot.vcpus} vCPU, {boot.ram} MB",
            seen,
            ok,
        )
        if result.active:
            numa.local_row(host, steps, f"{label}: {boot.flavor}", xml, devices)
    if len(servers) == len(host.menu):
        _each_gpu_once(host, steps, label, in_guests)
    return servers


def _delete_gpu_then_ordinary(
    host: HostUnderTest, steps: Steps, label: str, gpu_servers: list[tuple[str, str]]
) -> None:
    if not gpu_servers:
        steps.add(
            f"{label}: delete a GPU VM, then boot an ordinary VM",
            NO_VALID_HOST,
            "not run: no GPU VM went ACTIVE",
            False,
        )
        return
    server_id, flavor_id = gpu_servers.pop()
    host.twin.delete(server_id)
    result = host.boot("ordinary", host.ordinary_flavor(SMALLEST))
    steps.add(
        f"{label}: delete a GPU VM, then boot the smallest ordinary VM (1 vCPU, 64 MB)",
        f"{NO_VALID_HOST} (the freed slice stays for GPU VMs)",
        _outcome(result),
        _refused(result),
    )
    # An ordinary VM that got in stays: the GPU VM below then shows what it cost. The same
    # flavor as the deleted VM's: on a mixed host only its model's GPUs are free.
    again = host.boot("gpu", flavor_id)
    steps.add(
        f"{label}: then a GPU VM of the same flavor again", "ACTIVE", _outcome(again), again.active
    )


def _general_limit(job: HostJob, fleet: Fleet) -> tuple[int, int, int] | None:
    if job.plan is None:
        return None
    general = job.plan.general
    ratios = fleet.ratios
    return (
        int(general.vcpus * ratios.cpu),
        int(general.memory_mb * ratios.ram),
        int(general.disk_gb * ratios.disk),
    )


def _fill_rows(host: HostUnderTest, steps: Steps, fleet: Fleet, label: str) -> tuple[int, int, int]:
    booted, refusal = host.fill()
    taken = (
        sum(s[0] for _b, s in booted),
        sum(s[1] for _b, s in booted),
        sum(s[2] for _b, s in booted),
    )
    amounts = f"{taken[0]} vCPU, {taken[1]} MB, {taken[2]} GB"
    if refusal is None:
        seen = f"{len(booted)} VMs ACTIVE ({amounts}), never refused"
    else:
        seen = f"{len(booted)} VMs ACTIVE ({amounts}), then {_outcome(refusal)}"
    steps.add(
        f"{label}: fill with ordinary VMs",
        f"ACTIVE until {NO_VALID_HOST}",
        seen,
        refusal is not None and _refused(refusal),
    )
    limit = _general_limit(host.job, fleet)
    if limit is not None:
        steps.add(
            f"{label}: ordinary VMs stay within the general part",
            f"at most {limit[0]} vCPU, {limit[1]} MB, {limit[2]} GB",
            amounts,
            all(t <= m for t, m in zip(taken, limit, strict=True)),
        )
    return taken


def run_scenario(twin: NovaTwin, steps: Steps, fleet: Fleet, job: HostJob, rp_uuid: str) -> None:
    from gpuslice.twin import numa  # numa's steps read this module's guest XML helpers

    host = HostUnderTest(twin, fleet, job, rp_uuid)
    # A: ordinary VMs first.
    label = "ordinary first"
    taken_a = _fill_rows(host, steps, fleet, label)
    gpu_servers = boot_gpus(host, steps, label)
    _extra_gpu(host, steps, label)
    _delete_gpu_then_ordinary(host, steps, label, gpu_servers)
    host.delete_all()
    # B: GPU VMs first.
    label = "GPU first"
    gpu_servers = boot_gpus(host, steps, label)
    _extra_gpu(host, steps, label)
    _fill_beside_gpus(host, steps, label, taken_a)
    _delete_gpu_then_ordinary(host, steps, label, gpu_servers)
    host.delete_all()
    if host.menu:
        _menu_phases(host, steps, fleet, taken_a)
        numa.contrast_rows(host, steps)


def _menu_phases(
    host: HostUnderTest, steps: Steps, fleet: Fleet, taken_a: tuple[int, int, int]
) -> None:
    """Both orders again with the menu's multi-GPU flavors taking the host's GPUs."""
    label = "menu, ordinary first"
    _fill_rows(host, steps, fleet, label)
    gpu_servers = boot_menu(host, steps, label)
    _extra_gpu(host, steps, label)
    _delete_gpu_then_ordinary(host, steps, label, gpu_servers)
    host.delete_all()
    label = "menu, GPU first"
    gpu_servers = boot_menu(host, steps, label)
    _extra_gpu(host, steps, label)
    _fill_beside_gpus(host, steps, label, taken_a)
    host.delete_all()


def _fill_beside_gpus(
    host: HostUnderTest, steps: Steps, label: str, taken_a: tuple[int, int, int]
) -> None:
    """The step that ordinary VMs beside the GPU VMs take the same general part (`taken_a`:
    vCPU, MB, GB) as on a host with no GPU VM, and then nova refuses the next."""
    booted, refusal = host.fill()
    taken = tuple(sum(s[i] for _b, s in booted) for i in range(3))
    steps.add(
        f"{label}: fill with ordinary VMs",
        f"the same general part as with no GPU VM ({taken_a[0]} vCPU, {taken_a[1]} MB, "
        f"{taken_a[2]} GB), then {NO_VALID_HOST}",
        f"{len(booted)} VMs ({taken[0]} vCPU, {taken[1]} MB, {taken[2]} GB), then "
        + (_outcome(refusal) if refusal is not None else "never refused"),
        taken == taken_a and refusal is not None and _refused(refusal),
    )


def compare_model(
    twin: NovaTwin,
    steps: Steps,
    fleet: Fleet,
    plan: Plan,
    host: HostPlan,
    length: int,
    seed: int,
) -> list[dict[str, object]]:
    """Replay one sequence on nova and on the model; one row, and the per-request list."""
    from gpuslice.twin import compare

    model = fleet.model_of(host.host.gpus[0])
    gpu: Flavor | tuple[Flavor, ...]
    if model.vgpu is not None:
        # a vGPU host: every size of the card model's menu, under their own names
        names = {item.name for item in model.vgpu.flavors}
        gpu = tuple(
            dataclasses.replace(f, name=f"cmp.{f.name}", is_public=True)
            for f in plan.cloud.flavors
            if f.name in names
        )
    else:
        planned = next(f for f in plan.cloud.flavors if f.name == model.flavor)
        gpu = dataclasses.replace(planned, name="cmp.gpu", is_public=True)
    ordinary = compare.ordinary_flavors(host)
    ids = {
        f.name: twin.create_flavor(
            f.name, f.vcpus, f.ram, f.disk, is_public=True, extra_specs=f.extra_specs
        )
        for f in (*ordinary, *((gpu,) if isinstance(gpu, Flavor) else gpu))
    }
    requests, on_model = compare.play_on_model(plan, host, ordinary, gpu, length=length, seed=seed)
    on_nova = compare.replay_on_nova(twin, ids, requests)
    found = compare.agreements(requests, on_nova, on_model)
    agree = sum(a.agrees for a in found)
    first = next((a for a in found if not a.agrees), None)
    boots = sum(r.kind == "boot" for r in requests)
    seen = f"{agree} of {len(found)} agree"
    if first is not None:
        seen += (
            f"; first difference at request {first.request.index} "
            f"({first.request.describe()}): nova {first.nova}, model {first.model}"
        )
    steps.add(
        f"embedded model agrees with nova, request by request ({boots} boots, "
        f"{len(found) - boots} deletes, seed {seed})",
        f"{len(found)} of {len(found)} agree",
        seen,
        first is None,
    )
    return [a.as_dict() for a in found]
