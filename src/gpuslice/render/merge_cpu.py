"""`reserved_host_cpus` meets an operator's CPU set while merging (Train and later).

nova-compute refuses to start when `reserved_host_cpus` is set beside `[compute] cpu_shared_set`
or `cpu_dedicated_set` and `vcpu_pin_set` is unset (nova 34 `virt/libvirt/driver.py`,
`_check_cpu_set_configuration`). So when the plan reserves N CPUs and the file already has:
- `vcpu_pin_set` (and no `cpu_dedicated_set`): nova accepts `reserved_host_cpus` there and takes
  it off the VCPU inventory of the pinned set; it is written as planned;
- `cpu_shared_set`: the N highest CPUs are taken out of the set instead (the VCPU inventory
  shrinks by N, as `reserved_host_cpus` would have shrunk it), a marker comment says which, and
  `reserved_host_cpus` is not written (an assignment of it is dropped);
- only `cpu_dedicated_set`, `vcpu_pin_set` beside `cpu_dedicated_set`, or a set of N CPUs or
  fewer: refused, with the reason (InputError).
A rerun first gives back the CPUs its marker says it took, so the hold is never taken twice.
"""

from __future__ import annotations

from gpuslice.cpuset import format_cpuset
from gpuslice.errors import InputError
from gpuslice.plan.types import Option
from gpuslice.render.inidoc import IniDoc
from gpuslice.render.markers import Marker, marker_line

RESERVED = ("DEFAULT", "reserved_host_cpus")
SHARED = ("compute", "cpu_shared_set")
DEDICATED = ("compute", "cpu_dedicated_set")
PINNED = ("DEFAULT", "vcpu_pin_set")


def parse_nova_cpus(text: str, *, source: str | None, field: str) -> set[int]:
    """A CPU set in nova's syntax (`0-7,^2,10`): ranges, single ids, `^` exclusions."""
    wanted: set[int] = set()
    excluded: set[int] = set()
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            continue
        target = excluded if part.startswith("^") else wanted
        low, dash, high = part.lstrip("^").partition("-")
        try:
            first, last = int(low), int(high) if dash else int(low)
        except ValueError:
            msg = f"cannot read the CPU set {text!r} ({part!r}); fix it so nova can read it"
            raise InputError(msg, source=source, field=field) from None
        target.update(range(first, last + 1))
    return wanted - excluded


def _value(doc: IniDoc, where: tuple[str, str]) -> str | None:
    entries = doc.entries(*where)
    value = entries[-1].value if entries else None
    return value if value and value.strip() else None


def restore_taken_cpus(doc: IniDoc, markers: list[Marker], source: str | None) -> None:
    """Give back to each CPU set the CPUs an earlier merge's marker says it took."""
    for marker in markers:
        if marker.verb != "took" or marker.section is None:
            continue
        where = (marker.section, marker.key)
        entries = doc.entries(*where)
        if not entries:
            continue
        field = f"[{where[0]}] {where[1]}"
        cpus = parse_nova_cpus(entries[-1].value or "", source=source, field=field)
        for item in marker.items:
            cpus |= parse_nova_cpus(item, source=source, field=field)
        entries[-1].value = format_cpuset(cpus)
        entries[-1].lines = [doc.line(f"{where[1]} = {entries[-1].value}")]


def hold_with_cpu_sets(doc: IniDoc, options: list[Option], source: str | None) -> list[Option]:
    """The options to write once an operator's CPU set is taken into account (module rules)."""
    reserved = next((o for o in options if (o.section, o.name) == RESERVED), None)
    if reserved is None or not isinstance(reserved.value, str):
        return options
    planned = {(o.section, o.name) for o in options}

    def operator(where: tuple[str, str]) -> str | None:
        return None if where in planned else _value(doc, where)

    shared, dedicated, pinned = operator(SHARED), operator(DEDICATED), operator(PINNED)
    count = int(reserved.value)
    if pinned and dedicated:
        msg = (
            "sets both vcpu_pin_set and [compute] cpu_dedicated_set, which nova-compute refuses "
            "to start with; move vcpu_pin_set's CPUs to [compute] cpu_shared_set and rerun"
        )
        raise InputError(msg, source=source, field="[DEFAULT] vcpu_pin_set")
    if pinned or not (shared or dedicated):
        return options
    if count == 0:
        return [o for o in options if o is not reserved]
    if not shared:
        msg = (
            f"has only dedicated CPUs ([compute] cpu_dedicated_set = {dedicated}); the plan holds "
            f"{count} CPUs with reserved_host_cpus, which nova-compute refuses beside a CPU set, "
            "and this plan's VMs float on shared CPUs. Add a [compute] cpu_shared_set for them, "
            "or plan with cpu_mode: dedicated"
        )
        raise InputError(msg, source=source, field="[compute] cpu_dedicated_set")
    field = "[compute] cpu_shared_set"
    cpus = sorted(parse_nova_cpus(shared, source=source, field=field))
    if count >= len(cpus):
        msg = (
            f"holds {len(cpus)} CPUs ({shared}); the plan must hold {count} of them back "
            "(reserved_host_cpus cannot sit beside a CPU set, so they come out of this set) "
            "and none would be left for ordinary VMs: widen the set or shrink the slice"
        )
        raise InputError(msg, source=source, field=field)
    kept, taken = cpus[:-count], cpus[-count:]
    entries = doc.entries(*SHARED)
    block = entries[-1]
    for entry in entries[:-1]:
        doc.blocks.remove(entry)
    block.value = format_cpuset(kept)
    block.lines = [doc.line(f"{SHARED[1]} = {block.value}")]
    why = (
        f"held back for the host and GPU VMs in place of reserved_host_cpus = {count}, which "
        f"nova-compute refuses beside a CPU set; the operator's set was {format_cpuset(cpus)}"
    )
    block.before = [doc.line(marker_line(SHARED[1], "took", [format_cpuset(taken)], why))]
    for entry in doc.entries(*RESERVED):
        doc.blocks.remove(entry)
    return [o for o in options if o is not reserved]
