"""SR-IOV vGPU checks: the VFs the fleet lists exist, belong to their card and are set up.

Two kinds of VF (docs/vgpu.md, "SR-IOV based vGPU"):
- a *variant VF* (`vfio_variant: true`): passed through whole with nova's `managed: no`, so
  libvirt neither binds nor unbinds it; the vendor's vfio variant driver must hold it already;
- a VF of a `vgpu_on: vfs` card: one mdev-capable device offering the model's type, one vGPU.
Either way the VF must exist (its card's `sriov_numvfs` made it) and, for the second kind, its
`physfn` link must point at the card the fleet lists it under. Only the snapshot can tell
which card a VF belongs to: the fleet's addresses alone cannot.
"""

from __future__ import annotations

import contextlib

from gpuslice.doctor.checks.base import Check
from gpuslice.doctor.checks.devices import (
    gpus,
    ids,
    is_variant_driver,
    label,
    variant_vfs,
    vendor_of,
)
from gpuslice.doctor.checks.vfio import configured_ids
from gpuslice.doctor.snapshot import PCI_DEVICES, HostSnapshot
from gpuslice.doctor.verdict import CardVfs, CheckContext, Finding, Fix, Status
from gpuslice.inventory.address import PciAddress
from gpuslice.inventory.function import PciFunction

#: NVIDIA's script that makes a card's VFs (the vGPU Manager installs it).
SRIOV_MANAGE = "/usr/lib/nvidia/sriov-manage"


def create_vfs_steps(host: HostSnapshot, card: PciFunction | None, at_least: int) -> list[str]:
    """How to make `card`'s VFs: NVIDIA's `sriov-manage -e`, or the kernel's `sriov_numvfs`.

    The kernel refuses a new count while VFs exist, so a card that has some is set to 0
    first; the count asked is the card's `sriov_totalvfs` where known, else `at_least`.
    """
    if card is None:
        return [
            f"create the card's VFs (NVIDIA: {SRIOV_MANAGE} -e ALL; any vendor: "
            "echo N > /sys/bus/pci/devices/<card>/sriov_numvfs), then collect the snapshot again"
        ]
    steps = []
    if vendor_of(card) == "10de":
        steps.append(f"{SRIOV_MANAGE} -e {card.address}")
    count = card.sriov_totalvfs or at_least
    path = f"/sys/bus/pci/devices/{card.address}/sriov_numvfs"
    write = f"echo {count} > {path}"
    if host.numvfs.get(card.address):
        write = f"echo 0 > {path}; {write}"
    steps.append(("or, without it: " if steps else "") + write)
    return steps


def _parse(address: str) -> PciAddress | None:
    with contextlib.suppress(ValueError):
        return PciAddress.parse(address)
    return None


def _numvfs(host: HostSnapshot, card: PciAddress) -> str:
    count = host.numvfs.get(card)
    return f"{PCI_DEVICES}/{card}/sriov_numvfs: {'missing' if count is None else count}"


def _variant_addresses(host: HostSnapshot, context: CheckContext) -> tuple[str, ...]:
    """The fleet's variant VFs as it lists them (present or not); without a fleet, the VFs a
    variant driver holds now."""
    if context.fleet_gpus is None:
        return tuple(str(g.address) for g in variant_vfs(host, context))
    return context.variant_vfs


class VariantDriver(Check):
    """Each variant VF exists, is a VF, and its vendor's vfio variant driver holds it."""

    id = "variant-driver"

    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """Per VF the fleet lists for a `vfio_variant` model (without a fleet, per VF a variant
        driver holds): fail when it is missing, not a
        VF, or on vfio-pci, another driver or none; else ok. Fail too when vfio-pci's ids list
        the VFs' ids, which are their card's.

        nova 34 only copies `managed: no` from the device_spec to the guest's hostdev
        (`pci/devspec.py`, `virt/libvirt/driver.py` `_set_managed_mode`) and checks no driver:
        libvirt then uses the VF as it is bound, and binds nothing itself.
        """
        findings: list[Finding] = []
        variant = self._variant_driver(host)
        for address in _variant_addresses(host, context):
            findings.append(self._judge(host, context, address, variant))
        findings.extend(self._ids_claim_cards(host, context))
        return findings

    @staticmethod
    def _variant_driver(host: HostSnapshot) -> str | None:
        """The variant driver this host shows: one holding a device, else one registered."""
        held = sorted(
            {f.driver for f in host.functions if f.driver and is_variant_driver(f.driver)}
        )
        if held:
            return held[0]
        registered = sorted(d for d in host.pci_drivers or () if is_variant_driver(d))
        return registered[0] if registered else None

    def _judge(
        self, host: HostSnapshot, context: CheckContext, address: str, variant: str | None
    ) -> Finding:
        parsed = _parse(address)
        vf = None if parsed is None else host.function(parsed)
        if parsed is None or vf is None:
            # The VFs share their card's ids: its cards are the SR-IOV cards of those ids.
            wanted = dict(context.fleet_gpus or ()).get(address)
            cards = [
                g
                for g in gpus(host)
                if g.function == "physical" and (g.sriov_totalvfs or 0) > 0 and ids(g) == wanted
            ]
            evidence = [f"{PCI_DEVICES}/{address}: missing"]
            evidence += [_numvfs(host, c.address) for c in cards]
            steps: list[str] = []
            for card in cards:
                steps.extend(create_vfs_steps(host, card, 1))
            steps = steps or create_vfs_steps(host, None, 1)
            return self.finding(
                "fail",
                "no such VF: its card's virtual functions are not created",
                subject=address,
                evidence=evidence,
                fix=Fix(steps=tuple(steps)),
            )
        subject = str(vf.address)
        if vf.function != "virtual":
            msg = "not a virtual function (no physfn link): vfio_variant is for a card's VFs"
            fix = Fix(steps=("list the card's VFs under gpus:, not the card",))
            return self.finding("fail", msg, subject=subject, evidence=[label(vf)], fix=fix)
        parent = host.physfn.get(vf.address)
        evidence = [label(vf)]
        if parent is not None:
            evidence.append(f"VF of {parent}; {_numvfs(host, parent)}")
        if is_variant_driver(vf.driver):
            msg = f"held by the vfio variant driver {vf.driver} (managed: no uses it as bound)"
            return self.finding("ok", msg, subject=subject, evidence=evidence)
        if vf.driver is None:
            why = "no driver: with managed: no libvirt binds nothing, and the GPU VM cannot start"
        elif vf.driver in {"vfio-pci", "vfio_pci"}:
            why = (
                "on plain vfio-pci: the VF carries a vGPU type only on its vendor's vfio variant "
                "driver"
            )
        else:
            why = f"held by {vf.driver}, not a vfio variant driver: libvirt will not rebind it"
        return self.finding(
            "fail", why, subject=subject, evidence=evidence, fix=self._rebind(vf, variant)
        )

    @staticmethod
    def _rebind(vf: PciFunction, variant: str | None) -> Fix:
        if variant is None:
            steps = [
                "install the vendor's vfio variant driver (NVIDIA: the vGPU Manager of vGPU 17 "
                "or later on a kernel with vfio variant drivers), then bind the VF to it"
            ]
        else:
            steps = [f"driverctl set-override {vf.address} {variant}"]
        return Fix(steps=tuple(steps))

    def _ids_claim_cards(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """One failure per vendor:product id of variant VFs that vfio-pci's ids list."""
        configured = configured_ids(host)
        by_ids: dict[str, list[str]] = {}
        for address in _variant_addresses(host, context):
            parsed = _parse(address)
            vf = None if parsed is None else host.function(parsed)
            vf_ids = None if vf is None else ids(vf)
            if vf_ids is not None and vf_ids in configured:
                by_ids.setdefault(vf_ids, []).append(address)
        found = []
        for vf_ids, vfs in sorted(by_ids.items()):
            msg = (
                f"vfio-pci's ids list {vf_ids}, the ids of VF {', '.join(vfs)} and of its card: "
                "vfio-pci would take the card off the vendor's host driver at boot"
            )
            steps = (f"remove {vf_ids} from vfio-pci's ids ({configured[vf_ids]})",)
            evidence = [f"{configured[vf_ids]}: vfio-pci ids {vf_ids}"]
            found.append(self.finding("fail", msg, evidence=evidence, fix=Fix(steps=steps)))
        return found


class VgpuVfs(Check):
    """Each `vgpu_on: vfs` card has made enough VFs, and each listed VF is its own and offers
    the model's mdev type."""

    id = "vgpu-vfs"
    modes = frozenset({"vgpu"})

    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """Per card: fail when `sriov_numvfs` is below `vgpus_per_gpu`; per listed VF, fail
        (warn for a VF past the first `vgpus_per_gpu`, which the plan does not use) when it
        is missing, not a VF of that card, or lacks the type; ok per card when all hold."""
        findings: list[Finding] = []
        for card in context.card_vfs:
            findings.extend(self._card(host, card))
        return findings

    def _card(self, host: HostSnapshot, spec: CardVfs) -> list[Finding]:
        address = _parse(spec.card)
        card = None if address is None else host.function(address)
        if address is None or card is None:
            return []  # gpus-present says the card is missing
        findings = []
        made = host.numvfs.get(address)
        if made is None or made < spec.used:
            have = "no sriov_numvfs" if made is None else f"sriov_numvfs is {made}"
            msg = f"{have}: the card needs at least {spec.used} VFs (vgpus_per_gpu)"
            findings.append(
                self.finding(
                    "fail",
                    msg,
                    subject=spec.card,
                    evidence=[_numvfs(host, address)],
                    fix=Fix(steps=tuple(create_vfs_steps(host, card, spec.used))),
                )
            )
        for index, vf in enumerate(spec.vfs):
            status: Status = "fail" if index < spec.used else "warn"
            finding = self._vf(host, spec, card, vf, status)
            if finding is not None:
                findings.append(finding)
        if not findings:
            msg = f"{len(spec.vfs)} VF(s) of the card offer {spec.mdev_type}; sriov_numvfs {made}"
            findings.append(self.finding("ok", msg, subject=spec.card))
        return findings

    def _vf(
        self, host: HostSnapshot, spec: CardVfs, card: PciFunction, vf: str, status: Status
    ) -> Finding | None:
        address = _parse(vf)
        function = None if address is None else host.function(address)
        where = f"VF {vf} of card {spec.card}"
        if address is None or function is None:
            return self.finding(
                status,
                f"{where}: no such VF in the snapshot",
                subject=vf,
                evidence=[f"{PCI_DEVICES}/{vf}: missing", _numvfs(host, card.address)],
                fix=Fix(steps=tuple(create_vfs_steps(host, card, spec.used))),
            )
        parent = host.physfn.get(address)
        if parent != card.address:
            actual = "no physfn link: not a VF" if parent is None else f"its physfn is {parent}"
            steps = (f"list under {spec.card}'s vfs: only its own VFs (their physfn is the card)",)
            return self.finding(
                status,
                f"{where}: not a VF of that card ({actual})",
                subject=vf,
                evidence=[label(function), f"{PCI_DEVICES}/{vf}/physfn: {parent or 'missing'}"],
                fix=Fix(steps=steps),
            )
        types = host.mdev_types.get(address, ())
        if spec.mdev_type in types:
            return None
        offered = ", ".join(types[:6]) or "none"
        return self.finding(
            status,
            f"{where}: mdev type {spec.mdev_type} not offered",
            subject=vf,
            evidence=[f"{PCI_DEVICES}/{vf}/mdev_supported_types: {offered}"],
            fix=Fix(
                steps=(
                    f"load the vendor's vGPU host driver on {spec.card} so its VFs offer "
                    f"{spec.mdev_type}, or pick a type they offer",
                )
            ),
        )
