"""Trace readers: the generic CSV and the Alibaba GPU cluster trace (openb).

Parsing is pure (text in, records out); reading a file is a thin function at the edge. A bad
row is an InputError naming the file and line.

Generic CSV (a header line, then one VM per line; `#` lines and blank lines are skipped):
    create_time,delete_time,vcpus,memory_mb,disk_gb,gpus
times in seconds (floats allowed), `delete_time` empty for a VM that is never deleted and
not before `create_time`; sizes whole numbers >= 0; `gpus` > 0 makes a GPU VM.

Alibaba openb (github.com/alibaba/clusterdata, cluster-trace-gpu-v2023):
- nodes (`sn,cpu_milli,memory_mib,gpu,model`) become hypervisors: vCPUs = cpu_milli / 1000
  (rounded down), RAM = memory_mib, `gpu` passthrough GPUs of one alias (the trace asks for no
  GPU model: `gpu_spec` is empty), disk a fixed `disk_gb` per node (the trace has none);
- pods (`name,cpu_milli,memory_mib,num_gpu,gpu_milli,...,creation_time,deletion_time,...`)
  become VMs created at `creation_time` and deleted at `deletion_time` (seconds), whatever
  their final phase (a failed or pending pod was still a request);
- a pod list without times (`multigpu20` has only `name,cpu_milli,memory_mib,num_gpu,
  gpu_milli`) is read in file order, one pod a second from 0, none ever leaving: the papers
  replay these lists without times (see `sim.inflate`);
- a pod without GPUs is an ordinary VM of ceil(cpu_milli / 1000) vCPUs and memory_mib MiB;
- a pod with GPUs becomes a GPU VM of `num_gpu` whole GPUs; a fractional pod (num_gpu 1,
  gpu_milli < 1000) also takes one whole GPU, since PCI passthrough cannot share a card. Its
  size is the plan's k-GPU flavor of its model (k slices unless the menu lowers them), not the
  pod's CPU and memory;
- a pod's `gpu_spec` (`T4`, `V100M16|V100M32`: any of these) names its GPU model; the alias is
  the name in lower case without other characters (`v100m16`). `resolve_models` picks, per pod,
  the first listed model the fleet has; a pod without one (empty spec) asks the fleet's first
  model. With `per_model`, the node list's models become GPU models of their own (alias as
  above) with 1, 2, 4 and 8-GPU flavors up to the most GPUs a node has.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

from gpuslice import inputs
from gpuslice.bounds import MAX_CPUS, MAX_GPUS_PER_HOST, MAX_INT, MAX_SECONDS
from gpuslice.errors import InputError
from gpuslice.fleet import Fleet, GpuFlavor, GpuModel, Host, SliceSpec
from gpuslice.inputs import quote
from gpuslice.inventory.device import GpuDevice
from gpuslice.releases import Release
from gpuslice.sim.workload import VmRequest, Workload

GENERIC_COLUMNS = ("create_time", "delete_time", "vcpus", "memory_mb", "disk_gb", "gpus")
ALIBABA_NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
ALIBABA_POD_COLUMNS = ("cpu_milli", "memory_mib", "num_gpu", "gpu_milli")
ALIBABA_POD_TIMES = ("creation_time", "deletion_time")


_NODE_NAME = re.compile(r"[A-Za-z0-9._-]{1,255}")
MAX_LINE = 65_536  # characters in one trace line


def _rows(text: str, source: str, needed: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """The data rows with their line numbers; the header must name every `needed` column.

    Rules: every record is one line of at most MAX_LINE characters (a quoted field may not span
    lines), the header names each column once, and every row has as many fields as the header.
    """
    kept = [
        (i + 1, line)
        for i, line in enumerate(text.splitlines())
        if line.strip() and not line.startswith("#")
    ]
    if not kept:
        raise InputError("the file is empty; it needs a header line", source=source)
    header_line, header = kept[0]
    names = [h.strip() for h in _fields(header, source, header_line)]
    twice = sorted({n for n in names if names.count(n) > 1}) if len(set(names)) < len(names) else []
    if twice:
        msg = f"the header names column(s) {', '.join(map(repr, twice))} more than once"
        raise InputError(msg, source=source, line=header_line)
    missing = [c for c in needed if c not in names]
    if missing:
        msg = f"header lacks column(s) {', '.join(missing)}; it needs {','.join(needed)}"
        raise InputError(msg, source=source, line=header_line)
    out: list[tuple[int, dict[str, str]]] = []
    for number, line in kept[1:]:
        values = _fields(line, source, number)
        if len(values) != len(names):
            msg = f"{len(values)} fields, the header has {len(names)}"
            raise InputError(msg, source=source, line=number)
        out.append((number, dict(zip(names, (v.strip() for v in values), strict=True))))
    return out


def _fields(line: str, source: str, number: int) -> list[str]:
    """One CSV record on one line (see `_rows` for the rules)."""
    if len(line) > MAX_LINE:
        msg = f"the line is {len(line):,} characters; a trace line holds at most {MAX_LINE:,}"
        raise InputError(msg, source=source, line=number)
    try:
        return next(csv.reader([line], strict=True))
    except csv.Error as error:
        msg = f"not a CSV record ({error}); a quoted field must end on its own line"
        raise InputError(msg, source=source, line=number) from None


def _number(row: dict[str, str], key: str, source: str, line: int, high: float = MAX_INT) -> float:
    """`row[key]` as a finite number from 0 to `high` (sizes: MAX_INT; times: MAX_SECONDS)."""
    value = row.get(key, "")
    try:
        number = float(value)
    except ValueError:
        raise InputError(
            f"{quote(value)} is not a number", source=source, line=line, field=key
        ) from None
    if not math.isfinite(number) or number < 0:
        raise InputError(f"{quote(value)} must be 0 or more", source=source, line=line, field=key)
    if number > high:
        msg = f"{quote(value)} is more than {high:,.0f}, the most gpuslice reads here"
        raise InputError(msg, source=source, line=line, field=key)
    return number


def _time(row: dict[str, str], key: str, source: str, line: int) -> float:
    return _number(row, key, source, line, MAX_SECONDS)


def _whole(row: dict[str, str], key: str, source: str, line: int, high: float = MAX_INT) -> int:
    number = _number(row, key, source, line, high)
    if number != int(number):
        msg = f"{quote(row[key])} is not a whole number"
        raise InputError(msg, source=source, line=line, field=key)
    return int(number)


def parse_generic(text: str, *, source: str = "<trace>") -> Workload:
    """Read the generic CSV (see the module docstring) into a workload sorted by creation."""
    requests: list[VmRequest] = []
    for line, row in _rows(text, source, GENERIC_COLUMNS):
        created = _time(row, "create_time", source, line)
        deleted: float | None = None
        if row["delete_time"]:
            deleted = _time(row, "delete_time", source, line)
            if deleted < created:
                msg = f"delete_time {row['delete_time']} is before create_time {row['create_time']}"
                raise InputError(msg, source=source, line=line, field="delete_time")
        requests.append(
            VmRequest(
                arrival=created,
                lifetime=None if deleted is None else deleted - created,
                vcpus=_whole(row, "vcpus", source, line),
                memory_mb=_whole(row, "memory_mb", source, line),
                disk_gb=_whole(row, "disk_gb", source, line),
                gpus=_whole(row, "gpus", source, line, MAX_GPUS_PER_HOST),
            )
        )
    requests.sort(key=lambda r: r.arrival)
    return Workload(tuple(requests), source, (f"generic CSV {source}: {len(requests)} VMs",))


@dataclass(frozen=True)
class AlibabaNode:
    """One node of the Alibaba trace."""

    name: str
    vcpus: int
    memory_mb: int
    gpus: int
    model: str


def parse_alibaba_nodes(text: str, *, source: str = "<nodes>") -> tuple[AlibabaNode, ...]:
    """Read the openb node list (see the module docstring)."""
    nodes: list[AlibabaNode] = []
    for line, row in _rows(text, source, ALIBABA_NODE_COLUMNS):
        if not _NODE_NAME.fullmatch(row["sn"]):
            msg = f"node name {quote(row['sn'])}: write 1 to 255 of A-Z a-z 0-9 . _ -"
            raise InputError(msg, source=source, line=line, field="sn")
        nodes.append(
            AlibabaNode(
                name=row["sn"],
                vcpus=int(_number(row, "cpu_milli", source, line, MAX_CPUS * 1000) // 1000),
                memory_mb=_whole(row, "memory_mib", source, line),
                gpus=_whole(row, "gpu", source, line, MAX_GPUS_PER_HOST),
                model=row["model"],
            )
        )
    return tuple(nodes)


def parse_alibaba_pods(text: str, *, source: str = "<pods>") -> Workload:
    """Read the openb pod list into a workload (mapping in the module docstring)."""
    requests: list[VmRequest] = []
    fractional = constrained = 0
    rows = _rows(text, source, ALIBABA_POD_COLUMNS)
    timed = bool(rows) and all(c in rows[0][1] for c in ALIBABA_POD_TIMES)
    if rows and not timed and any(c in rows[0][1] for c in ALIBABA_POD_TIMES):
        msg = "the header has one of creation_time, deletion_time: give both or neither"
        raise InputError(msg, source=source)
    for order, (line, row) in enumerate(rows):
        models = _gpu_spec(row, source, line)
        constrained += bool(models)
        if not timed:
            created, deleted = float(order), None
        else:
            created = _time(row, "creation_time", source, line)
            deleted = None
        if timed and row["deletion_time"]:
            deleted = _time(row, "deletion_time", source, line)
            if deleted < created:
                msg = "deletion_time is before creation_time"
                raise InputError(msg, source=source, line=line, field="deletion_time")
        gpus = _whole(row, "num_gpu", source, line, MAX_GPUS_PER_HOST)
        spec = "|".join(model_alias(m) for m in models)
        milli = _number(row, "gpu_milli", source, line)
        if gpus == 1 and milli < 1000:
            fractional += 1
        requests.append(
            VmRequest(
                arrival=created,
                lifetime=None if deleted is None else deleted - created,
                vcpus=math.ceil(_number(row, "cpu_milli", source, line) / 1000),
                memory_mb=_whole(row, "memory_mib", source, line),
                disk_gb=0,
                gpus=gpus,
                alias=(spec or None) if gpus else None,
            )
        )
    requests.sort(key=lambda r: r.arrival)
    notes = [
        f"Alibaba openb pods {source}: {len(requests)} tasks as VMs",
        f"{fractional} fractional-GPU tasks each take one whole GPU (passthrough cannot share)",
    ]
    if not timed:
        notes.append("no creation or deletion times: pods arrive in file order and never leave")
    if constrained:
        notes.append(f"{constrained} tasks name accepted GPU models (gpu_spec)")
    return Workload(tuple(requests), source, tuple(notes))


def _gpu_spec(row: dict[str, str], source: str, line: int) -> tuple[str, ...]:
    """The GPU models a pod accepts (`gpu_spec`, `|`-separated; empty or absent: any)."""
    text = row.get("gpu_spec", "")
    if not text:
        return ()
    models = tuple(m.strip() for m in text.split("|"))
    if not all(models):
        msg = f"{text!r}: write accepted GPU models separated by | (e.g. V100M16|V100M32)"
        raise InputError(msg, source=source, line=line, field="gpu_spec")
    return models


V2025_COLUMNS = (
    "instance_sn",
    "cpu_request",
    "gpu_request",
    "memory_request",
    "disk_request",
    "creation_time",
    "deletion_time",
)


def parse_alibaba_v2025(text: str, *, source: str = "<instances>") -> Workload:
    """Read the v2025 DLRM serving trace (cluster-trace-gpu-v2025) into a workload.

    Rules:
    - every instance is a VM; `gpu_request` > 0 makes it a GPU VM of that many whole GPUs
      (sized by the plan's GPU flavor, like openb pods), else an ordinary VM of
      ceil(`cpu_request`) vCPUs, ceil(`memory_request` x 1024) MiB and ceil(`disk_request`)
      GiB (the trace gives GiB);
    - an empty `creation_time` (it existed before the trace began) arrives at 0; an empty
      `deletion_time` (still running at the end) never leaves; a deletion before its
      creation is an error. Requests, not limits, are what a flavor would reserve.
    """
    requests: list[VmRequest] = []
    before = 0
    for line, row in _rows(text, source, V2025_COLUMNS):
        created = 0.0
        if row["creation_time"]:
            created = _time(row, "creation_time", source, line)
        else:
            before += 1
        deleted: float | None = None
        if row["deletion_time"]:
            deleted = _time(row, "deletion_time", source, line)
            if deleted < created:
                msg = "deletion_time is before creation_time"
                raise InputError(msg, source=source, line=line, field="deletion_time")
        requests.append(
            VmRequest(
                arrival=created,
                lifetime=None if deleted is None else deleted - created,
                vcpus=math.ceil(_number(row, "cpu_request", source, line)),
                memory_mb=math.ceil(_number(row, "memory_request", source, line) * 1024),
                disk_gb=math.ceil(_number(row, "disk_request", source, line)),
                gpus=_whole(row, "gpu_request", source, line, MAX_GPUS_PER_HOST),
            )
        )
    requests.sort(key=lambda r: r.arrival)
    gpu = sum(1 for r in requests if r.gpus)
    notes = (
        f"Alibaba v2025 DLRM instances {source}: {len(requests) - gpu} CPU and {gpu} GPU "
        "instances as VMs",
        f"{before} existed before the trace began (arrive at 0); GPU instances take the "
        "plan's GPU flavor",
    )
    return Workload(tuple(requests), source, notes)


TRACE_FORMATS = ("generic", "alibaba-openb", "alibaba-gpu-v2025")


def read_text(path: str | Path) -> str:
    """A trace file's text through the bounded reader (gpuslice.inputs)."""
    return inputs.read_text(path, inputs.TRACE)


def read_trace(path: str | Path, trace_format: str) -> Workload:
    """Read a trace file in one of `TRACE_FORMATS`."""
    text = read_text(path)
    if trace_format == "generic":
        return parse_generic(text, source=str(path))
    if trace_format == "alibaba-openb":
        return parse_alibaba_pods(text, source=str(path))
    if trace_format == "alibaba-gpu-v2025":
        return parse_alibaba_v2025(text, source=str(path))
    msg = f"unknown trace format {trace_format!r}; use {', '.join(TRACE_FORMATS)}"
    raise InputError(msg)


# The trace names GPU models but no PCI ids, and its pods ask for any GPU: every GPU gets
# these placeholder ids, so one alias matches them all.
ALIBABA_VENDOR_ID = "10de"
ALIBABA_PRODUCT_ID = "ffff"


def model_alias(name: str) -> str:
    """A trace GPU model's alias: lower case, letters and digits only (`V100M16` -> `v100m16`)."""
    return "".join(c for c in name.lower() if c.isalnum())


MENU_SIZES = (1, 2, 4, 8)


def _trace_models(
    nodes: tuple[AlibabaNode, ...], slice_spec: SliceSpec
) -> tuple[dict[str, str], tuple[GpuModel, ...]]:
    """(trace model -> placeholder product id, one GPU model per trace model), most GPUs first."""
    gpus: dict[str, int] = {}
    most: dict[str, int] = {}
    for node in nodes:
        if node.gpus:
            gpus[node.model] = gpus.get(node.model, 0) + node.gpus
            most[node.model] = max(most.get(node.model, 0), node.gpus)
    ordered = sorted(gpus, key=lambda m: (-gpus[m], m))
    products = {m: f"f{index:03x}" for index, m in enumerate(ordered)}
    models = tuple(
        GpuModel(
            alias=model_alias(m),
            vendor_id=ALIBABA_VENDOR_ID,
            product_id=products[m],
            slice=slice_spec,
            flavor=f"g1.{model_alias(m)}",
            name=m,
            flavors=tuple(
                GpuFlavor(f"g{k}.{model_alias(m)}", k) for k in MENU_SIZES if k <= most[m]
            ),
        )
        for m in ordered
    )
    return products, models


def alibaba_fleet(
    nodes: tuple[AlibabaNode, ...],
    *,
    release: Release,
    slice_spec: SliceSpec,
    disk_gb: int = 1000,
    source: str = "<nodes>",
    per_model: bool = False,
) -> Fleet:
    """A fleet with one hypervisor per trace node and its GPUs (rules in the module docstring).

    GPUs get placeholder PCI ids (`10de:ffff`) and one alias `gpu`; addresses are made up
    (`0000:NN:00.0`); the flavor is `g1.gpu`. With `per_model` each trace model gets its own
    placeholder id, alias and menu instead. Every node keeps nova's default host reserve.
    """
    products, models = _trace_models(nodes, slice_spec) if per_model else ({}, ())
    hosts: list[Host] = []
    for node in nodes:
        gpus = tuple(
            GpuDevice(
                address=f"0000:{index + 1:02x}:00.0",
                vendor_id=ALIBABA_VENDOR_ID,
                product_id=products.get(node.model, ALIBABA_PRODUCT_ID),
                device=node.model or None,
            )
            for index in range(node.gpus)
        )
        hosts.append(
            Host(
                name=node.name,
                cpus=tuple(range(node.vcpus)),
                memory_mb=node.memory_mb,
                disk_gb=disk_gb,
                gpus=gpus,
            )
        )
    if not models:
        models = (
            GpuModel(
                alias="gpu",
                vendor_id=ALIBABA_VENDOR_ID,
                product_id=ALIBABA_PRODUCT_ID,
                slice=slice_spec,
                flavor="g1.gpu",
                name="any GPU of the trace",
            ),
        )
    return Fleet(
        release=release,
        strategy="auto",
        models=models,
        hosts=tuple(hosts),
        controllers=("controller",),
        source=source,
    )


def read_alibaba_fleet(
    path: str | Path,
    *,
    release: Release,
    slice_spec: SliceSpec,
    disk_gb: int = 1000,
    per_model: bool = False,
) -> Fleet:
    """Read the openb node list at `path` into a fleet (see `alibaba_fleet`)."""
    nodes = parse_alibaba_nodes(read_text(path), source=str(path))
    if not nodes:
        raise InputError("the node list has no nodes", source=str(path))
    return alibaba_fleet(
        nodes,
        release=release,
        slice_spec=slice_spec,
        disk_gb=disk_gb,
        source=str(path),
        per_model=per_model,
    )


def names_models(workload: Workload) -> bool:
    """Whether any GPU request of `workload` names a GPU model (an openb `gpu_spec`)."""
    return any(r.alias for r in workload.requests if r.gpus)


def resolve_models(workload: Workload, fleet: Fleet) -> Workload:
    """Each GPU request asks the first of its listed models that `fleet` has (rules above).

    A request naming none of the fleet's models, or none at all, asks the fleet's first model;
    the workload's notes say how many did.
    """
    known = {m.alias for m in fleet.used_models}
    first = fleet.used_models[0].alias if fleet.used_models else None
    unnamed = unmatched = choices = 0
    out: list[VmRequest] = []
    for request in workload.requests:
        if not request.gpus or request.alias in known:
            out.append(request)
            continue
        options = [a for a in (request.alias or "").split("|") if a]
        if len(options) > 1:
            choices += 1
        pick = next((a for a in options if a in known), None)
        if pick is None:
            unnamed += not options
            unmatched += bool(options)
        out.append(replace(request, alias=pick or first))
    notes = list(workload.notes)
    if choices:
        notes.append(f"{choices} GPU tasks list several models: each asks the first the fleet has")
    if unnamed:
        notes.append(f"{unnamed} GPU tasks name no model: they ask {first}")
    if unmatched:
        notes.append(f"{unmatched} GPU tasks name only models the fleet lacks: they ask {first}")
    return Workload(tuple(out), workload.source, tuple(notes))
