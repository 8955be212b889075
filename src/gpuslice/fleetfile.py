"""Load and validate a fleet file (YAML) into a `Fleet`.

Every error names the file, the line and the field, and says what to do. Unknown keys are errors
with a "did you mean" hint. Paths in the file (lspci captures) are relative to the file.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gpuslice import inputs
from gpuslice.bounds import (
    MAX_GPUS_PER_HOST,
    MAX_NAME,
    Amount,
    AmountOrZero,
    CpuCount,
    CpuReserve,
    NumaNode,
    Ratio,
)
from gpuslice.cpuset import parse_cpuset
from gpuslice.errors import InputError
from gpuslice.fleet import (
    STRATEGIES,
    AllocationRatios,
    CpuMode,
    FlavorPolicy,
    Fleet,
    GpuFlavor,
    GpuModel,
    Host,
    HostReserve,
    SliceSpec,
    StrategyName,
    VgpuFlavor,
    VgpuSpec,
    model_device_type,
)
from gpuslice.inventory.device import GpuDevice
from gpuslice.releases import parse_release
from gpuslice.yamlpos import LocatedYaml, load_located_yaml

_HEX4 = r"^[0-9a-fA-F]{4}$"
_PCI_ADDRESS = re.compile(
    r"^(?:(?P<domain>[0-9a-fA-F]{4,8}):)?(?P<bus>[0-9a-fA-F]{2}):"
    r"(?P<dev>[0-9a-fA-F]{2})\.(?P<fn>[0-7])$"
)
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
# An mdev type's directory name under mdev_supported_types (nvidia-592, i915-GVTg_V5_4).
_MDEV_TYPE = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
NovaDeviceType = Literal["type-PCI", "type-PF", "type-VF"]
Positive = Amount
NonNegative = AmountOrZero
Name = Annotated[str, Field(pattern=_NAME, max_length=MAX_NAME)]
# PCIe allows more, but no GPU offers more virtual functions than this.
MAX_VFS_PER_GPU = 256
Text = Annotated[str, Field(max_length=4096)]


class _Strict(BaseModel):
    # strict: `true` is no number and "24" no count; bounds (gpuslice.bounds) as nova's.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SliceIn(_Strict):
    vcpus: CpuCount
    memory_mb: Positive
    disk_gb: NonNegative = 0


class ReserveIn(_Strict):
    memory_mb: NonNegative = 512
    disk_mb: NonNegative = 0
    cpus: CpuReserve = 0


class RatiosIn(_Strict):
    cpu: Ratio = 1.0
    ram: Ratio = 1.0
    disk: Ratio = 1.0


class FlavorIn(_Strict):
    name: Name = "g1.gpu"
    is_public: bool = False
    projects: list[Annotated[str, Field(min_length=1, max_length=MAX_NAME)]] = []


class GpuFlavorIn(_Strict):
    name: Name
    gpus: Annotated[int, Field(gt=0, le=MAX_GPUS_PER_HOST)] | None = None
    vgpus: Positive | None = None
    vcpus: CpuCount | None = None
    memory_mb: Positive | None = None
    disk_gb: NonNegative | None = None


class GpuModelIn(_Strict):
    vendor_id: Annotated[str, Field(pattern=_HEX4)]
    product_id: Annotated[str, Field(pattern=_HEX4)]
    alias: Name
    flavor: Name | None = None
    flavors: list[GpuFlavorIn] | None = None
    name: Text | None = None
    slice: SliceIn | None = None
    device_type: NovaDeviceType | None = None
    mode: Literal["passthrough", "vgpu"] = "passthrough"
    mdev_type: Annotated[str, Field(pattern=_MDEV_TYPE, max_length=MAX_NAME)] | None = None
    vgpus_per_gpu: Positive | None = None
    vgpu_on: Literal["card", "vfs"] | None = None
    vfio_variant: bool = False


class GpuIn(_Strict):
    address: Text
    vendor_id: Annotated[str, Field(pattern=_HEX4)]
    product_id: Annotated[str, Field(pattern=_HEX4)]
    numa_node: NumaNode | None = None
    name: Text | None = None
    device_type: NovaDeviceType | None = None
    vfs: list[Text] = Field(default=[], max_length=MAX_VFS_PER_GPU)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return normalise_pci_address(value)

    @field_validator("vfs")
    @classmethod
    def _vf_addresses(cls, value: list[str]) -> list[str]:
        return [normalise_pci_address(v) for v in value]


class HostIn(_Strict):
    name: Name
    cpus: CpuCount | Text
    memory_mb: Positive
    disk_gb: Positive
    numa: dict[NumaNode, Text] | None = None
    lspci: Text | None = None
    gpus: list[GpuIn] = Field(default=[], max_length=MAX_GPUS_PER_HOST)
    gpu_service_host: Name | None = None
    hypervisor_hostname: Name | None = None


class FleetIn(_Strict):
    release: Annotated[str, Field(max_length=64)] | int | float
    strategy: Annotated[str, Field(max_length=64)] = "auto"
    slice: SliceIn
    host_reserve: ReserveIn = ReserveIn()
    allocation_ratios: RatiosIn = RatiosIn()
    cpu_mode: Annotated[str, Field(max_length=64)] = "accounted"
    aggregate: Name = "gpu"
    flavor: FlavorIn = FlavorIn()
    pci_in_placement: bool = False
    unified_limits: bool = False
    vgpu_slices: Literal["per_card", "pooled"] = "per_card"
    gpu_models: list[GpuModelIn] = []
    controllers: list[Name] = Field(min_length=1)
    hosts: list[HostIn] = Field(min_length=1)


def normalise_pci_address(value: str) -> str:
    """Write a PCI address with its domain and lower case (`86:00.0` -> `0000:86:00.0`)."""
    match = _PCI_ADDRESS.match(value.strip())
    if match is None:
        msg = f"{value!r} is not a PCI address; write it as 0000:86:00.0 (domain optional)"
        raise ValueError(msg)
    domain = (match["domain"] or "0000").lower().rjust(4, "0")
    return f"{domain}:{match['bus'].lower()}:{match['dev'].lower()}.{match['fn']}"


def load_fleet(path: str | Path) -> Fleet:
    """Read the fleet file at `path`; every problem is an `InputError` naming file and line."""
    file = Path(path)
    text = inputs.read_text(file, inputs.FLEET)
    return parse_fleet(text, source=str(file), base_dir=file.parent)


def parse_fleet(text: str, *, source: str, base_dir: Path) -> Fleet:
    """Parse fleet YAML `text`; lspci paths are resolved against `base_dir`."""
    located = load_located_yaml(text, source)
    if not isinstance(located.data, dict):
        raise InputError("a fleet file is a YAML mapping (release:, hosts:, ...)", source=source)
    try:
        raw = FleetIn.model_validate(located.data)
    except ValidationError as error:
        raise _explain(error, located) from None
    return _build(raw, located, base_dir)


def _explain(error: ValidationError, located: LocatedYaml) -> InputError:
    errors = error.errors()
    # A misspelt key also shows as a missing one; the misspelling is what the user must fix.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(first["loc"])
    if first["type"] == "extra_forbidden":
        known = _known_fields(loc[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
        advice = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(known)}"
        return located.error(loc, f"unknown key{advice}")
    message = first["msg"]
    if first["type"] == "missing":
        message = "this key is required"
    return located.error(loc, message)


def _known_fields(parent: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = FleetIn
    for part in parent:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[str(part)].annotation
        nested = _model_in(annotation)
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _build(raw: FleetIn, located: LocatedYaml, base_dir: Path) -> Fleet:
    source = located.source
    release = parse_release(raw.release, source=source, line=located.line_of(("release",)))
    strategy = _strategy(raw.strategy, located)
    cpu_mode = _cpu_mode(raw.cpu_mode, located)
    default_slice = SliceSpec(raw.slice.vcpus, raw.slice.memory_mb, raw.slice.disk_gb)
    hosts = tuple(_host(index, host, located, base_dir) for index, host in enumerate(raw.hosts))
    _check_names(hosts, tuple(raw.controllers), located)
    models = _models(raw, default_slice, hosts, located)
    models = _with_device_types(models, hosts, located, listed=len(raw.gpu_models))
    _check_vfs(raw, models, hosts, located)
    _check_vfio_variant(models, located)
    return Fleet(
        release=release,
        strategy=strategy,
        models=models,
        hosts=hosts,
        controllers=tuple(raw.controllers),
        host_reserve=HostReserve(
            raw.host_reserve.memory_mb, raw.host_reserve.disk_mb, raw.host_reserve.cpus
        ),
        ratios=AllocationRatios(
            raw.allocation_ratios.cpu, raw.allocation_ratios.ram, raw.allocation_ratios.disk
        ),
        ratios_stated="allocation_ratios" in raw.model_fields_set,
        cpu_mode=cpu_mode,
        aggregate=raw.aggregate,
        flavors=FlavorPolicy(raw.flavor.is_public, tuple(raw.flavor.projects)),
        pci_in_placement=raw.pci_in_placement,
        unified_limits=raw.unified_limits,
        vgpu_slices=raw.vgpu_slices,
        source=source,
    )


def _strategy(value: str, located: LocatedYaml) -> StrategyName:
    for name in STRATEGIES:
        if value == name:
            return name
    hint = difflib.get_close_matches(value, STRATEGIES, n=1)
    advice = f"did you mean {hint[0]!r}? " if hint else ""
    msg = f"unknown strategy {value!r}; {advice}choose one of {', '.join(STRATEGIES)}"
    raise located.error(("strategy",), msg)


def _cpu_mode(value: str, located: LocatedYaml) -> CpuMode:
    if value == "accounted":
        return "accounted"
    if value == "dedicated":
        return "dedicated"
    msg = (
        f"unknown cpu_mode {value!r}; use accounted (reserved_host_cpus: GPU VMs float over "
        "all CPUs) or dedicated (cpu_dedicated_set: GPU VMs pinned to NUMA-local CPUs)"
    )
    raise located.error(("cpu_mode",), msg)


def _host(index: int, raw: HostIn, located: LocatedYaml, base_dir: Path) -> Host:
    where = ("hosts", index)
    if isinstance(raw.cpus, int):
        cpus = tuple(range(raw.cpus))
    else:
        cpus = parse_cpuset(
            raw.cpus, source=_at(located, (*where, "cpus")), field=f"hosts.{index}.cpus"
        )
    cpu_numa = _numa(index, raw, cpus, located)
    gpus = [
        GpuDevice(
            address=g.address,
            vendor_id=g.vendor_id.lower(),
            product_id=g.product_id.lower(),
            device=g.name,
            numa_node=g.numa_node,
            device_type=g.device_type,
        )
        for g in raw.gpus
    ]
    companions: tuple[GpuDevice, ...] = ()
    if raw.lspci is not None:
        found, companions = _gpus_from_lspci(base_dir / raw.lspci, located, (*where, "lspci"))
        gpus.extend(found)
    seen: set[str] = set()
    for gpu in gpus:
        if gpu.address in seen:
            msg = (
                f"GPU {gpu.address} is listed twice (in gpus: and/or the lspci capture); "
                "list each GPU once"
            )
            raise located.error((*where, "gpus"), msg)
        seen.add(gpu.address)
    gpu_vfs = _vfs(index, raw, seen, located)
    return Host(
        name=raw.name,
        cpus=cpus,
        memory_mb=raw.memory_mb,
        disk_gb=raw.disk_gb,
        gpus=tuple(sorted(gpus, key=lambda g: g.address)),
        companions=companions,
        gpu_service_host=raw.gpu_service_host,
        cpu_numa=cpu_numa,
        hypervisor_hostname=raw.hypervisor_hostname,
        gpu_vfs=gpu_vfs,
    )


def _vfs(
    index: int, raw: HostIn, gpu_addresses: set[str], located: LocatedYaml
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The `vfs:` each listed GPU names, by GPU address.

    Rules: a virtual function is listed once on the host, and is not itself one of its GPUs.
    """
    seen: dict[str, str] = {}
    out: list[tuple[str, tuple[str, ...]]] = []
    for position, gpu in enumerate(raw.gpus):
        for vf in gpu.vfs:
            where = ("hosts", index, "gpus", position, "vfs")
            if vf in gpu_addresses:
                msg = (
                    f"{vf} is listed as a GPU and as a virtual function of {gpu.address}; "
                    "list the card under gpus: and its virtual functions under its vfs:"
                )
                raise located.error(where, msg)
            if vf in seen:
                msg = f"virtual function {vf} is listed twice (under {seen[vf]} and {gpu.address})"
                raise located.error(where, msg)
            seen[vf] = gpu.address
        if gpu.vfs:
            out.append((gpu.address, tuple(gpu.vfs)))
    return tuple(out)


def _at(located: LocatedYaml, path: tuple[str | int, ...]) -> str:
    line = located.line_of(path)
    return f"{located.source}:{line}" if line else located.source


def _numa(
    index: int, raw: HostIn, cpus: tuple[int, ...], located: LocatedYaml
) -> tuple[tuple[int, tuple[int, ...]], ...]:
    if not raw.numa:
        return ()
    where = ("hosts", index, "numa")
    nodes = tuple(
        (node, parse_cpuset(text, source=_at(located, where), field=f"hosts.{index}.numa.{node}"))
        for node, text in sorted(raw.numa.items())
    )
    listed = sorted(cpu for _, ids in nodes for cpu in ids)
    if listed != sorted(cpus):
        msg = "the NUMA nodes' CPUs must be exactly the host's CPUs, each once"
        raise located.error(where, msg)
    return nodes


def _gpus_from_lspci(
    path: Path, located: LocatedYaml, where: tuple[str | int, ...]
) -> tuple[list[GpuDevice], tuple[GpuDevice, ...]]:
    from gpuslice.inventory import discover_from_lspci

    try:
        # A path written in a file: regular files only, so it cannot name a device or a FIFO.
        text = inputs.read_text(path, inputs.CAPTURE, regular_only=True)
    except InputError as error:
        msg = f"lspci capture {str(path)!r}: {error.detail}; paths are relative to the fleet file"
        raise located.error(where, msg) from None
    field = ".".join(map(str, where))
    named = f"the capture {field} names at {located.source}:{located.line_of(where)}"
    try:
        discovery = discover_from_lspci(text, str(path))
    except InputError as error:
        msg = f"{error.detail} ({named})"
        raise InputError(msg, source=error.source, line=error.line, field=error.field) from None
    for gpu in discovery.gpus:
        if gpu.vendor_id is None or gpu.product_id is None:
            msg = (
                "the capture has no vendor/product ids (plain lspci); capture it with "
                f"`lspci -nn` or list the GPUs under gpus: ({named})"
            )
            raise InputError(msg, source=str(path))
    return list(discovery.gpus), tuple(c.device for c in discovery.companions)


def _check_names(
    hosts: tuple[Host, ...], controllers: tuple[str, ...], located: LocatedYaml
) -> None:
    """Every node and GPU service has a name of its own, compared as DNS does (case-insensitive).

    Rules: a host is listed once and is not also a controller (nova would count one service
    for two machines); hypervisor hostnames (default: the name) are unique; a
    `gpu_service_host` is no other node's name nor another GPU service's.
    """
    names: dict[str, str] = {}
    for name in controllers:
        names[name.casefold()] = "controller"
    for index, host in enumerate(hosts):
        seen = names.get(host.name.casefold())
        if seen is not None:
            what = "listed twice" if seen == "host" else f"also the name of a {seen}"
            raise located.error(
                ("hosts", index, "name"),
                f"host {host.name!r} is {what}; every node needs a name of its own "
                "(a host named like a controller would share its nova service records)",
            )
        names[host.name.casefold()] = "host"
    hypervisors: dict[str, str] = {}
    for index, host in enumerate(hosts):
        # Placement names each compute node's root provider after it; names are unique there.
        other = hypervisors.get(host.hypervisor.casefold())
        if other is not None:
            raise InputError(
                f"hypervisor_hostname {host.hypervisor!r} is also host {other}'s; nova names each "
                "host's resource providers after it, and Placement refuses a second",
                source=located.source,
                line=located.line_of(("hosts", index)),
                field=f"hosts.{index}.hypervisor_hostname",
            )
        hypervisors[host.hypervisor.casefold()] = host.name
    for index, host in enumerate(hosts):
        alias = host.gpu_service_host
        if alias is None:
            continue
        seen = names.get(alias.casefold())
        if seen is not None:
            msg = (
                f"gpu_service_host {alias!r} is already the name of a {seen}; "
                "the GPU service needs a name of its own"
            )
            raise located.error(("hosts", index, "gpu_service_host"), msg)
        names[alias.casefold()] = "GPU service"


def _models(
    raw: FleetIn, default_slice: SliceSpec, hosts: tuple[Host, ...], located: LocatedYaml
) -> tuple[GpuModel, ...]:
    models: list[GpuModel] = []
    for index, m in enumerate(raw.gpu_models):
        spec = m.slice or raw.slice
        per_gpu = SliceSpec(spec.vcpus, spec.memory_mb, spec.disk_gb)
        default = raw.flavor.name if index == 0 else f"{raw.flavor.name}.{m.alias}"
        vgpu = _vgpu_spec(index, m, m.flavor or default, per_gpu.disk_gb, located)
        menu = () if vgpu is not None else _menu(index, m, per_gpu, located)
        vgpu_first = vgpu.flavors[0].name if vgpu is not None else None
        model = GpuModel(
            alias=m.alias,
            vendor_id=m.vendor_id.lower(),
            product_id=m.product_id.lower(),
            slice=per_gpu,
            flavor=vgpu_first or (menu[0].name if menu else (m.flavor or default)),
            name=m.name,
            device_type=m.device_type,
            flavors=menu,
            vgpu=vgpu,
            vfio_variant=m.vfio_variant,
        )
        for earlier in models:
            clash = (earlier.vendor_product == model.vendor_product and "vendor:product") or (
                earlier.alias == model.alias and "alias"
            )
            if clash:
                advice = (
                    "; list several flavors under one model's flavors: instead "
                    "(for example {name: g2.a100, gpus: 2})"
                    if clash == "vendor:product"
                    else ""
                )
                raise located.error(
                    ("gpu_models", index), f"two GPU models share a {clash}{advice}"
                )
            shared = _flavor_names(earlier) & _flavor_names(model)
            if shared:
                raise located.error(
                    ("gpu_models", index),
                    f"flavor {sorted(shared)[0]!r} is on the menu of two GPU models; "
                    "give each flavor its own name",
                )
        models.append(model)
    known = {m.vendor_product for m in models}
    for host in hosts:
        for gpu in host.gpus:
            key = f"{gpu.vendor_id}:{gpu.product_id}"
            if key in known:
                continue
            if raw.gpu_models:
                msg = (
                    f"host {host.name}: GPU {gpu.address} ({key}) matches no entry of "
                    "gpu_models; add one for it"
                )
                raise located.error(("gpu_models",), msg)
            first = not models
            models.append(
                GpuModel(
                    alias="gpu" if first else f"gpu-{gpu.product_id}",
                    vendor_id=gpu.vendor_id or "",
                    product_id=gpu.product_id or "",
                    slice=default_slice,
                    flavor=raw.flavor.name if first else f"{raw.flavor.name}-{gpu.product_id}",
                    name=gpu.device,
                )
            )
            known.add(key)
    _check_menus_fit(models, hosts, located)
    return tuple(models)


def _with_device_types(
    models: tuple[GpuModel, ...], hosts: tuple[Host, ...], located: LocatedYaml, listed: int
) -> tuple[GpuModel, ...]:
    """Each model with the device type nova gives its GPUs (`model_device_type`'s rule).

    The first `listed` models are the file's gpu_models (errors point at them); the rest were
    made from the hosts' GPUs (errors point at hosts:).
    """
    out: list[GpuModel] = []
    for index, model in enumerate(models):
        gpus = [
            (host.name, gpu)
            for host in hosts
            for gpu in host.gpus
            if (gpu.vendor_id, gpu.product_id) == (model.vendor_id, model.product_id)
        ]
        try:
            device_type = model_device_type(model.device_type, gpus)
        except ValueError as error:
            where: tuple[str | int, ...] = (
                ("gpu_models", index, "device_type") if index < listed else ("hosts",)
            )
            raise located.error(
                where, f"GPU model {model.alias} ({model.vendor_product}): {error}"
            ) from None
        out.append(replace(model, device_type=device_type))
    return tuple(out)


def _menu(
    index: int, raw: GpuModelIn, per_gpu: SliceSpec, located: LocatedYaml
) -> tuple[GpuFlavor, ...]:
    """The model's listed flavors, fewest GPUs first; each amount at most `gpus` slices.

    `flavor:` and `flavors:` on one model are refused (say the menu once); flavor names and
    GPU counts are each listed once.
    """
    where = ("gpu_models", index)
    if raw.flavors is None:
        return ()
    if raw.flavor is not None:
        raise located.error(
            (*where, "flavor"),
            "give either flavor: (one 1-GPU flavor) or flavors: (the menu), not both",
        )
    if not raw.flavors:
        raise located.error(
            (*where, "flavors"),
            "flavors: is empty; list at least one, such as {name: g1.gpu, gpus: 1}",
        )
    menu: list[GpuFlavor] = []
    for position, f in enumerate(raw.flavors):
        at = (*where, "flavors", position)
        field = f"gpu_models.{index}.flavors.{position}"
        if f.vgpus is not None:
            raise located.error(
                (*at, "vgpus"),
                "vgpus: is for a model in mode: vgpu; a passthrough flavor asks for gpus:",
            )
        gpus = f.gpus or 1
        flavor = GpuFlavor(f.name, gpus, f.vcpus, f.memory_mb, f.disk_gb)
        most = SliceSpec(gpus * per_gpu.vcpus, gpus * per_gpu.memory_mb, gpus * per_gpu.disk_gb)
        for key, asked, limit in (
            ("vcpus", f.vcpus, most.vcpus),
            ("memory_mb", f.memory_mb, most.memory_mb),
            ("disk_gb", f.disk_gb, most.disk_gb),
        ):
            if asked is not None and asked > limit:
                msg = (
                    f"flavor {f.name} asks {key} {asked}, more than its {gpus} slice(s) hold "
                    f"({limit}); a GPU VM takes at most its GPUs' slices, or another GPU of the "
                    "host would find its slice short. Lower it or raise the model's slice"
                )
                raise InputError(
                    msg, source=located.source, line=located.line_of((*at, key)), field=field
                )
        for earlier in menu:
            clash = (earlier.name == flavor.name and "name") or (
                earlier.gpus == flavor.gpus and "GPU count"
            )
            if clash:
                raise located.error(
                    at, f"two flavors of this model share a {clash}; list each once"
                )
        menu.append(flavor)
    return tuple(sorted(menu, key=lambda f: f.gpus))


def _check_menus_fit(models: list[GpuModel], hosts: tuple[Host, ...], located: LocatedYaml) -> None:
    """Every flavor of a model present in the fleet fits on some host: no flavor that never boots.

    A k-GPU flavor needs one host with at least k GPUs of its model.
    """
    for index, model in enumerate(models):
        ids = (model.vendor_id, model.product_id)
        most = max(
            (sum(1 for g in h.gpus if (g.vendor_id, g.product_id) == ids) for h in hosts),
            default=0,
        )
        if most == 0:
            continue
        for flavor in model.menu:
            if flavor.gpus > most:
                msg = (
                    f"flavor {flavor.name} asks {flavor.gpus} {model.alias} GPUs, but no host has "
                    f"more than {most}: it could never boot. Drop it or add a host with "
                    f"{flavor.gpus}"
                )
                raise located.error(("gpu_models", index, "flavors"), msg)


def _flavor_names(model: GpuModel) -> set[str]:
    """Every flavor name on a model's menu, passthrough or vGPU."""
    if model.vgpu is not None:
        return {f.name for f in model.vgpu.flavors}
    return {f.name for f in model.menu}


def _vgpu_spec(
    index: int, raw: GpuModelIn, default: str, disk_gb: int, located: LocatedYaml
) -> VgpuSpec | None:
    """The model's vGPU cut when it is in `mode: vgpu`, else None (and no vGPU keys allowed).

    Rules: a vGPU model names its `mdev_type` and `vgpus_per_gpu`; each flavor asks `vgpus`
    (1 to vgpus_per_gpu; a VM's vGPUs come from one card) and nothing else: its size is always
    vgpus x the per-vGPU slice, so no flavor strands part of a card's slice. Without flavors:
    one 1-vGPU flavor named `flavor:` (or the default). Names and vGPU counts are listed once.
    The per-vGPU slice has disk (`card_inventory` in gpuslice.plan.vgpu says why).
    """
    where = ("gpu_models", index)
    if raw.mode == "passthrough":
        for key in ("mdev_type", "vgpus_per_gpu", "vgpu_on"):
            if getattr(raw, key) is not None:
                raise located.error(
                    (*where, key),
                    f"{key} is for a model in mode: vgpu; add mode: vgpu or remove {key}",
                )
        return None
    for key in ("mdev_type", "vgpus_per_gpu"):
        if getattr(raw, key) is None:
            example = "nvidia-592" if key == "mdev_type" else "4"
            raise InputError(
                f"a model in mode: vgpu needs {key} (for example {key}: {example}); "
                "`gpuslice discover --sysfs /` lists the types each GPU offers",
                source=located.source,
                line=located.line_of(where),
                field=f"gpu_models.{index}.{key}",
            )
    assert raw.mdev_type is not None
    assert raw.vgpus_per_gpu is not None
    if disk_gb < 1:
        raise InputError(
            "a vGPU slice needs disk_gb of at least 1: it is the part a vGPU VM takes from the "
            "host's root provider, and nova's scheduler skips a host whose root provider would "
            "give a request nothing",
            source=located.source,
            line=located.line_of((*where, "slice") if raw.slice else ("slice",)),
            field=f"gpu_models.{index}.slice.disk_gb" if raw.slice else "slice.disk_gb",
        )
    per_gpu = raw.vgpus_per_gpu
    if raw.flavors is not None and raw.flavor is not None:
        raise located.error(
            (*where, "flavor"),
            "give either flavor: (one 1-vGPU flavor) or flavors: (the menu), not both",
        )
    on = raw.vgpu_on or "card"
    if raw.flavors is None:
        return VgpuSpec(raw.mdev_type, per_gpu, (VgpuFlavor(raw.flavor or default, 1),), on)
    if not raw.flavors:
        raise located.error(
            (*where, "flavors"),
            "flavors: is empty; list at least one, such as {name: v1.a10, vgpus: 1}",
        )
    menu: list[VgpuFlavor] = []
    for position, f in enumerate(raw.flavors):
        at = (*where, "flavors", position)
        wrong = next(
            (k for k in ("gpus", "vcpus", "memory_mb", "disk_gb") if getattr(f, k) is not None),
            None,
        )
        if wrong is not None:
            raise located.error(
                (*at, wrong),
                f"a vGPU flavor asks vgpus: only, not {wrong}; its size is vgpus x the "
                "model's per-vGPU slice (so vGPUs and slice leave a card together)",
            )
        vgpus = f.vgpus or 1
        if vgpus > per_gpu:
            raise located.error(
                (*at, "vgpus"),
                f"flavor {f.name} asks {vgpus} vGPUs but a card offers {per_gpu} "
                f"(vgpus_per_gpu); nova takes one VM's vGPUs from one card, so it could never "
                "boot. Lower vgpus",
            )
        for earlier in menu:
            clash = (earlier.name == f.name and "name") or (earlier.vgpus == vgpus and "vGPU count")
            if clash:
                raise located.error(
                    at, f"two flavors of this model share a {clash}; list each once"
                )
        menu.append(VgpuFlavor(f.name, vgpus))
    return VgpuSpec(raw.mdev_type, per_gpu, tuple(sorted(menu, key=lambda f: f.vgpus)), on)


def _check_vfio_variant(models: tuple[GpuModel, ...], located: LocatedYaml) -> None:
    """`vfio_variant: true` is for a passthrough model whose GPUs are virtual functions.

    Rules: the model passes its functions through (no `mode: vgpu`: the VFs carry their vGPU
    type already, set through the vendor's sysfs, not mdev); nova sees them as type-VF.
    """
    for index, model in enumerate(models):
        if not model.vfio_variant:
            continue
        where = ("gpu_models", index, "vfio_variant")
        if model.vgpu is not None:
            msg = (
                "vfio_variant: true is for virtual functions passed through whole (each VF "
                "already one vGPU, its type set through the vendor's sysfs); a model in mode: "
                "vgpu is cut into mdevs. Remove one of them"
            )
            raise located.error(where, msg)
        if model.device_type != "type-VF":
            msg = (
                f"vfio_variant: true is for virtual functions, but {model.alias}'s GPUs are "
                f"{model.device_type or 'of unknown type'}; list the VFs under gpus: and set "
                "device_type: type-VF"
            )
            raise located.error(where, msg)


def _check_vfs(
    raw: FleetIn, models: tuple[GpuModel, ...], hosts: tuple[Host, ...], located: LocatedYaml
) -> None:
    """The virtual functions of SR-IOV vGPU cards (`vgpu_on: vfs`) are listed, enough of them.

    Rules: every card of such a model is listed under its host's gpus: with `vfs:` naming at
    least `vgpus_per_gpu` virtual functions (each holds one vGPU; the first vgpus_per_gpu are
    used); `vfs:` is only for such cards.
    """
    by_ids = {(m.vendor_id, m.product_id): m for m in models}
    for h, host in enumerate(raw.hosts):
        for g, gpu in enumerate(host.gpus):
            model = by_ids.get((gpu.vendor_id.lower(), gpu.product_id.lower()))
            on_vfs = model is not None and model.vgpu is not None and model.vgpu.on == "vfs"
            where = ("hosts", h, "gpus", g)
            if gpu.vfs and not on_vfs:
                msg = (
                    f"vfs: is for a card whose model has mode: vgpu and vgpu_on: vfs; "
                    f"{gpu.address} is not one. Remove vfs: or set vgpu_on: vfs on its model"
                )
                raise located.error((*where, "vfs"), msg)
            if on_vfs and model is not None and model.vgpu is not None:
                need = model.vgpu.vgpus_per_gpu
                if len(gpu.vfs) < need:
                    msg = (
                        f"GPU {gpu.address} ({model.alias}, vgpu_on: vfs) lists "
                        f"{len(gpu.vfs)} virtual functions under vfs: but holds "
                        f"{need} vGPUs (vgpus_per_gpu), one per virtual function. List at "
                        "least that many (`gpuslice discover --sysfs / --json` shows them "
                        "under mdev, with this card under gpu)"
                    )
                    raise located.error((*where, "vfs") if gpu.vfs else where, msg)
    for h, built in enumerate(hosts):
        for card in built.gpus:
            model = by_ids[(card.vendor_id or "", card.product_id or "")]
            if model.vgpu is not None and model.vgpu.on == "vfs" and not built.vfs_of(card):
                msg = (
                    f"GPU {card.address} ({model.alias}, vgpu_on: vfs) is only in the lspci "
                    "capture, so its virtual functions are unknown; list it under gpus: with "
                    "vfs:"
                )
                raise located.error(("hosts", h, "lspci"), msg)
