"""Passthrough binding checks: who holds each GPU and its companions, who shares its group."""

from __future__ import annotations

from gpuslice.doctor.checks.base import Check
from gpuslice.doctor.checks.devices import (
    REBUILD,
    companions,
    driver_module,
    ids,
    is_vfio,
    judged,
    label,
    other_gpus_in_group,
    passed_through,
    unrelated,
    vfio_candidates,
)
from gpuslice.doctor.snapshot import HostSnapshot
from gpuslice.doctor.verdict import CheckContext, Finding, Fix
from gpuslice.inventory.function import PciFunction


def rebind_fix(host: HostSnapshot, context: CheckContext, held: list[PciFunction]) -> Fix:
    """Bind `held` to vfio-pci at boot: vfio-pci's ids (all of the host's GPUs and companions,
    since the line replaces any other), and vfio-pci before the drivers holding them."""
    vfio_ids = tuple(sorted({i for f in passed_through(host, context) if (i := ids(f))}))
    modules = tuple(sorted({m for f in held if f.driver and (m := driver_module(f.driver))}))
    return Fix(vfio_ids=vfio_ids, softdeps=modules, steps=(REBUILD,))


class GpuDriver(Check):
    """Every GPU is bound to vfio-pci (or a vendor's vfio-pci variant), none to a host driver.

    Variant VFs are left to `variant-driver`."""

    id = "gpu-driver"
    modes = frozenset({"passthrough"})

    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """Fail per GPU held by a host driver; warn per GPU with no driver.

        nova asks libvirt for `managed='yes'` host devices unless the device_spec says
        `managed: no` (nova 34 `virt/libvirt/driver.py` `_get_guest_pci_device`): libvirt then
        unbinds the GPU from its driver at each VM start, which fails or hangs while the host
        uses it (a console on nouveau, nvidia-persistenced), and binds an unbound one itself.
        """
        findings = []
        for gpu in vfio_candidates(host, context):
            subject = str(gpu.address)
            evidence = [label(gpu)]
            if is_vfio(gpu.driver):
                findings.append(self.finding("ok", f"bound to {gpu.driver}", subject=subject))
            elif gpu.driver is None:
                msg = "no driver: libvirt binds it at VM start, but a host driver may take it first"
                findings.append(self.finding("warn", msg, subject=subject, evidence=evidence))
            else:
                msg = (
                    f"held by the host driver {gpu.driver}, not vfio-pci: libvirt must unbind it "
                    "at each VM start, which fails while the host uses it"
                )
                fix = rebind_fix(host, context, [gpu])
                findings.append(
                    self.finding("fail", msg, subject=subject, evidence=evidence, fix=fix)
                )
        return findings


class CompanionDrivers(Check):
    """Every other function of a GPU's card (audio, USB-C, serial) is on vfio-pci or on none."""

    id = "companion-driver"
    modes = frozenset({"passthrough"})

    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """Fail per GPU whose companions a host driver holds (the IOMMU group is not viable)."""
        findings = []
        for gpu in judged(host, context):
            mates = companions(host, gpu)
            if not mates:
                continue
            held = [f for f in mates if f.driver is not None and not is_vfio(f.driver)]
            evidence = [label(f) for f in mates]
            subject = str(gpu.address)
            if held:
                names = ", ".join(f"{f.address} on {f.driver}" for f in held)
                msg = f"companion function held by a host driver: {names}"
                findings.append(
                    self.finding(
                        "fail",
                        msg,
                        subject=subject,
                        evidence=evidence,
                        fix=rebind_fix(host, context, held),
                    )
                )
            else:
                msg = f"{len(mates)} companion function(s) on vfio-pci or on no driver"
                findings.append(self.finding("ok", msg, subject=subject, evidence=evidence))
        return findings


class GroupIsolation(Check):
    """No unrelated device (NIC, disk controller) shares a GPU's IOMMU group."""

    id = "iommu-group"
    modes = frozenset({"passthrough"})

    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """Fail per GPU whose group holds a device outside its card; warn when it holds a GPU."""
        findings = []
        for gpu in judged(host, context):
            if gpu.iommu_group is None:
                continue  # the iommu check says why
            subject = str(gpu.address)
            strangers = unrelated(host, gpu)
            others = other_gpus_in_group(host, gpu)
            group = f"IOMMU group {gpu.iommu_group}"
            if strangers:
                steps = (
                    "move the GPU to a slot with an IOMMU group of its own (one behind a root "
                    "port with ACS), or enable ACS in the firmware setup",
                    "pcie_acs_override is not a fix: it hides the sharing, the isolation is gone",
                )
                names = ", ".join(str(f.address) for f in strangers)
                msg = f"{group} also holds {names}: passing the GPU through takes them too"
                findings.append(
                    self.finding(
                        "fail",
                        msg,
                        subject=subject,
                        evidence=[label(f) for f in strangers],
                        fix=Fix(steps=steps),
                    )
                )
            elif others:
                names = ", ".join(str(f.address) for f in others)
                msg = f"{group} also holds GPU {names}: they can only go to one VM together"
                findings.append(
                    self.finding("warn", msg, subject=subject, evidence=[label(f) for f in others])
                )
            else:
                findings.append(
                    self.finding("ok", f"{group}: the GPU's card only", subject=subject)
                )
        return findings
