"""vGPU checks: the vendor's host driver holds the GPU, mdev types are visible, mdevctl is there."""

from __future__ import annotations

from gpuslice.doctor.checks.base import Check
from gpuslice.doctor.checks.devices import is_vfio, label, physical_gpus, vendor_of
from gpuslice.doctor.checks.sriov import SRIOV_MANAGE
from gpuslice.doctor.snapshot import MDEVCTL, PCI_DEVICES, HostSnapshot
from gpuslice.doctor.verdict import CheckContext, Finding, Fix
from gpuslice.inventory.address import PciAddress

#: The vendor host drivers that offer mdev types (NVIDIA's vGPU manager, Intel GVT-g/SR-IOV,
#: AMD MxGPU).
VGPU_DRIVERS: dict[str, tuple[str, ...]] = {
    "10de": ("nvidia",),
    "8086": ("i915", "xe"),
    "1002": ("gim", "amdgpu"),
}
_INSTALL = {
    "10de": "install NVIDIA's vGPU host driver (the vGPU Manager) and reboot",
    "8086": "load i915 with GVT-g (i915.enable_gvt=1) or the xe driver's SR-IOV",
    "1002": "install AMD's MxGPU host driver (gim)",
}


class VgpuHostDriver(Check):
    """Each GPU is held by its vendor's vGPU host driver (not vfio-pci, not nouveau)."""

    id = "vgpu-driver"
    modes = frozenset({"vgpu"})

    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """Fail per GPU on another driver or none, naming what to install."""
        findings = []
        for gpu in physical_gpus(host, context):
            vendor = vendor_of(gpu) or ""
            wanted = VGPU_DRIVERS.get(vendor, ())
            subject = str(gpu.address)
            if gpu.driver in wanted:
                findings.append(self.finding("ok", f"held by {gpu.driver}", subject=subject))
                continue
            if is_vfio(gpu.driver):
                why = "bound to vfio-pci: that is passthrough, vGPU needs the vendor's host driver"
            elif gpu.driver is None:
                why = "no driver: the vendor's vGPU host driver is not loaded"
            else:
                why = f"held by {gpu.driver}, not the vendor's vGPU host driver"
            loaded = [m for m in wanted if host.module_loaded(m)]
            evidence = [
                label(gpu),
                f"proc/modules: {', '.join(loaded) or 'no ' + '/'.join(wanted) or 'none'}",
            ]
            steps: list[str] = [_INSTALL.get(vendor, "install the vendor's vGPU host driver")]
            blacklist = ("nouveau",) if host.module_loaded("nouveau") else ()
            if is_vfio(gpu.driver):
                steps.insert(0, "remove the GPU's ids from vfio-pci's options")
            findings.append(
                self.finding(
                    "fail",
                    why,
                    subject=subject,
                    evidence=evidence,
                    fix=Fix(blacklist=blacklist, steps=tuple(steps)),
                )
            )
        return findings


class MdevTypes(Check):
    """Each GPU offers mdev types (itself or its SR-IOV functions), the fleet's among them."""

    id = "mdev-types"
    modes = frozenset({"vgpu"})

    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """Fail per GPU without mdev_supported_types, or without the type the fleet asks for."""
        findings = []
        for gpu in physical_gpus(host, context):
            subject = str(gpu.address)
            types = _types_of(host, gpu.address)
            where = f"{PCI_DEVICES}/{gpu.address}/mdev_supported_types"
            if not types:
                needed = [
                    _INSTALL.get(vendor_of(gpu) or "", "install the vendor's vGPU host driver")
                ]
                if gpu.function == "physical" and vendor_of(gpu) == "10de":
                    needed.append(
                        "on SR-IOV GPUs (Ampere and later) enable the virtual functions: "
                        f"{SRIOV_MANAGE} -e ALL"
                    )
                findings.append(
                    self.finding(
                        "fail",
                        "no mdev types: nova cannot create vGPUs here",
                        subject=subject,
                        evidence=[f"{where}: missing, and on no virtual function"],
                        fix=Fix(steps=tuple(needed)),
                    )
                )
            elif context.mdev_type is not None and context.mdev_type not in types:
                msg = f"mdev type {context.mdev_type} not offered"
                evidence = [f"{where}: {', '.join(sorted(set(types))[:8])}"]
                steps = (f"pick a type the GPU offers, or set up the GPU for {context.mdev_type}",)
                findings.append(
                    self.finding(
                        "fail", msg, subject=subject, evidence=evidence, fix=Fix(steps=steps)
                    )
                )
            else:
                shown = sorted(set(types))
                more = f" and {len(shown) - 6} more" if len(shown) > 6 else ""
                msg = f"mdev types: {', '.join(shown[:6])}{more}"
                findings.append(self.finding("ok", msg, subject=subject))
        return findings


def _types_of(host: HostSnapshot, gpu: PciAddress) -> list[str]:
    found = list(host.mdev_types.get(gpu, ()))
    for vf, pf in sorted(host.physfn.items()):
        if pf == gpu:
            found.extend(host.mdev_types.get(vf, ()))
    return found


class MdevctlPresent(Check):
    """mdevctl is installed where nova needs it: from nova 30 libvirt persists mdevs with it."""

    id = "mdevctl"
    modes = frozenset({"vgpu"})

    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """Fail without mdevctl on a release that needs it, warn when the release is unknown."""
        if host.mdevctl:
            return [self.finding("ok", "mdevctl installed")]
        evidence = [f"{', '.join(MDEVCTL[:2])}: missing"]
        release = context.release
        if release is not None and not release.has("mdev_persisted_by_libvirt"):
            msg = f"no mdevctl; nova on {release} creates mdevs without it"
            return [self.finding("ok", msg, evidence=evidence)]
        fix = Fix(steps=("install mdevctl (the package of that name)",))
        if release is None:
            msg = "no mdevctl: nova 30 (2024.2) and later persist vGPUs through libvirt and mdevctl"
            return [self.finding("warn", msg, evidence=evidence, fix=fix)]
        msg = f"no mdevctl: nova on {release} defines each vGPU through libvirt, which needs it"
        return [self.finding("fail", msg, evidence=evidence, fix=fix)]
