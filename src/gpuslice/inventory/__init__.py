"""GPU discovery: parse lspci text or a sysfs tree into GpuDevice records.

Pure parsers (`parse_lspci`, `classify`) and one thin reader (`read_sysfs`); `discover_from_lspci`
and `discover_from_sysfs` chain them for the CLI and the fleet loader.
"""

from gpuslice.inventory.address import PciAddress, normalize_address
from gpuslice.inventory.classify import Companion, Discovery, Exclusion, classify
from gpuslice.inventory.device import GpuDevice
from gpuslice.inventory.discover import discover_from_lspci, discover_from_sysfs
from gpuslice.inventory.function import PciFunction
from gpuslice.inventory.lspci import LspciCapture, parse_lspci
from gpuslice.inventory.sriov import DEVICE_TYPES, DeviceType, settle_commands
from gpuslice.inventory.sysfs import read_sysfs

__all__ = [
    "DEVICE_TYPES",
    "Companion",
    "DeviceType",
    "Discovery",
    "Exclusion",
    "GpuDevice",
    "LspciCapture",
    "PciAddress",
    "PciFunction",
    "classify",
    "discover_from_lspci",
    "discover_from_sysfs",
    "normalize_address",
    "parse_lspci",
    "read_sysfs",
    "settle_commands",
]
