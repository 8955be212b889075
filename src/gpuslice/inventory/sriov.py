"""The device type nova gives a PCI function (type-PCI, type-PF, type-VF), from what a source shows.

nova's libvirt driver (nova 34 `virt/libvirt/host.py`, `_get_device_type`) reports a function
with a `virt_functions` capability as `type-PF` and one with a `phys_function` as `type-VF`;
every other passthrough device is `type-PCI`. libvirt gives a function `virt_functions` when its
SR-IOV capability offers virtual functions (sysfs `sriov_totalvfs` > 0), whether or not any are
enabled. nova's PCI stats then drop PF pools unless the alias asks for `type-PF`
(`nova/pci/stats.py`, `_filter_pools_for_unrequested_pfs`): an alias that says `type-PCI` (or
nothing) never gets an SR-IOV-capable GPU.

Pure: the readers (sysfs, lspci) call these rules with what they read.
"""

from __future__ import annotations

import re
from typing import Final, Literal

DeviceType = Literal["type-PCI", "type-PF", "type-VF"]
DEVICE_TYPES: Final[tuple[DeviceType, ...]] = ("type-PCI", "type-PF", "type-VF")

# `lspci -v` and more: `Capabilities: [bcc v1] Single Root I/O Virtualization (SR-IOV)`.
_SRIOV_CAPABILITY: Final = re.compile(r"^Capabilities:\s*\[[0-9a-fA-F]+.*\]\s*Single Root I/O Virt")
_ANY_CAPABILITY: Final = re.compile(r"^Capabilities:\s*\[[0-9a-fA-F]+")
# lspci as a user who may not read config space: `Capabilities: <access denied>`.
_DENIED: Final = re.compile(r"^Capabilities:\s*<access denied>")
# `lspci -vvv` inside the SR-IOV capability: `Initial VFs: 16, Total VFs: 16, Number of VFs: 0`.
_TOTAL_VFS: Final = re.compile(r"\bTotal VFs:\s*(?P<count>\d+)")


def type_from_sysfs(*, virtual: bool, sriov_totalvfs: int | None) -> DeviceType:
    """The type nova gives a function read from sysfs, which always tells.

    A `physfn` link (a virtual function) is type-VF; `sriov_totalvfs` > 0 is type-PF; a missing
    `sriov_totalvfs` file (no SR-IOV capability) or 0 is type-PCI.
    """
    if virtual:
        return "type-VF"
    if sriov_totalvfs is not None and sriov_totalvfs > 0:
        return "type-PF"
    return "type-PCI"


def type_from_lspci(
    *, virtual: bool, capabilities_shown: bool, sriov: bool, sriov_totalvfs: int | None
) -> DeviceType | None:
    """The type nova gives a function read from lspci, or None when the capture cannot tell.

    A virtual function is type-VF. The SR-IOV capability is type-PF, unless `lspci -vvv` shows
    `Total VFs: 0`. Capabilities listed without it (`lspci -v` as root) are type-PCI. Without
    capabilities (`lspci -nn`, `-nnk`, `-vmm`, or `<access denied>` as a user) it cannot tell.
    """
    if virtual:
        return "type-VF"
    if sriov:
        return "type-PCI" if sriov_totalvfs == 0 else "type-PF"
    return "type-PCI" if capabilities_shown else None


def read_capability_line(text: str) -> dict[str, object]:
    """What one stripped lspci detail line says about SR-IOV, as draft values (often nothing).

    Keys: `capabilities_shown` (a capability is listed), `capabilities_denied`, `sriov` (the
    SR-IOV capability), `sriov_totalvfs` (its `Total VFs`).
    """
    if _DENIED.match(text):
        return {"capabilities_denied": True}
    if _SRIOV_CAPABILITY.match(text):
        return {"capabilities_shown": True, "sriov": True}
    if _ANY_CAPABILITY.match(text):
        return {"capabilities_shown": True}
    total = _TOTAL_VFS.search(text)
    if total:
        return {"sriov_totalvfs": int(total["count"])}
    return {}


def settle_commands(address: str) -> str:
    """The commands, run on the host, that tell whether the function at `address` is type-PF."""
    return (
        f"`lspci -vvv -s {address}` as root (a 'Single Root I/O Virtualization (SR-IOV)' "
        f"capability: type-PF) or `cat /sys/bus/pci/devices/{address}/sriov_totalvfs` "
        "(a number above 0: type-PF; no such file: type-PCI)"
    )
