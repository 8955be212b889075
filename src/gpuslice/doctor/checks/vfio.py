"""Boot-time checks: vfio-pci claims the GPUs and companions at every boot, before host drivers.

What binds a device at boot: `options vfio-pci ids=` in modprobe.d or `vfio-pci.ids=` on the
kernel command line (by ids), or a driverctl override (by address). What puts vfio-pci first:
`softdep <driver> pre: vfio-pci`, a blacklist of the host driver (modprobe.d, or
`modprobe.blacklist=`/`rd.driver.blacklist=`/`module_blacklist=` on the command line), or
vfio-pci built into the kernel. The initramfs must carry vfio-pci too when it carries a GPU
driver; dracut's `force_drivers`/`add_drivers`, initramfs-tools' modules file or
`rd.driver.pre=vfio-pci` do that.
"""

from __future__ import annotations

from gpuslice.doctor.checks.base import Check
from gpuslice.doctor.checks.devices import (
    GPU_HOST_DRIVERS,
    REBUILD,
    driver_module,
    ids,
    is_vfio,
    passed_through,
    vendor_of,
    vfio_candidates,
)
from gpuslice.doctor.config import module_name
from gpuslice.doctor.snapshot import HostSnapshot
from gpuslice.doctor.verdict import CheckContext, Finding, Fix, Status

VFIO_EARLY = ("vfio", "vfio_iommu_type1", "vfio_pci")
_BLACKLIST_ARGS = ("modprobe.blacklist", "rd.driver.blacklist", "module_blacklist")


def configured_ids(host: HostSnapshot) -> dict[str, str]:
    """vfio-pci's ids from modprobe.d and the command line, each with where it is set."""
    found: dict[str, str] = {}
    for value, source in host.modprobe.options("vfio-pci", "ids"):
        for item in value.split(","):
            found.setdefault(item.strip().lower(), source)
    if host.cmdline is not None:
        on_cmdline = host.cmdline.module_param("vfio-pci", "ids")
        for item in (on_cmdline or "").split(","):
            if item.strip():
                found.setdefault(item.strip().lower(), "proc/cmdline")
    return found


def vfio_builtin(host: HostSnapshot) -> bool:
    """vfio-pci is a registered driver but no loaded module: built into the kernel."""
    return (
        host.pci_drivers is not None
        and "vfio_pci" in host.pci_drivers
        and host.modules is not None
        and "vfio_pci" not in host.modules
    )


class VfioIds(Check):
    """vfio-pci is told to claim every GPU and companion at boot (by ids or driverctl)."""

    id = "vfio-ids"
    modes = frozenset({"passthrough"})

    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """Fail when a device nothing binds at boot is on no VFIO driver now; warn when it is."""
        devices = passed_through(host, context)
        if not devices:
            return []
        configured = configured_ids(host)
        missing = []
        evidence = []
        for device in devices:
            device_ids = ids(device)
            if device.address in host.driverctl and is_vfio(host.driverctl[device.address]):
                evidence.append(f"{device.address}: driverctl override to vfio-pci")
            elif device_ids is not None and device_ids in configured:
                evidence.append(f"{device.address} {device_ids}: {configured[device_ids]}")
            else:
                missing.append(device)
        if not missing:
            return [self.finding("ok", "vfio-pci claims every device at boot", evidence=evidence)]
        wanted = tuple(sorted({i for d in devices if (i := ids(d))}))
        fix = Fix(vfio_ids=wanted, steps=(REBUILD,))
        names = ", ".join(f"{d.address} ({ids(d) or 'ids unknown'})" for d in missing)
        status: Status = "warn" if all(is_vfio(d.driver) for d in missing) else "fail"
        msg = f"nothing binds {names} to vfio-pci at boot"
        if status == "warn":
            msg += " (bound now, by hand or by a tool gpuslice does not know)"
        evidence.append("no `options vfio-pci ids=` in modprobe.d for them, no vfio-pci.ids=")
        return [self.finding(status, msg, evidence=evidence, fix=fix)]


class VfioFirst(Check):
    """vfio-pci loads before every host driver that could take a GPU or companion."""

    id = "vfio-order"
    modes = frozenset({"passthrough"})

    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """Fail for a host driver holding a device with nothing ordering it after vfio-pci.

        Drivers considered: those holding one of the devices now, and the GPU vendor's host
        drivers that proc/modules shows loaded. Warn for the latter when they hold nothing.
        """
        devices = passed_through(host, context)
        if not devices:
            return []
        holding = {
            driver_module(d.driver)
            for d in devices
            if d.driver is not None and not is_vfio(d.driver) and driver_module(d.driver)
        }
        loaded = {
            module_name(m)
            for gpu in vfio_candidates(host, context)
            for m in GPU_HOST_DRIVERS.get(vendor_of(gpu) or "", ())
            if host.module_loaded(m)
        }
        drivers = sorted(holding | loaded)
        if not drivers:
            return [self.finding("ok", "no host driver for these devices is loaded")]
        builtin_ids = (
            vfio_builtin(host)
            and host.cmdline is not None
            and bool(host.cmdline.module_param("vfio-pci", "ids"))
        )
        findings = []
        for driver in drivers:
            why = self._ordered(host, driver)
            if why is None and builtin_ids:
                why = "vfio-pci is built in and vfio-pci.ids= is on the command line"
            if why is not None:
                findings.append(
                    self.finding("ok", f"vfio-pci before {driver}", subject=driver, evidence=[why])
                )
                continue
            status: Status = "fail" if driver in holding else "warn"
            msg = f"nothing loads vfio-pci before {driver}"
            msg += " (it holds a device now)" if driver in holding else " (loaded, holds none now)"
            fix = Fix(softdeps=(driver,), steps=(REBUILD,))
            evidence = [f"no `softdep {driver} pre: vfio-pci`, no blacklist of {driver}"]
            findings.append(self.finding(status, msg, subject=driver, evidence=evidence, fix=fix))
        return findings

    @staticmethod
    def _ordered(host: HostSnapshot, driver: str) -> str | None:
        source = host.modprobe.soft_pre(driver, "vfio-pci")
        if source is not None:
            return f"{source}: softdep {driver} pre: vfio-pci"
        source = host.modprobe.blocked(driver)
        if source is not None:
            return f"{source}: {driver} blacklisted"
        if host.cmdline is not None:
            for key in _BLACKLIST_ARGS:
                if host.cmdline.lists(key, driver):
                    return f"proc/cmdline: {key} lists {driver}"
        return None


class VfioInInitramfs(Check):
    """The initramfs loads vfio-pci early (it must when it carries a GPU driver)."""

    id = "vfio-initramfs"
    modes = frozenset({"passthrough"})

    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """Warn when no dracut/initramfs-tools setting or rd.driver.pre= loads vfio-pci early.

        Only a warning: the snapshot cannot show whether the initramfs carries a GPU driver.
        """
        if not passed_through(host, context):
            return []
        if vfio_builtin(host):
            return [self.finding("ok", "vfio-pci is built into the kernel")]
        source = host.initramfs.source_of("vfio_pci")
        if source is not None:
            return [self.finding("ok", "vfio-pci in the initramfs", evidence=[f"{source}"])]
        if host.cmdline is not None and host.cmdline.lists("rd.driver.pre", "vfio_pci"):
            evidence = ["proc/cmdline: rd.driver.pre=vfio-pci"]
            return [self.finding("ok", "vfio-pci loaded first in the initramfs", evidence=evidence)]
        tool = host.initramfs.tool
        if tool == "initramfs-tools":  # no drop-in directory: one line each in its modules file
            step = f"add {', '.join(VFIO_EARLY)} to /etc/initramfs-tools/modules, one per line"
            fix = Fix(steps=(step, REBUILD))
        else:
            fix = Fix(early_modules=VFIO_EARLY, steps=(REBUILD,))
        if tool is None:
            msg = "no dracut or initramfs-tools configuration in the snapshot: cannot tell"
        else:
            msg = f"vfio-pci not in the initramfs ({tool}): a GPU driver there would win the race"
        return [self.finding("warn", msg, fix=fix)]
