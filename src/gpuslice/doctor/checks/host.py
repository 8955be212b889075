"""Host checks: GPUs are visible, /dev/kvm exists, each GPU's NUMA node is known."""

from __future__ import annotations

from gpuslice.doctor.checks.base import Check
from gpuslice.doctor.checks.devices import gpus, label, physical_gpus
from gpuslice.doctor.snapshot import NUMA_ONLINE, PCI_DEVICES, HostSnapshot
from gpuslice.doctor.verdict import CheckContext, Finding, Fix


class GpusPresent(Check):
    """The snapshot shows the host's PCI devices and at least one GPU among them."""

    id = "gpus"

    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """Fail when the PCI devices are missing from the snapshot or hold no GPU."""
        if not host.pci_readable:
            fix = Fix(steps=("collect the snapshot again with `gpuslice doctor --collect`",))
            msg = f"no {PCI_DEVICES} in the snapshot: cannot see any GPU"
            return [self.finding("fail", msg, fix=fix)]
        found = gpus(host)
        if not found:
            msg = f"no GPU among {len(host.functions)} PCI functions"
            return [self.finding("fail", msg, evidence=[f"{PCI_DEVICES}: no display controller"])]
        cards = sum(1 for gpu in found if gpu.function == "physical")
        functions = len(found) - cards
        msg = f"{cards} GPU(s)" + (f" and {functions} virtual function(s)" if functions else "")
        return [self.finding("ok", msg, evidence=[label(gpu) for gpu in found])]


class KvmDevice(Check):
    """/dev/kvm exists: without it libvirt cannot start a KVM guest."""

    id = "kvm"

    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """Fail without dev/kvm, citing the kvm modules seen in proc/modules."""
        if host.kvm:
            return [self.finding("ok", "/dev/kvm present")]
        loaded = [m for m in ("kvm", "kvm_intel", "kvm_amd") if host.module_loaded(m)]
        evidence = [
            "dev/kvm: missing",
            f"proc/modules: {', '.join(loaded) if loaded else 'no kvm module'}",
        ]
        steps = (
            "enable VT-x (Intel) or AMD-V/SVM in the firmware setup",
            "load kvm_intel or kvm_amd (modprobe kvm_intel)",
        )
        return [self.finding("fail", "no /dev/kvm", evidence=evidence, fix=Fix(steps=steps))]


class NumaNodeKnown(Check):
    """Each GPU's NUMA node is known (nova's PCI NUMA affinity and pinned slices need it)."""

    id = "numa"

    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """Warn per GPU whose node is -1 on a host with several NUMA nodes (or an unknown count)."""
        findings = []
        for gpu in physical_gpus(host, context):
            subject = str(gpu.address)
            if gpu.numa_node is not None:
                findings.append(self.finding("ok", f"NUMA node {gpu.numa_node}", subject=subject))
            elif host.numa_nodes == 1:
                msg = "NUMA node -1 on a single-node host: nothing to place"
                findings.append(self.finding("ok", msg, subject=subject))
            else:
                nodes = "unknown" if host.numa_nodes is None else str(host.numa_nodes)
                evidence = [
                    f"{PCI_DEVICES}/{gpu.address}/numa_node: -1 or missing",
                    f"{NUMA_ONLINE}: {nodes} node(s)",
                ]
                steps = (
                    "update the firmware (the ACPI tables give no proximity for this slot); "
                    "nova treats the GPU as local to no NUMA node",
                )
                findings.append(
                    self.finding(
                        "warn",
                        "NUMA node unknown",
                        subject=subject,
                        evidence=evidence,
                        fix=Fix(steps=steps),
                    )
                )
        return findings
