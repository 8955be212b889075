"""One PCI function as a source showed it, before it is judged GPU, companion or neither."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from gpuslice.inventory.address import PciAddress
from gpuslice.inventory.device import Function, GpuDevice
from gpuslice.inventory.pci_names import class_id_for_name
from gpuslice.inventory.sriov import DeviceType


@dataclass(frozen=True)
class PciFunction:
    """A PCI function read from lspci text or sysfs.

    Fields the source does not show are None, never guessed. `class_name` is the class as the
    source named it (lspci without `-nn` gives only the name). `line` is where the function was
    first read (1-based; None for sysfs) and takes no part in equality.
    """

    address: PciAddress
    vendor_id: str | None = None
    product_id: str | None = None
    class_id: str | None = None
    class_name: str | None = None
    vendor: str | None = None
    device: str | None = None
    driver: str | None = None
    iommu_group: int | None = None
    numa_node: int | None = None
    function: Function = "physical"
    sriov_totalvfs: int | None = None
    device_type: DeviceType | None = None
    line: int | None = field(default=None, compare=False)

    @property
    def effective_class(self) -> str | None:
        """The class id, or the id lspci's class name stands for when only the name is known."""
        return self.class_id or class_id_for_name(self.class_name)

    def to_device(self) -> GpuDevice:
        """The shared record of this function (the address with its domain)."""
        return GpuDevice(
            address=str(self.address),
            vendor_id=self.vendor_id,
            product_id=self.product_id,
            class_id=self.class_id,
            vendor=self.vendor,
            device=self.device,
            driver=self.driver,
            iommu_group=self.iommu_group,
            numa_node=self.numa_node,
            function=self.function,
            sriov_totalvfs=self.sriov_totalvfs,
            device_type=self.device_type,
        )

    def merged(self, other: PciFunction) -> tuple[PciFunction, list[str]]:
        """Fill this function's unknown fields from `other` (the same address, read again).

        Returns the merged function and the names of fields on which the two disagree; on a
        disagreement this function's value is kept.
        """
        changes: dict[str, object] = {}
        conflicts: list[str] = []
        for item in fields(self):
            if item.name in {"address", "line"}:
                continue
            mine = getattr(self, item.name)
            theirs = getattr(other, item.name)
            if item.name == "function":
                if theirs == "virtual":
                    changes["function"] = "virtual"
                continue
            if mine is None and theirs is not None:
                changes[item.name] = theirs
            elif mine is not None and theirs is not None and mine != theirs:
                conflicts.append(item.name)
        return replace(self, **changes), conflicts  # type: ignore[arg-type]
