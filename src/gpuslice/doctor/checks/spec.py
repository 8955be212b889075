"""The plan's device_spec against the host: each spec matches a device, each GPU a spec."""

from __future__ import annotations

from gpuslice.doctor.checks.base import Check
from gpuslice.doctor.checks.devices import gpus, ids, label
from gpuslice.doctor.snapshot import HostSnapshot
from gpuslice.doctor.verdict import CheckContext, Finding, Fix
from gpuslice.inventory.address import PciAddress
from gpuslice.inventory.function import PciFunction


def spec_matches(spec: dict[str, str], function: PciFunction) -> bool:
    """Whether a passthrough spec's vendor_id, product_id and address (where given) match."""
    if "vendor_id" in spec and spec["vendor_id"].lower() != (function.vendor_id or ""):
        return False
    if "product_id" in spec and spec["product_id"].lower() != (function.product_id or ""):
        return False
    if "address" in spec:
        try:
            return PciAddress.parse(spec["address"]) == function.address
        except ValueError:
            return False
    return True


class DeviceSpecMatches(Check):
    """The fleet's GPUs are where the host shows them and the rendered device_spec matches them."""

    id = "device-spec"
    modes = frozenset({"passthrough"})

    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """Fail for a spec that matches nothing or a fleet GPU the host lacks; warn for a GPU
        no spec matches (nova will not offer it). Silent without a fleet."""
        if context.device_spec is None or not host.pci_readable:
            return []
        findings = []
        render = Fix(steps=("correct the fleet file, render again and restart nova-compute",))
        for address, expected in context.fleet_gpus or ():
            try:
                function = host.function(PciAddress.parse(address))
            except ValueError:
                function = None
            if function is None:
                msg = f"the fleet lists GPU {address} ({expected}); the host has no such device"
                findings.append(self.finding("fail", msg, subject=address, fix=render))
            elif expected is not None and ids(function) != expected:
                msg = f"the fleet says {expected}, the host shows {ids(function)}"
                findings.append(
                    self.finding(
                        "fail", msg, subject=address, evidence=[label(function)], fix=render
                    )
                )
        for spec in context.device_spec:
            matched = [f for f in host.functions if spec_matches(spec, f)]
            if not matched:
                msg = f"device_spec {spec} matches no device on the host"
                findings.append(self.finding("fail", msg, fix=render))
        for gpu in gpus(host):
            if not any(spec_matches(spec, gpu) for spec in context.device_spec):
                msg = "no device_spec matches this GPU: nova will not offer it"
                findings.append(
                    self.finding(
                        "warn", msg, subject=str(gpu.address), evidence=[label(gpu)], fix=render
                    )
                )
        if not findings:
            shown = "; ".join(str(s) for s in context.device_spec) or "none"
            findings.append(
                self.finding("ok", "device_spec matches the host's GPUs", evidence=[shown])
            )
        return findings
