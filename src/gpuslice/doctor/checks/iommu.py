"""IOMMU checks: the IOMMU is on, in pass-through mode, with interrupt remapping."""

from __future__ import annotations

from gpuslice.doctor.checks.base import Check
from gpuslice.doctor.snapshot import IOMMU_GROUPS, HostSnapshot
from gpuslice.doctor.verdict import CheckContext, Finding, Fix
from gpuslice.inventory.address import PciAddress

_OFF_ARGS = ("intel_iommu=off", "amd_iommu=off", "iommu=off")
_HOST_BRIDGE = PciAddress(0, 0, 0, 0)


def cpu_vendor(host: HostSnapshot) -> str | None:
    """`intel` or `amd` from the host bridge at 0000:00:00.0, else None (read as Intel)."""
    bridge = host.function(_HOST_BRIDGE)
    vendor = bridge.vendor_id if bridge is not None else None
    return {"8086": "intel", "1022": "amd"}.get(vendor or "")


def iommu_words(host: HostSnapshot) -> list[str]:
    """The IOMMU-related words of the kernel command line, as evidence."""
    if host.cmdline is None:
        return ["proc/cmdline: not in the snapshot"]
    words = [w for w in host.cmdline.words if "iommu" in w or w.startswith("intremap")]
    return [f"proc/cmdline: {' '.join(words) if words else 'no IOMMU argument'}"]


class IommuEnabled(Check):
    """The IOMMU is on: IOMMU groups exist and no `*iommu=off` is on the command line."""

    id = "iommu"

    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """Fail without IOMMU groups; the fix adds `intel_iommu=on` unless the host bridge is
        AMD's, takes off any `*iommu=off`, and names the firmware setting."""
        groups = host.groups or {}
        off = [w for w in (host.cmdline.words if host.cmdline else ()) if w in _OFF_ARGS]
        evidence = [f"{IOMMU_GROUPS}: {len(groups)} groups", *iommu_words(host)]
        if groups and not off:
            return [self.finding("ok", f"IOMMU on ({len(groups)} groups)", evidence=evidence)]
        # intel_iommu=on turns the Intel IOMMU on; the kernel's amd_iommu= knows no "on" (the
        # AMD IOMMU is on whenever the firmware's IVRS table is there, unless amd_iommu=off).
        add: tuple[str, ...] = () if cpu_vendor(host) == "amd" else ("intel_iommu=on",)
        steps = (
            "enable VT-d (Intel) or AMD-Vi/IOMMU in the firmware setup",
            "reboot, then check that /sys/kernel/iommu_groups has entries",
        )
        what = "IOMMU off" if not groups else "IOMMU turned off on the command line"
        fix = Fix(kernel_args=add, remove_kernel_args=tuple(off), steps=steps)
        return [
            self.finding(
                "fail", f"{what}: no device can be passed through", evidence=evidence, fix=fix
            )
        ]


class IommuPassThrough(Check):
    """`iommu=pt` is set, so host devices skip IOMMU translation (a performance matter)."""

    id = "iommu-pt"

    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """Warn when `iommu=pt` is missing; it is not needed for a VM to boot."""
        if host.cmdline is None:
            return [
                self.finding(
                    "warn", "kernel command line not in the snapshot", evidence=iommu_words(host)
                )
            ]
        if host.cmdline.value("iommu") == "pt":
            return [self.finding("ok", "iommu=pt set", evidence=iommu_words(host))]
        fix = Fix(kernel_args=("iommu=pt",))
        return [
            self.finding(
                "warn",
                "iommu=pt not set: the host's own devices pay for IOMMU translation",
                evidence=iommu_words(host),
                fix=fix,
            )
        ]


class InterruptRemapping(Check):
    """Interrupts are remapped (`IR-` chips in /proc/interrupts); vfio refuses devices without."""

    id = "interrupt-remapping"

    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """Fail when remapping is off, warn when only allow_unsafe_interrupts lets vfio work."""
        if host.cmdline is not None and host.cmdline.value("intremap") == "off":
            fix = Fix(remove_kernel_args=("intremap=off",))
            evidence = ["proc/cmdline: intremap=off"]
            return [
                self.finding("fail", "interrupt remapping turned off", evidence=evidence, fix=fix)
            ]
        if host.interrupts is None:
            return [self.finding("warn", "proc/interrupts not in the snapshot: cannot tell")]
        remapped = sorted({w for w in host.interrupts.split() if w.startswith("IR-")})
        if remapped:
            evidence = [f"proc/interrupts: {', '.join(remapped)}"]
            return [self.finding("ok", "interrupt remapping on", evidence=evidence)]
        evidence = ["proc/interrupts: no IR- interrupt chip"]
        if host.unsafe_interrupts:
            evidence.append("vfio_iommu_type1 allow_unsafe_interrupts=Y")
            msg = "no interrupt remapping; vfio works only because unsafe interrupts are allowed"
            return [self.finding("warn", msg, evidence=evidence)]
        steps = (
            "enable interrupt remapping (x2APIC, VT-d) in the firmware setup; with the IOMMU on, "
            "the kernel turns it on by itself",
        )
        msg = "no interrupt remapping: vfio refuses to assign devices"
        return [self.finding("fail", msg, evidence=evidence, fix=Fix(steps=steps))]
