"""The PCI device record every part of gpuslice shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gpuslice.inventory.sriov import DeviceType

Function = Literal["physical", "virtual"]


@dataclass(frozen=True)
class GpuDevice:
    """One PCI function as discovered (or as listed in a fleet file).

    `address` always carries the PCI domain (`0000:86:00.0`); ids are four lower-case hex digits.
    Values that the source does not show are None, never guessed. `device_type` is the type
    nova will give the function (type-PCI, type-PF for an SR-IOV-capable one, type-VF; see
    `gpuslice.inventory.sriov`), `sriov_totalvfs` how many virtual functions it can offer.
    """

    address: str
    vendor_id: str | None = None
    product_id: str | None = None
    class_id: str | None = None
    vendor: str | None = None
    device: str | None = None
    driver: str | None = None
    iommu_group: int | None = None
    numa_node: int | None = None
    function: Function = "physical"
    sriov_totalvfs: int | None = None
    device_type: DeviceType | None = None

    @property
    def vendor_product(self) -> str | None:
        """`vendor:product` as lspci -nn prints it, or None when either id is unknown."""
        if self.vendor_id is None or self.product_id is None:
            return None
        return f"{self.vendor_id}:{self.product_id}"

    @property
    def slot(self) -> str:
        """The address without its function number: functions in one slot share a card."""
        return self.address.rsplit(".", 1)[0]
