"""PCI addresses: parse the forms lspci and sysfs print, and write them with their domain."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Linux PCI domains are up to 32 bits: 0000 on most hosts, 61f0 on Azure's Hyper-V vPCI,
# 10000 and up behind Intel VMD. lspci leaves the domain out when it is 0000 and -D is not given.
_ADDRESS = re.compile(
    r"^(?:(?P<domain>[0-9a-fA-F]{1,8}):)?"
    r"(?P<bus>[0-9a-fA-F]{1,2}):"
    r"(?P<device>[0-9a-fA-F]{1,2})\."
    r"(?P<function>[0-7])$"
)

#: The address part of an lspci device line, for other parsers' regular expressions.
ADDRESS_PATTERN = r"(?:[0-9a-fA-F]{4,8}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]"


@dataclass(frozen=True, order=True)
class PciAddress:
    """A PCI function address: domain, bus, device (slot) and function numbers."""

    domain: int
    bus: int
    device: int
    function: int

    def __post_init__(self) -> None:
        limits = (
            ("domain", self.domain, 0xFFFFFFFF),
            ("bus", self.bus, 0xFF),
            ("device", self.device, 0x1F),
            ("function", self.function, 0x7),
        )
        for name, value, top in limits:
            if not 0 <= value <= top:
                msg = f"PCI {name} {value:#x} is out of range 0..{top:#x}"
                raise ValueError(msg)

    @classmethod
    def parse(cls, text: str) -> PciAddress:
        """Read `0000:86:00.0`, `86:00.0` (domain 0000) or `61f0:00:00.0`; raise ValueError."""
        match = _ADDRESS.match(text.strip())
        if match is None:
            msg = f"not a PCI address: {text.strip()!r} (expected DDDD:BB:DD.F or BB:DD.F)"
            raise ValueError(msg)
        return cls(
            domain=int(match["domain"] or "0", 16),
            bus=int(match["bus"], 16),
            device=int(match["device"], 16),
            function=int(match["function"]),
        )

    @property
    def slot(self) -> str:
        """`DDDD:BB:DD`: the functions of one card share it."""
        return f"{self.domain:04x}:{self.bus:02x}:{self.device:02x}"

    @property
    def bus_id(self) -> str:
        """`DDDD:BB`: the domain and bus."""
        return f"{self.domain:04x}:{self.bus:02x}"

    def __str__(self) -> str:
        return f"{self.slot}.{self.function}"


def normalize_address(text: str) -> str:
    """Return `text` as a full lower-case address with its domain (`86:00.0` -> `0000:86:00.0`).

    Raises ValueError when `text` is not a PCI address.
    """
    return str(PciAddress.parse(text))
