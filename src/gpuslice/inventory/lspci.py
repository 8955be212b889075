"""Read lspci output, in every form operators paste, into PciFunction records (pure).

Forms read (mixed freely in one text). A function read twice is merged: later reads fill what
earlier ones lacked; other ids are an error, another driver, group or NUMA node a warning, and
other names are ignored (pciutils versions name devices differently). Names that lspci did not
print come from gpuslice's table.

- one line per function: plain `lspci`, `-n`, `-nn`, with or without `-D`;
- the same with detail lines below each function, indented by a tab or by spaces (`-k`, `-nnk`,
  `-v`, `-vnn`, `-vv`): `Kernel driver in use:`, the NUMA node and the IOMMU group (in `Flags:`
  or on lines of their own) are read, and so is the SR-IOV capability (`-v` and more, as root:
  `Capabilities: [bcc v1] Single Root I/O Virtualization (SR-IOV)`, with `Total VFs: N` from
  `-vvv`), which makes the function type-PF to nova; every other detail line is skipped;
- `-vmm`, `-vmmnn`, `-vmmn`, `-vmmk`, `-vmmD`: `Key:<tab>value` records separated by blank lines;
- `-mm`, `-mmnn`, `-mmn`: one line per function with quoted fields;
- detail lines whose indentation was lost in a paste (`Subsystem:`, `Flags:`, `Kernel driver in
  use:`, ...), and the hex dumps of `-x`;
- grep excerpts of any of these, with their `--` separator lines;
- IOMMU group listings from the usual shell loops, either `IOMMU Group 42 <device line>` or an
  `IOMMU Group 42:` header followed by indented device lines, and the paths that
  `find /sys/kernel/iommu_groups/ -type l` prints (they give a group to a function, nothing else);
- the shell command that made the capture (a prompt, if any, then a command that runs lspci or
  lists /sys/kernel/iommu_groups).

A line that is none of these raises InputError with its line number. So does a text without any
device line. Ids are read only where lspci printed them: plain `lspci` gives names only, and the
ids of its functions stay None.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace
from typing import Final

from gpuslice.errors import InputError
from gpuslice.inventory.address import ADDRESS_PATTERN, PciAddress
from gpuslice.inventory.device import Function
from gpuslice.inventory.function import PciFunction
from gpuslice.inventory.pci_names import (
    GPU_CLASSES,
    VIRTUAL_FUNCTION_PRODUCTS,
    product_name,
    split_vendor_and_device,
    vendor_name,
)
from gpuslice.inventory.sriov import read_capability_line, type_from_lspci


@dataclass(frozen=True)
class LspciCapture:
    """What one lspci text holds: its functions in the order first seen, and warnings."""

    source: str
    functions: tuple[PciFunction, ...]
    warnings: tuple[str, ...] = ()


_DEVICE_LINE: Final = re.compile(rf"^(?P<indent>\s*)(?P<address>{ADDRESS_PATTERN})\s+(?P<rest>.*)$")
_IOMMU_LINE: Final = re.compile(r"^\s*IOMMU\s+group\s+(?P<group>\d+)\s*:?\s*(?P<rest>.*)$", re.I)
_GROUP_PATH: Final = re.compile(
    rf"^\s*/sys/kernel/iommu_groups/(?P<group>\d+)/devices/(?P<address>{ADDRESS_PATTERN})\s*$"
)
_VMM_FIELD: Final = re.compile(r"^(?P<key>[A-Z][A-Za-z]*):\s+(?P<value>.*)$")
_VMM_KEYS: Final = frozenset(
    {
        "Slot",
        "Class",
        "Vendor",
        "Device",
        "SVendor",
        "SDevice",
        "PhySlot",
        "Rev",
        "ProgIf",
        "Driver",
        "Module",
        "NUMANode",
        "IOMMUGroup",
    }
)
_TRAILER: Final = re.compile(
    r"\s*\((?:rev\s+[0-9a-fA-F]{2}|prog-if\s+[0-9a-fA-F]{2}(?:\s*\[[^\]]*\])?)\)\s*$"
)
_CLASS_WITH_ID: Final = re.compile(r"^(?P<name>.*?)\s*\[(?P<id>[0-9a-fA-F]{4})\]$")
_HEX4: Final = re.compile(r"^[0-9a-fA-F]{4}$")
_NAMES_WITH_IDS: Final = re.compile(
    r"^(?P<names>.*?)\s*\[(?P<vendor>[0-9a-fA-F]{4}):(?P<product>[0-9a-fA-F]{4})\]$"
)
_IDS_ONLY: Final = re.compile(r"^(?P<vendor>[0-9a-fA-F]{4}):(?P<product>[0-9a-fA-F]{4})$")
_NAME_WITH_ID: Final = re.compile(r"^(?P<name>.*?)\s*\[(?P<id>[0-9a-fA-F]{4})\]$")
_UNNAMED: Final = re.compile(r"^(?:Device|Vendor)(?:\s+[0-9a-fA-F]{4})?$")
_DRIVER: Final = re.compile(r"^Kernel driver in use:\s*(?P<driver>\S+)")
_NUMA_FLAG: Final = re.compile(r"^Flags:.*\bNUMA node (?P<node>-?\d+)")
_IOMMU_FLAG: Final = re.compile(r"^Flags:.*\bIOMMU group (?P<group>\d+)")
_NUMA_LINE: Final = re.compile(r"^NUMA node:\s*(?P<node>-?\d+)\s*$")
_IOMMU_DETAIL: Final = re.compile(r"^IOMMU group:\s*(?P<group>\d+)\s*$")
_HEX_DUMP: Final = re.compile(r"^[0-9a-f]{2,3}:(?: [0-9a-f]{2}){1,16}\s*$")
# Verbose detail lines whose indentation a paste lost: still detail lines, never device lines.
_DETAIL_PREFIXES: Final = (
    "Subsystem:",
    "Flags:",
    "Kernel driver in use:",
    "Kernel modules:",
    "Memory at ",
    "I/O ports at ",
    "Expansion ROM at ",
    "Capabilities:",
    "Physical Slot:",
    "DeviceName:",
    "Control:",
    "Status:",
    "Latency:",
    "Interrupt:",
    "Region ",
    "Bus:",
    "I/O behind bridge:",
    "Memory behind bridge:",
    "Prefetchable memory behind bridge:",
    "Secondary status:",
    "BridgeCtl:",
    "IOMMU group:",
    "NUMA node:",
)
# A shell command that runs lspci or lists IOMMU groups, after an optional prompt (`$ `, `# `,
# `[root@host ~]# `).
_COMMAND: Final = re.compile(
    r"^(?:.*?[$#%>]\s+)?(?:sudo\s+)?"
    r"(?:lspci\b|(?:for|while|find|ls|shopt|bash|sh)\b.*\b(?:lspci|iommu_groups)\b)"
)


_NAME_FIELDS: Final = frozenset({"vendor", "device", "class_name"})


class _Draft:
    """A function being read: detail lines still add to it."""

    def __init__(self, line: int, address: PciAddress) -> None:
        self.line = line
        self.address = address
        self.values: dict[str, object] = {}

    def set(self, name: str, value: object) -> None:
        if value is not None:
            self.values[name] = value

    def build(self) -> PciFunction:
        values = dict(self.values)
        vendor_id = _opt_str(values.get("vendor_id"))
        product_id = _opt_str(values.get("product_id"))
        class_id = _opt_str(values.get("class_id"))
        totalvfs = _opt_int(values.get("sriov_totalvfs"))
        return PciFunction(
            address=self.address,
            vendor_id=vendor_id,
            product_id=product_id,
            class_id=class_id,
            class_name=_opt_str(values.get("class_name")),
            vendor=_opt_str(values.get("vendor")),
            device=_opt_str(values.get("device")),
            driver=_opt_str(values.get("driver")),
            iommu_group=_opt_int(values.get("iommu_group")),
            numa_node=_opt_int(values.get("numa_node")),
            sriov_totalvfs=totalvfs,
            device_type=type_from_lspci(
                virtual=False,
                capabilities_shown=values.get("capabilities_shown") is True,
                sriov=values.get("sriov") is True,
                sriov_totalvfs=totalvfs,
            ),
            line=self.line,
        )


def _completed(function: PciFunction) -> PciFunction:
    """Fill names lspci did not print from the table, and mark virtual functions by name or id.

    lspci calls some virtual functions so (`... Virtual Function`); AMD MxGPU ones have ids of
    their own (VIRTUAL_FUNCTION_PRODUCTS).
    """
    vendor_id, product_id = function.vendor_id, function.product_id
    device = function.device or product_name(vendor_id, product_id)
    virtual = (device is not None and "virtual function" in device.casefold()) or (
        f"{vendor_id}:{product_id}" in VIRTUAL_FUNCTION_PRODUCTS
    )
    kind: Function = "virtual" if virtual or function.function == "virtual" else "physical"
    return replace(
        function,
        vendor=function.vendor or vendor_name(vendor_id),
        device=device,
        function=kind,
        device_type="type-VF" if kind == "virtual" else function.device_type,
    )


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def parse_lspci(text: str, source: str = "<stdin>") -> LspciCapture:
    """Read lspci `text` (see the module docstring for the forms); `source` names it in errors.

    Raises InputError for a line that is no form lspci prints, for ids that contradict an
    earlier read of the same address, and for a text without any device line.
    """
    return _Parser(source).parse(text)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.drafts: list[_Draft] = []
        self.current: _Draft | None = None  # receives detail lines
        self.in_vmm = False  # inside a `Key:<tab>value` record
        self.group_header: int | None = None  # from an `IOMMU Group N:` line

    def error(self, message: str, line: int) -> InputError:
        return InputError(message, source=self.source, line=line)

    def parse(self, text: str) -> LspciCapture:
        text = text.removeprefix("\ufeff")  # a byte order mark from a Windows editor
        for number, raw in enumerate(text.splitlines(), start=1):
            self.read_line(raw.rstrip(), number)
        if not self.drafts:
            msg = "no PCI device line found: is this lspci output?"
            raise InputError(msg, source=self.source)
        functions, warnings = self.merge([draft.build() for draft in self.drafts])
        functions = _mark_virtual_functions([_completed(f) for f in functions])
        described = [f for f in functions if f.class_name or f.vendor or f.class_id]
        missing_ids = sum(1 for f in described if f.vendor_id is None or f.product_id is None)
        if missing_ids:
            warnings.append(
                f"{self.source}: lspci printed no numeric ids for {missing_ids} of "
                f"{len(described)} PCI functions (run without -nn); their vendor_id, "
                "product_id and class_id are null. Capture with `lspci -nnk` to get them."
            )
        return LspciCapture(self.source, tuple(functions), tuple(warnings))

    def read_line(self, line: str, number: int) -> None:
        stripped = line.strip()
        if not stripped or stripped == "--":
            self.current = None
            self.in_vmm = False
            if stripped == "--":
                self.group_header = None
            return
        device = _DEVICE_LINE.match(line)
        if device:
            self.in_vmm = False
            if not device["indent"]:
                self.group_header = None
            self.read_device(device["address"], device["rest"], number, self.group_header)
            return
        path = _GROUP_PATH.match(line)
        if path:
            self.in_vmm = False
            self.current = None
            try:
                draft = _Draft(number, PciAddress.parse(path["address"]))
            except ValueError as error:
                raise self.error(str(error), number) from None
            draft.set("iommu_group", int(path["group"]))
            self.drafts.append(draft)
            return
        iommu = _IOMMU_LINE.match(line)
        if iommu:
            self.read_iommu_line(int(iommu["group"]), iommu["rest"], number)
            return
        field = _VMM_FIELD.match(line)
        if field and field["key"] in _VMM_KEYS:
            self.read_vmm_field(field["key"], field["value"].strip(), number)
            return
        if field and self.in_vmm and "\t" in line:
            return  # a field of a newer lspci -vmm that gpuslice does not need
        if line[0].isspace() or stripped.startswith(_DETAIL_PREFIXES):
            if self.current is not None and not self.in_vmm:
                self.read_detail(stripped)
            return
        if _HEX_DUMP.match(line):
            return  # config space from `lspci -x`
        if _COMMAND.match(line):
            return  # the shell command that made the capture
        msg = f"cannot read this line as lspci output: {stripped!r}"
        raise self.error(msg, number)

    def read_iommu_line(self, group: int, rest: str, number: int) -> None:
        self.in_vmm = False
        self.current = None
        if not rest:
            self.group_header = group
            return
        self.group_header = None
        device = _DEVICE_LINE.match(rest)
        if device is None:
            msg = f"IOMMU group {group}: expected a device line after it, got {rest!r}"
            raise self.error(msg, number)
        self.read_device(device["address"], device["rest"], number, group)

    def read_device(self, address: str, rest: str, number: int, group: int | None) -> None:
        try:
            draft = _Draft(number, PciAddress.parse(address))
        except ValueError as error:
            raise self.error(str(error), number) from None
        if rest.lstrip().startswith('"'):
            self.read_machine_fields(draft, rest, number)
            draft.set("iommu_group", group)
            self.drafts.append(draft)
            self.current = draft
            return
        class_part, sep, description = rest.partition(": ")
        if not sep and rest.rstrip().endswith(":"):
            class_part, sep, description = rest.rstrip()[:-1], ":", ""
        if not sep or not class_part.strip():
            msg = f"device line without `class: description`: {rest.strip()!r}"
            raise self.error(msg, number)
        self.read_class(draft, class_part.strip())
        self.read_description(draft, description.strip())
        draft.set("iommu_group", group)
        self.drafts.append(draft)
        self.current = draft

    def read_machine_fields(self, draft: _Draft, rest: str, number: int) -> None:
        """`lspci -mm`: "class" "vendor" "device" [-rXX] [-pXX] ["svendor" "sdevice"]."""
        try:
            tokens = shlex.split(rest)
        except ValueError as error:
            msg = f"cannot read the quoted fields of `lspci -mm`: {error}"
            raise self.error(msg, number) from None
        quoted = [token for token in tokens if not re.match(r"^-[a-z]", token)]
        if len(quoted) < 3:
            msg = f"`lspci -mm` line needs class, vendor and device: {rest.strip()!r}"
            raise self.error(msg, number)
        self.read_class(draft, quoted[0])
        self.read_vmm_name(draft, "Vendor", quoted[1])
        self.read_vmm_name(draft, "Device", quoted[2])

    @staticmethod
    def read_class(draft: _Draft, text: str) -> None:
        if _HEX4.match(text):
            draft.set("class_id", text.lower())
            return
        with_id = _CLASS_WITH_ID.match(text)
        if with_id:
            draft.set("class_id", with_id["id"].lower())
            draft.set("class_name", with_id["name"] or None)
            return
        draft.set("class_name", text)

    @staticmethod
    def read_description(draft: _Draft, text: str) -> None:
        while True:
            trimmed = _TRAILER.sub("", text)
            if trimmed == text:
                break
            text = trimmed
        names = text
        ids = _NAMES_WITH_IDS.match(text) or _IDS_ONLY.match(text)
        if ids:
            draft.set("vendor_id", ids["vendor"].lower())
            draft.set("product_id", ids["product"].lower())
            names = ids.groupdict().get("names") or ""
        if not names or _UNNAMED.match(names):
            return
        vendor, device = split_vendor_and_device(names, _opt_str(draft.values.get("vendor_id")))
        draft.set("vendor", vendor)
        if device and not _UNNAMED.match(device):
            draft.set("device", device)

    def read_detail(self, text: str) -> None:
        assert self.current is not None
        if driver := _DRIVER.match(text):
            self.current.set("driver", driver["driver"])
            return
        if numa := (_NUMA_FLAG.match(text) or _NUMA_LINE.match(text)):
            node = int(numa["node"])
            self.current.set("numa_node", node if node >= 0 else None)
        if group := (_IOMMU_FLAG.match(text) or _IOMMU_DETAIL.match(text)):
            self.current.set("iommu_group", int(group["group"]))
        for name, value in read_capability_line(text).items():
            self.current.set(name, value)

    def read_vmm_field(self, key: str, value: str, number: int) -> None:
        if key == "Slot":
            try:
                address = PciAddress.parse(value)
            except ValueError as error:
                raise self.error(str(error), number) from None
            draft = _Draft(number, address)
            self.drafts.append(draft)
            self.current = draft
            self.in_vmm = True
            return
        if not self.in_vmm or self.current is None:
            return  # a detail of a record whose Slot line was cut off
        draft = self.current
        if key == "Class":
            self.read_class(draft, value)
        elif key in {"Vendor", "Device"}:
            self.read_vmm_name(draft, key, value)
        elif key == "Driver":
            draft.set("driver", value)
        elif key in {"NUMANode", "IOMMUGroup"}:
            try:
                number_value = int(value)
            except ValueError:
                msg = f"{key} is not a number: {value!r}"
                raise self.error(msg, number) from None
            name = "numa_node" if key == "NUMANode" else "iommu_group"
            draft.set(name, number_value if number_value >= 0 else None)

    @staticmethod
    def read_vmm_name(draft: _Draft, key: str, value: str) -> None:
        id_name, text_name = (
            ("vendor_id", "vendor") if key == "Vendor" else ("product_id", "device")
        )
        if _HEX4.match(value):
            draft.set(id_name, value.lower())
            return
        with_id = _NAME_WITH_ID.match(value)
        if with_id:
            draft.set(id_name, with_id["id"].lower())
            value = with_id["name"]
        if value and not _UNNAMED.match(value):
            draft.set(text_name, value)

    def merge(self, functions: list[PciFunction]) -> tuple[list[PciFunction], list[str]]:
        merged: dict[PciAddress, PciFunction] = {}
        warnings: list[str] = []
        for function in functions:
            first = merged.get(function.address)
            if first is None:
                merged[function.address] = function
                continue
            combined, conflicts = first.merged(function)
            for name in conflicts:
                if name in _NAME_FIELDS:
                    continue  # pciutils versions name devices differently; the first name stays
                mine, theirs = getattr(first, name), getattr(function, name)
                if name in {"vendor_id", "product_id", "class_id"}:
                    msg = (
                        f"{function.address} was read before (line {first.line}) with "
                        f"{name} {mine}, here it has {theirs}"
                    )
                    raise self.error(msg, function.line or 0)
                warnings.append(
                    f"{self.source}:{function.line}: {function.address} {name} is {theirs!r} "
                    f"here but {mine!r} at line {first.line}; keeping {mine!r}"
                )
            merged[function.address] = combined
        return list(merged.values()), warnings


def _mark_virtual_functions(functions: list[PciFunction]) -> list[PciFunction]:
    """Mark the SR-IOV virtual functions of a GPU that lspci lists beside its physical function.

    lspci does not say which functions are virtual. A GPU's virtual functions sit on the bus of
    their physical function, which is device 0 function 0 of that bus, and carry its
    vendor:product (NVIDIA A100/H100 vGPU, Intel Flex): so a display or accelerator function
    other than `BB:00.0` with the same ids as a GPU at `BB:00.0` of its bus is marked virtual
    (type-VF), and that GPU, whose type the capture did not show, is type-PF.
    Physical GPUs never share a bus that way: each sits on its own bus below a bridge.
    """
    heads = {
        f.address.bus_id: f
        for f in functions
        if f.address.device == 0 and f.address.function == 0 and _is_gpu_class(f)
    }
    result = []
    parents: set[PciAddress] = set()
    for function in functions:
        head = heads.get(function.address.bus_id)
        if (
            head is not None
            and function.address != head.address
            and function.vendor_id is not None
            and function.product_id is not None
            and (function.vendor_id, function.product_id) == (head.vendor_id, head.product_id)
            and _is_gpu_class(function)
        ):
            function = replace(function, function="virtual", device_type="type-VF")
            parents.add(head.address)
        result.append(function)
    # A function with virtual functions beside it has SR-IOV: nova calls it type-PF.
    return [
        replace(f, device_type="type-PF") if f.address in parents and not f.device_type else f
        for f in result
    ]


def _is_gpu_class(function: PciFunction) -> bool:
    return function.effective_class in GPU_CLASSES
