"""Every reach into nova's internals, in one place. Written for nova 34.0.0 (2026.2) with
openstack-placement 16.0.0; check each marked spot when moving to another nova.

nova's wheel ships its functional harness: `ServersTestBase` runs the real API, conductor,
scheduler and Placement in this process, and computes that run the real libvirt driver over a
fake libvirt. A run here is one testtools test of a subclass of it, whose test body calls back
into gpuslice with a `NovaTwin`: the small, stable surface the scenario code uses.

nova's harness shares one oslo.config CONF between all services of a run. A run holds the
controllers' options; a compute started with its own options (`NovaTwin.start_host(conf=...)`)
has them put in place on the shared CONF whenever its resource tracker runs (`_HostScope`).
"""

from __future__ import annotations

# nova.tests.functional switches eventlet on; it must come before any other nova import or
# concurrent builds fail with "Can't upgrade a READER transaction to a WRITER".
import nova.tests.functional  # noqa: F401  # isort: skip

import contextlib
import copy
import functools
import importlib
import logging
import re
import time
import uuid
import uuid as uuid_module
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from unittest import mock

import testtools
from nova import conf as nova_conf
from nova import context as nova_context
from nova import objects
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.functional.api import client as api_client
from nova.tests.functional.libvirt import base
from nova.virt.libvirt import driver as libvirt_driver
from nova.virt.libvirt import host as libvirt_host
from nova.virt.libvirt import utils as libvirt_utils

from gpuslice.errors import GpusliceError, InputError, ServiceUnreachableError
from gpuslice.inventory.device import GpuDevice
from gpuslice.twin.confcheck import registry_from_list_opts
from gpuslice.twin.ini import ConfEntry

CONF = nova_conf.CONF

# The image nova's GlanceFixture always offers (nova/tests/fixtures/glance.py, nova 34).
_IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
_MICROVERSION = "2.96"


class TwinError(ServiceUnreachableError):
    """Real Nova could not be started or driven (not a promise failure): exit 3."""


@dataclass(frozen=True)
class FakeHost:
    """A hypervisor as the fake libvirt shows it to nova."""

    name: str
    cpus: tuple[int, ...]
    numa_nodes: int
    memory_mb: int
    disk_gb: int
    gpus: tuple[GpuDevice, ...]
    service_host: str | None = None
    hypervisor_hostname: str | None = None
    # vGPU cards: (PCI address, mdev type, available instances on an empty card).
    mdev_cards: tuple[tuple[str, str, int], ...] = ()
    # NUMA node -> its CPU ids, as the fleet gives them (empty: the fake's own layout).
    cpu_numa: tuple[tuple[int, tuple[int, ...]], ...] = ()


@dataclass
class Boot:
    """What became of one boot request."""

    server_id: str
    name: str
    status: str
    fault: str = ""
    host: str | None = None

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"


@dataclass
class RunSpec:
    """What a run starts with: the controllers' options and the body to run."""

    controller_conf: Sequence[ConfEntry]
    body: Callable[[NovaTwin], None]
    raised: GpusliceError | None = None


def _group(section: str) -> str | None:
    return None if section == "DEFAULT" else section


def grouped(entries: Sequence[ConfEntry]) -> dict[tuple[str, str], list[ConfEntry]]:
    """Entries by (section, option), repeated options (MultiStrOpt) kept together in order."""
    out: dict[tuple[str, str], list[ConfEntry]] = {}
    for entry in entries:
        out.setdefault((entry.section, entry.name), []).append(entry)
    return out


def conf_values(entries: Sequence[ConfEntry]) -> dict[tuple[str, str], Any]:
    """(section, option) -> the value oslo.config takes for it: a list for a MultiStrOpt."""
    out: dict[tuple[str, str], Any] = {}
    for (section, name), items in grouped(entries).items():
        values = [e.value for e in items]
        out[(section, name)] = values if is_multi(section, name) else values[-1]
    return out


class _HostScope:
    """One compute's own options, put on the shared CONF while its code runs.

    nova 34 reads the options that differ between computes (reserved_host_*, the allocation
    ratios, `[pci] device_spec`, `[compute] provider_config_location`) when the resource
    tracker and the PCI tracker are made (at service start), in the tracker's updates (each
    claim, each delete, each periodic update: `_update_usage_from_instances`, the driver's
    `update_provider_tree`). So the compute starts inside the scope and every public method of
    its resource tracker runs inside it. Scopes nest: leaving one puts back what was before.
    Builds run one at a time here, so no two computes' code interleave inside a scope.
    """

    def __init__(self, values: Mapping[tuple[str, str], Any]) -> None:
        self.values = dict(values)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        saved = {key: _get_option(*key) for key in self.values}
        _set_options(self.values)
        try:
            yield
        finally:
            _set_options(saved)

    def wrap(self, target: Any) -> None:
        """Run every public method of `target` (an object) inside this scope."""
        for name in dir(type(target)):
            if name.startswith("_"):
                continue
            method = getattr(target, name, None)
            if callable(method) and hasattr(method, "__self__"):
                setattr(target, name, self._scoped(method))

    def _scoped(self, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            with self.active():
                return method(*args, **kwargs)

        return call


def _get_option(section: str, name: str) -> Any:
    group = _group(section)
    return getattr(CONF, name) if group is None else getattr(getattr(CONF, group), name)


def _set_options(values: Mapping[tuple[str, str], Any]) -> None:
    for (section, name), value in values.items():
        CONF.set_override(name, value, group=_group(section))


def is_multi(section: str, name: str) -> bool:
    """Whether nova registers this option as a MultiStrOpt (written once per value)."""
    opt = CONF._get_opt_info(name, _group(section))["opt"]  # nova 34: oslo.config private
    return bool(getattr(opt, "multi", False))


class _TwinCase(base.ServersTestBase):  # type: ignore[misc]
    """One run of real nova: controllers from `spec`, computes started by the body."""

    ADMIN_API = True
    microversion = _MICROVERSION
    spec: RunSpec

    def _setup_services(self) -> None:
        # Quotas are not what verify checks: a fill of a large host must not stop at the
        # default 10 instances / 20 cores. The rendered options still apply on top.
        self.flags(instances=-1, cores=-1, ram=-1, group="quota")
        # Controllers' options go in before the scheduler starts (it reads its filters then).
        self.twin_apply(self.spec.controller_conf)
        try:
            use_shipped_api_paste(self)
        except GpusliceError as error:
            self.spec.raised = error
            raise
        super()._setup_services()

    def twin_apply(self, entries: Sequence[ConfEntry]) -> None:
        for (section, name), items in grouped(entries).items():
            values = [e.value for e in items]
            try:
                value: Any = values if is_multi(section, name) else values[-1]
                self.flags(**{name: value, "group": _group(section)})
            except Exception as error:  # oslo.config raises several types here
                where = items[0].where
                msg = f"nova refused [{section}] {name} = {values[-1]!r}: {error}"
                raise InputError(msg, source=where) from None
            if (section, name) == ("devices", "enabled_mdev_types"):
                # nova registers [mdev_<type>] groups only once it knows the types.
                nova_conf.devices.register_dynamic_opts(CONF)

    def setUp(self) -> None:
        super().setUp()
        # Debug records are formatted by the harness even when not kept; on a shared
        # machine that is most of the run's time.
        logging.getLogger().setLevel(logging.INFO)

    def runTest(self) -> None:  # noqa: N802 (unittest's name)
        try:
            self.spec.body(NovaTwin(self))
        except GpusliceError as error:
            self.spec.raised = error


class NovaTwin:
    """What gpuslice does with a running real Nova: start hosts, create objects, boot, look."""

    def __init__(self, case: _TwinCase) -> None:
        self._case = case
        self.api = case.api
        self.placement = case.placement

    # --- configuration and hosts ---------------------------------------------------------

    def apply(self, entries: Sequence[ConfEntry]) -> None:
        """Set options on the shared CONF (a compute reads them when it starts)."""
        self._case.twin_apply(entries)

    def override(self, section: str, name: str, value: Any) -> None:
        """Set one option gpuslice itself decides (paths of this run)."""
        self._case.flags(**{name: value, "group": _group(section)})

    def current(self, section: str, name: str) -> Any:
        """The value the run's CONF holds now."""
        group = _group(section)
        return getattr(CONF, name) if group is None else getattr(getattr(CONF, group), name)

    def start_host(
        self,
        host: FakeHost,
        *,
        node_uuid: str | None = None,
        conf: Mapping[tuple[str, str], Any] | None = None,
    ) -> str:
        """Start a nova-compute for `host`; returns its compute node's provider uuid.

        nova 34: the harness's start_compute fixes 16 online CPUs, a 128 GB disk and uses one
        name for the service host and the hypervisor hostname; this sets all of them apart.
        `conf` ((section, option) -> value, as `conf_values` gives): this compute's own
        options, in place whenever its code reads them (`_HostScope`); without it the compute
        reads the shared CONF as it is.
        """
        if conf is None:
            return self._start(host, node_uuid)
        scope = _HostScope(conf)
        with scope.active():
            node_id = self._start(host, node_uuid)
        scope.wrap(self._case.computes[host.service_host or host.name].manager.rt)
        return node_id

    def _start(self, host: FakeHost, node_uuid: str | None) -> str:
        case = self._case
        cpus = len(host.cpus)
        nodes = host.numa_nodes if host.numa_nodes > 0 and cpus % host.numa_nodes == 0 else 1
        host_info = fakelibvirt.HostInfo(
            cpu_nodes=nodes,
            cpu_sockets=1,
            cpu_cores=cpus // nodes,
            cpu_threads=1,
            # The fake hands kB_mem to nova where libvirt gives MiB.
            kB_mem=host.memory_mb,
        )
        # ...but its NUMA cells take it as KiB; give each cell its share in KiB.
        for cell in host_info.numa_topology.cells:
            cell.memory = host.memory_mb * 1024 // nodes
            cell.mempages = fakelibvirt.create_mempages([(4, cell.memory // 4)])
        _lay_out_cells(host_info, host, nodes)
        pci_info = fakelibvirt.HostPCIDevicesInfo(num_pci=0, num_pfs=0, num_vfs=0)
        cards = {address: (mdev_type, count) for address, mdev_type, count in host.mdev_cards}
        listed = {gpu.address for gpu in host.gpus}
        for index, gpu in enumerate(host.gpus):
            if gpu.address in cards:
                _add_mdev_card(pci_info, gpu, index, *cards[gpu.address])
                continue
            if gpu.device_type == "type-VF":
                _add_vf(pci_info, gpu, index, listed)
                continue
            # nova 34 fakelibvirt: a "PF" carries a virt_functions capability (vf_ratio 0: none
            # enabled, as on an SR-IOV-capable GPU passed through whole), which nova's libvirt
            # driver reports as type-PF.
            pf = gpu.device_type == "type-PF"
            pci_info.add_device(
                dev_type="PF" if pf else "PCI",
                vf_ratio=0 if pf else None,
                driver_name=gpu.driver or "vfio-pci",
                **_fake_device_fields(gpu, index),
            )
        service_host = host.service_host or host.name
        connection = fakelibvirt.Connection(
            "qemu:///system",
            version=fakelibvirt.FAKE_LIBVIRT_VERSION,
            hv_version=fakelibvirt.FAKE_QEMU_VERSION,
            host_info=host_info,
            pci_info=pci_info,
            hostname=host.hypervisor_hostname or host.name,
        )
        # The harness has mocked both already (autospec mocks cannot be patched twice).
        libvirt_host.Host.get_online_cpus.return_value = set(range(cpus))
        libvirt_driver.LibvirtDriver._get_local_gb_info.return_value = {
            "total": host.disk_gb,
            "used": 0,
            "free": host.disk_gb,
        }
        node_id = node_uuid or stable_node_uuid(service_host)
        if cards:
            self._count_mdevs_down()
        if any(gpu.device_type == "type-VF" for gpu in host.gpus):
            self._no_sysfs_for_address_specs()
        original = case.mock_conn.return_value
        case.mock_conn.return_value = connection
        try:
            with mock.patch("nova.virt.node.get_local_node_uuid", return_value=node_id):
                compute = case.start_service("compute", host=service_host)
                compute.driver._host.get_connection = lambda: connection
                # The harness's mocks of these are one per class: pin this host's own values
                # on its driver, so that later periodic updates read them, not the last host's.
                online = set(range(cpus))
                disk = {"total": host.disk_gb, "used": 0, "free": host.disk_gb}
                compute.driver._host.get_online_cpus = lambda: set(online)
                compute.driver._get_local_gb_info = lambda: dict(disk)
                compute.driver._host.get_node_uuid()
        finally:
            case.mock_conn.return_value = original
        case.computes[service_host] = compute
        return node_id

    def _count_mdevs_down(self) -> None:
        """Create mdevs in the fake as hardware does: the parent's available instances drop.

        nova 34's fakelibvirt keeps `availableInstances` constant and has no mdev creation;
        nova's own vGPU tests patch `LibvirtDriver._create_mdev` the same way (once per run).
        """
        if getattr(self._case, "_gpuslice_mdevs", False):
            return
        self._case._gpuslice_mdevs = True

        def create_mdev(driver: Any, dev_name: str, mdev_type: str, uuid: str | None = None) -> str:
            made = uuid or str(uuid_module.uuid4())
            connection = driver._host.get_connection()
            parent = connection.pci_info.devices[dev_name]
            parent.pci_device = _AVAILABLE.sub(
                lambda m: f"{m[1]}{int(m[2]) - 1}{m[3]}", parent.pci_device, count=1
            )
            name = libvirt_utils.mdev_uuid2name(made)
            connection.mdev_info.devices[name] = fakelibvirt.FakeMdevDevice(
                dev_name=name, type_id=mdev_type, parent=dev_name
            )
            return made

        patcher = mock.patch.object(libvirt_driver.LibvirtDriver, "_create_mdev", new=create_mdev)
        patcher.start()
        self._case.addCleanup(patcher.stop)

    def _no_sysfs_for_address_specs(self) -> None:
        """A device_spec by address makes nova ask sysfs whether it is a PF (`pci/utils.py`
        `is_physical_function`), which the harness forbids; the fake has no sysfs. gpuslice
        writes address specs for VFs only, so the answer is no (nova's own SR-IOV functional
        tests patch the same function)."""
        if getattr(self._case, "_gpuslice_no_sysfs", False):
            return
        self._case._gpuslice_no_sysfs = True
        patcher = mock.patch("nova.pci.utils.is_physical_function", return_value=False)
        patcher.start()
        self._case.addCleanup(patcher.stop)

    def try_start_host(self, host: FakeHost, *, node_uuid: str | None = None) -> str:
        """Start a compute as `start_host` does; returns nova's error text, or "" if it started."""
        try:
            self.start_host(host, node_uuid=node_uuid)
        except Exception as error:  # whatever nova raised is the finding
            return f"{type(error).__name__}: {error}"
        return ""

    def pci_devices(self, service_host: str) -> list[tuple[str, str, str, str, str]]:
        """(address, vendor, product, status, device type) of every PCI device nova tracks."""
        ctxt = nova_context.get_admin_context()
        nodes = objects.ComputeNodeList.get_all_by_host(ctxt, service_host)
        out: list[tuple[str, str, str, str, str]] = []
        for node in nodes:
            for dev in objects.PciDeviceList.get_by_compute_node(ctxt, node.id):
                out.append((dev.address, dev.vendor_id, dev.product_id, dev.status, dev.dev_type))
        return out

    def run_periodics(self) -> None:
        """Run every compute's `update_available_resource` once, as a cloud does each minute.

        nova 34 writes a new compute node's allocation ratios from `initial_*_allocation_ratio`
        (cpu 4.0) and only the first periodic update puts nova.conf's values in the scheduler's
        host state (Placement has nova.conf's at once). Raises TwinError when an update logs a
        traceback (nova's own `_run_periodics` check reads the whole log, where an earlier "No
        valid host" has left one).
        """
        log = self._case.stdlog.logger
        start = len(log.output)
        for host in list(self._case.computes):
            self.run_periodic(host)
        new = log.output[start:]
        if "Traceback (most recent call last" in new:
            raise TwinError(f"a periodic resource update failed: {new.splitlines()[-1]}")

    def run_periodic(self, service_host: str) -> None:
        """Run one compute's `update_available_resource` (what it does each minute)."""
        case = self._case
        ctxt = nova_context.get_admin_context()
        with nova_context.target_cell(ctxt, case.host_mappings[service_host].cell_mapping) as cc:
            case.computes[service_host].manager.update_available_resource(cc)

    def watch_weighing(self) -> list[list[NovaWeighed]]:
        """From now on, every weighing nova's scheduler does, best first, with the host-state
        values its weighers read (nova 34 `HostManager.get_weighed_hosts`)."""
        from nova.scheduler import host_manager

        seen: list[list[NovaWeighed]] = []
        original = host_manager.HostManager.get_weighed_hosts

        def record(manager: Any, hosts: Any, spec: Any) -> Any:
            weighed = original(manager, hosts, spec)
            scores = _scores(manager.weighers, hosts, spec) if len(hosts) > 1 else {}
            seen.append([_weighed(w, scores.get(w.obj.host, ())) for w in weighed])
            return weighed

        patcher = mock.patch.object(host_manager.HostManager, "get_weighed_hosts", new=record)
        patcher.start()
        self._case.addCleanup(patcher.stop)
        return seen

    def logs(self) -> str:
        """Everything nova logged at INFO and above in this run so far."""
        return str(self._case.stdlog.logger.output)

    # --- placement -----------------------------------------------------------------------

    def provider(self, name: str) -> dict[str, Any] | None:
        body = self.placement.get(f"/resource_providers?name={name}", version="1.14").body
        providers = body["resource_providers"]
        return dict(providers[0]) if providers else None

    def providers(self) -> list[dict[str, Any]]:
        body = self.placement.get("/resource_providers", version="1.14").body
        return list(body["resource_providers"])

    def inventories(self, rp_uuid: str) -> dict[str, dict[str, Any]]:
        body = self.placement.get(f"/resource_providers/{rp_uuid}/inventories").body
        return dict(body["inventories"])

    def traits(self, rp_uuid: str) -> list[str]:
        body = self.placement.get(f"/resource_providers/{rp_uuid}/traits", version="1.6").body
        return list(body["traits"])

    def usages(self, rp_uuid: str) -> dict[str, int]:
        body = self.placement.get(f"/resource_providers/{rp_uuid}/usages").body
        return dict(body["usages"])

    def allocations(self, server_id: str) -> dict[str, dict[str, int]]:
        body = self.placement.get(f"/allocations/{server_id}").body
        return {rp: dict(a["resources"]) for rp, a in body["allocations"].items()}

    def ensure_trait(self, trait: str) -> None:
        self.placement.put(f"/traits/{trait}", None, version="1.6")

    def ensure_resource_class(self, name: str) -> None:
        self.placement.put(f"/resource_classes/{name}", None, version="1.7")

    def add_provider_traits(self, rp_uuid: str, traits: Sequence[str]) -> None:
        provider = self.placement.get(f"/resource_providers/{rp_uuid}/traits", version="1.6")
        body = provider.body
        merged = sorted(set(body["traits"]) | set(traits))
        self.placement.put(
            f"/resource_providers/{rp_uuid}/traits",
            {
                "traits": merged,
                "resource_provider_generation": body["resource_provider_generation"],
            },
            version="1.6",
        )

    # --- compute API ---------------------------------------------------------------------

    def create_flavor(
        self,
        name: str,
        vcpus: int,
        ram: int,
        disk: int,
        *,
        is_public: bool = True,
        extra_specs: Mapping[str, str] | None = None,
    ) -> str:
        body = {
            "flavor": {
                "name": name,
                "vcpus": vcpus,
                "ram": ram,
                "disk": disk,
                "os-flavor-access:is_public": is_public,
            }
        }
        flavor = self.api.post_flavor(body)
        flavor_id = str(flavor["id"])
        if extra_specs:
            self.api.post_extra_spec(flavor_id, {"extra_specs": dict(extra_specs)})
        if not is_public:
            self.api.api_post(
                f"/flavors/{flavor_id}/action",
                {"addTenantAccess": {"tenant": self.api.project_id}},
            )
        return flavor_id

    def create_aggregate(
        self, name: str, metadata: Mapping[str, str], hosts: Sequence[str]
    ) -> None:
        aggregate = self.api.post_aggregate({"aggregate": {"name": name}})
        agg_id = aggregate["id"]
        if metadata:
            self.api.post_aggregate_action(agg_id, {"set_metadata": {"metadata": dict(metadata)}})
        for host in hosts:
            self.api.add_host_to_aggregate(agg_id, host)

    def boot(self, name: str, flavor_id: str) -> Boot:
        """Ask for one server and wait until nova has decided (ACTIVE or ERROR)."""
        body = {
            "server": {
                "name": name,
                "imageRef": _IMAGE,
                "flavorRef": flavor_id,
                "networks": "none",
            }
        }
        try:
            server = self.api.post_server(body)
        except api_client.OpenStackApiException as error:
            return Boot("", name, "REFUSED", fault=_api_message(error))
        for _ in range(600):
            server = self.api.get_server(server["id"])
            if server["status"] in ("ACTIVE", "ERROR") and (
                server["status"] == "ACTIVE" or "fault" in server
            ):
                break
            time.sleep(0.05)
        fault = server.get("fault", {}).get("message", "")
        return Boot(
            server["id"],
            name,
            server["status"],
            fault=fault,
            host=server.get("OS-EXT-SRV-ATTR:host"),
        )

    def delete(self, server_id: str) -> None:
        self.api.delete_server(server_id)
        for _ in range(600):
            try:
                self.api.get_server(server_id)
            except api_client.OpenStackApiNotFoundException:
                return
            time.sleep(0.05)
        msg = f"server {server_id} was not deleted"
        raise TwinError(msg)

    def guest_xml(self, service_host: str, server_id: str) -> str:
        """The libvirt domain XML nova defined for a server (while it exists)."""
        connection = self._case.computes[service_host].driver._host.get_connection()
        return str(connection.lookupByUUIDString(server_id).XMLDesc(0))

    def flavors(self) -> list[dict[str, Any]]:
        return [dict(f) for f in self.api.get_flavors()]

    def server_ids(self, status: str | None = None) -> list[str]:
        """Ids of every server, or of those in `status` (ACTIVE, ERROR, ...)."""
        if status is None:
            return [s["id"] for s in self.api.get_servers(detail=False)]
        return [s["id"] for s in self.api.get_servers(detail=True) if s["status"] == status]


@dataclass(frozen=True)
class NovaWeighed:
    """One host of one nova weighing: its summed weight and what its weighers read."""

    host: str
    weight: float
    free_ram_mb: float
    vcpus_free: float
    free_disk_mb: float
    pci_free: int
    io_ops: int = 0
    instances: int = 0
    # (weigher class name, multiplier x normalised weight), as nova summed them
    scores: tuple[tuple[str, float], ...] = ()


def _scores(weighers: Any, hosts: Any, spec: Any) -> dict[str, tuple[tuple[str, float], ...]]:
    """Each host's score from each weigher, as nova 34's `BaseWeightHandler` computes it."""
    from nova import weights as nova_weights

    objs = [nova_weights.WeighedObject(h, 0.0) for h in hosts]
    out: dict[str, list[tuple[str, float]]] = {str(h.host): [] for h in hosts}
    for weigher in weighers:
        raw = weigher.weigh_objects(objs, spec)
        norm = nova_weights.normalize(raw, minval=weigher.minval, maxval=weigher.maxval)
        for obj, value in zip(objs, norm, strict=True):
            score = weigher.weight_multiplier(obj.obj) * value
            out[str(obj.obj.host)].append((type(weigher).__name__, float(score)))
    return {host: tuple(items) for host, items in out.items()}


def _weighed(weighed: Any, scores: tuple[tuple[str, float], ...] = ()) -> NovaWeighed:
    state = weighed.obj
    pools = state.pci_stats.pools if state.pci_stats else []
    return NovaWeighed(
        host=str(state.host),
        weight=float(weighed.weight),
        free_ram_mb=float(state.free_ram_mb),
        vcpus_free=float(state.vcpus_total * state.cpu_allocation_ratio - state.vcpus_used),
        free_disk_mb=float(state.free_disk_mb),
        pci_free=int(sum(pool["count"] for pool in pools)),
        io_ops=int(state.num_io_ops or 0),
        instances=int(state.num_instances or 0),
        scores=scores,
    )


_AVAILABLE = re.compile(r"(<availableInstances>)(\d+)(</availableInstances>)")


def _lay_out_cells(host_info: Any, host: FakeHost, nodes: int) -> None:
    """Give each fake NUMA cell the fleet's CPU ids of that node.

    nova 34's fake numbers CPUs node after node (node 0 holds 0..n-1); a fleet may interleave
    them (node 0: "0-3,8-11"). Used only when the fleet names every node with an equal share.
    """
    layout = dict(host.cpu_numa)
    sizes = {len(ids) for ids in layout.values()}
    if sorted(layout) != list(range(nodes)) or sizes != {len(host.cpus) // nodes}:
        return
    for cell in host_info.numa_topology.cells:
        for cpu, cpu_id in zip(cell.cpus, sorted(layout[cell.id]), strict=True):
            cpu.id = cpu_id
            cpu.siblings = {cpu_id}


def _fake_device_fields(gpu: GpuDevice, index: int) -> dict[str, Any]:
    """What fakelibvirt's `add_device` is told of the fleet's `index`-th GPU, whatever its kind:
    its address, its own IOMMU group (100 + index), NUMA node (-1: unknown), ids and name."""
    _domain, bus, slot, function = _split_address(gpu.address)
    return {
        "bus": bus,
        "slot": slot,
        "function": function,
        "iommu_group": 100 + index,
        "numa_node": gpu.numa_node if gpu.numa_node is not None else -1,
        "vend_id": gpu.vendor_id,
        "prod_id": gpu.product_id,
        "prod_name": gpu.device or "GPU",
    }


def _add_mdev_card(
    pci_info: Any, gpu: GpuDevice, index: int, mdev_type: str, instances: int
) -> None:
    """An mdev-capable GPU offering `instances` of `mdev_type` (nova 34's fake offers a fixed
    nvidia-11 x 16; its XML is rewritten to the fleet's type and count)."""
    device = pci_info.add_device(
        dev_type="MDEV_TYPES", driver_name="nvidia", **_fake_device_fields(gpu, index)
    )
    xml = device.pci_device.replace(
        f"<type id='{fakelibvirt.NVIDIA_11_VGPU_TYPE}'>", f"<type id='{mdev_type}'>"
    )
    device.pci_device = _AVAILABLE.sub(rf"\g<1>{instances}\g<3>", xml)


def _add_vf(pci_info: Any, gpu: GpuDevice, index: int, listed: set[str]) -> None:
    """A virtual function at the GPU's address, with its card as PF at function 0 of its slot
    (added once, unless the fleet lists it). nova 34's fake derives a VF's `phys_function`
    from its own slot (vf_ratio 1 keeps it there); its PF lists VFs of its own numbering,
    which nova's PCI tracker does not match against the VFs."""
    _domain, bus, slot, _function = _split_address(gpu.address)
    pf_address = f"{gpu.address.rsplit('.', 1)[0]}.0"
    pf_name = f"pci_{pf_address.replace(':', '_').replace('.', '_')}"
    if pf_address not in listed and pf_name not in pci_info.devices:
        pci_info.add_device(
            dev_type="PF",
            vf_ratio=1,
            driver_name="nvidia",
            **{**_fake_device_fields(gpu, index), "function": 0, "iommu_group": 200 + index},
        )
    pci_info.add_device(
        dev_type="VF",
        vf_ratio=1,
        parent=(bus, slot, 0),
        driver_name=gpu.driver or "nvidia",
        **_fake_device_fields(gpu, index),
    )


def _api_message(error: Exception) -> str:
    """The API's own message where the body has one, else the exception's text."""
    response = getattr(error, "response", None)
    try:
        body = response.json() if response is not None else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        for detail in body.values():
            if isinstance(detail, dict) and "message" in detail:
                return f"HTTP {detail.get('code', '?')}: {detail['message']}"
    return str(error)


def _split_address(address: str) -> tuple[int, int, int, int]:
    domain, bus, rest = address.split(":")
    slot, function = rest.split(".")
    return int(domain, 16), int(bus, 16), int(slot, 16), int(function, 16)


def mdev_registry(types: Sequence[str]) -> dict[str, list[Any]]:
    """The options of nova's dynamic `[mdev_<type>]` groups for `types` (nova 34
    `conf/devices.py` `register_dynamic_opts`, run on a ConfigOpts of its own)."""
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    nova_conf.devices.register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override("enabled_mdev_types", list(types), group="devices")
    nova_conf.devices.register_dynamic_opts(conf)
    return {
        f"mdev_{t}": [info["opt"] for info in conf._groups[f"mdev_{t}"]._opts.values()]
        for t in types
    }


def option_default(section: str, name: str) -> Any:
    """The default nova registers for an option."""
    return CONF._get_opt_info(name, _group(section))["opt"].default  # oslo.config private


def stable_node_uuid(service_host: str) -> str:
    """A stable compute node uuid for a service host (what its compute_id file would hold)."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"gpuslice-twin.{service_host}"))


# The option namespaces of nova's sample configuration (nova 34
# `etc/nova/nova-config-generator.conf`): what a real nova.conf may hold besides nova's own.
_NAMESPACES = (
    "nova.conf",
    "oslo.log",
    "oslo.messaging",
    "oslo.policy",
    "oslo.privsep",
    "oslo.service.periodic_task",
    "oslo.service.service",
    "oslo.db",
    "oslo.cache",
    "oslo.middleware",
    "oslo.concurrency",
    "oslo.reports",
    "oslo.versionedobjects",
    "oslo.limit",
    "keystonemiddleware.auth_token",
    "os_vif",
    "os_brick",
    "osprofiler",
)


def registry() -> dict[str, list[Any]]:
    """Every option a nova 34 nova.conf may hold, by group.

    nova's own options plus the libraries' its sample configuration lists (`[DEFAULT] debug`,
    `transport_url`, `[keystone_authtoken]`, ...), loaded through their `oslo.config.opts`
    entry points (a namespace not installed is skipped), and the password plugin's options
    (`auth_url`, `username`, ...) in every group that picks a keystoneauth plugin with
    `auth_type`: keystoneauth registers those only when it loads the plugin.
    """
    from importlib.metadata import entry_points

    loading = importlib.import_module("keystoneauth1.loading")
    found = {ep.name: ep for ep in entry_points(group="oslo.config.opts")}
    listed: list[tuple[Any, Sequence[Any]]] = []
    for namespace in _NAMESPACES:
        if namespace in found:
            listed.extend(found[namespace].load()())
    groups = registry_from_list_opts(listed)
    # keystoneauth names them as on a command line (`auth-url`); a file says `auth_url`.
    plugin = [_renamed(opt, opt.dest) for opt in loading.get_auth_plugin_conf_options("password")]
    for opts in groups.values():
        names = {opt.name for opt in opts}
        if "auth_type" in names:
            opts.extend(opt for opt in plugin if opt.name not in names)
    return groups


def _renamed(opt: Any, name: str) -> Any:
    clone = copy.copy(opt)
    clone.name = name
    return clone


def use_shipped_api_paste(case: Any) -> None:
    """Point `[wsgi] api_paste_config` at nova's api-paste.ini wherever pip installed it.

    nova 34's test configuration looks for it below `state_path` (site-packages); the wheel
    puts it below the venv (`gpuslice.twin.apipaste`). Raises ServiceUnreachableError naming
    where it looked when it is nowhere.
    """
    from gpuslice.twin.apipaste import candidates, find_api_paste

    path = find_api_paste(candidates(str(CONF.wsgi.api_paste_config)))
    case.flags(api_paste_config=str(path), group="wsgi")


def value_checks() -> dict[tuple[str, str], Callable[[str], None]]:
    """nova's own parsers for values oslo.config takes as plain strings (nova 34 internals)."""
    from nova.pci import request as pci_request
    from nova.pci import whitelist

    # nova's own dependencies, untyped here (the core venv's mypy does not have them).
    jsonschema = importlib.import_module("jsonschema")
    jsonutils = importlib.import_module("oslo_serialization.jsonutils")

    def alias(value: str) -> None:
        # nova 34: one JSON object per line; a JSON list is refused (unlike device_spec).
        jsonschema.validate(jsonutils.loads(value), pci_request._ALIAS_SCHEMA)

    def device_spec(value: str) -> None:
        whitelist.Whitelist._parse_white_list_from_config([value])

    return {("pci", "alias"): alias, ("pci", "device_spec"): device_spec}


def filter_names() -> set[str]:
    """The scheduler filter class names this nova has."""
    from nova.scheduler import filters

    return {cls.__name__ for cls in filters.all_filters()}


def run(spec: RunSpec) -> None:
    """Run one real-nova run; raises TwinError when nova's harness itself failed."""
    case = type("GpusliceTwin", (_TwinCase,), {"spec": spec})("runTest")
    result = testtools.TestResult()
    case.run(result)
    if spec.raised is not None:
        raise spec.raised
    problems = [*result.errors, *result.failures]
    if problems:
        details = "\n".join(str(detail) for _test, detail in problems)
        msg = f"real nova run failed:\n{details[-4000:]}"
        raise TwinError(msg)
