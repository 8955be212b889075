"""PCI addresses: every form lspci and sysfs print comes out with its domain."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpuslice.inventory import PciAddress, normalize_address


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("86:00.0", "0000:86:00.0"),
        ("0000:86:00.0", "0000:86:00.0"),
        ("61f0:00:00.0", "61f0:00:00.0"),
        ("61F0:00:00.0", "61f0:00:00.0"),
        ("10000:e1:00.0", "10000:e1:00.0"),
        ("0:3b:01.7", "0000:3b:01.7"),
        ("  af:1f.3\n", "0000:af:1f.3"),
    ],
)
def test_normalize_address_adds_the_domain(text: str, expected: str) -> None:
    assert normalize_address(text) == expected


@pytest.mark.parametrize(
    "text", ["86:00", "86:00.8", "86:20.0", "g6:00.0", "123456789:00:00.0", "", "0000:86:00.0.1"]
)
def test_normalize_address_refuses_what_is_no_address(text: str) -> None:
    with pytest.raises(ValueError, match="PCI"):
        normalize_address(text)


def test_slot_and_bus_leave_out_the_function() -> None:
    address = PciAddress.parse("61f0:00:1f.3")
    assert (address.slot, address.bus_id) == ("61f0:00:1f", "61f0:00")


addresses = st.builds(
    PciAddress,
    domain=st.integers(0, 0xFFFFFFFF),
    bus=st.integers(0, 0xFF),
    device=st.integers(0, 0x1F),
    function=st.integers(0, 7),
)


@given(addresses)
def test_address_round_trips_through_its_text(address: PciAddress) -> None:
    text = str(address)
    assert PciAddress.parse(text) == address
    assert PciAddress.parse(text.upper()) == address
    assert normalize_address(text) == text


@given(addresses)
def test_domain_zero_may_be_left_out(address: PciAddress) -> None:
    short = f"{address.bus:02x}:{address.device:02x}.{address.function}"
    assert PciAddress.parse(short) == PciAddress(0, address.bus, address.device, address.function)


@given(addresses, addresses)
def test_addresses_sort_as_lspci_lists_them(first: PciAddress, second: PciAddress) -> None:
    as_tuples = sorted([first, second], key=lambda a: (a.domain, a.bus, a.device, a.function))
    assert sorted([first, second]) == as_tuples
