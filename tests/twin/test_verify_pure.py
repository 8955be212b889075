"""The parts of verify that need no nova: guest XML, host paths, shared-config clashes, dedupe."""

from __future__ import annotations

from pathlib import Path

from gpuslice.fleet import Host
from gpuslice.inventory.device import GpuDevice
from gpuslice.plan.types import PROVIDER_YAML
from gpuslice.twin.ini import ConfEntry, parse_ini
from gpuslice.twin.job import HostJob
from gpuslice.twin.scenario import attached, guest_size, pinned
from gpuslice.twin.verify import _conflicts, _prepare_conf

GUEST = """<domain type='kvm'>
  <memory>4194304</memory>
  <vcpu>2</vcpu>
  <cputune><vcpupin vcpu='0' cpuset='6'/><vcpupin vcpu='1' cpuset='7'/></cputune>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x0000' bus='0x86' slot='0x00' function='0x0'/></source>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>
    </hostdev>
  </devices>
</domain>"""


def test_guest_xml_gives_device_size_and_pinning() -> None:
    assert attached(GUEST) == ["0000:86:00.0"]
    assert guest_size(GUEST) == (2, 4096)
    assert pinned(GUEST) == {6, 7}
    assert pinned("<domain><vcpu>2</vcpu></domain>") == set()


def test_host_paths_move_below_the_run_root(tmp_path: Path) -> None:
    conf = parse_ini(
        "[DEFAULT]\nhost = gpu18\nstate_path = /var/lib/nova/gpu\n"
        "[compute]\nprovider_config_location = /etc/nova/provider_config/\n",
        "hyper18/etc/nova/nova-gpu.conf",
    )
    entries = _prepare_conf(conf, tmp_path, "meta: {}\n")
    assert [(e.section, e.name, e.value) for e in entries] == [
        ("DEFAULT", "state_path", str(tmp_path / "var/lib/nova/gpu")),
        ("compute", "provider_config_location", str(tmp_path / "etc/nova/provider_config")),
    ]
    assert (tmp_path / PROVIDER_YAML).read_text(encoding="utf-8") == "meta: {}\n"


def test_nova_default_provider_location_is_used_when_the_files_set_none(tmp_path: Path) -> None:
    entries = _prepare_conf([], tmp_path, "x: 1\n", "/etc/nova/provider_config/")
    assert [(e.section, e.name, e.value) for e in entries] == [
        ("compute", "provider_config_location", str(tmp_path / "etc/nova/provider_config")),
    ]
    assert _prepare_conf([], tmp_path, None, None) == []


def test_options_set_differently_by_controllers_and_host_clash() -> None:
    ctl = [ConfEntry("c", 1, "pci", "alias", "a"), ConfEntry("c", 2, "DEFAULT", "debug", "1")]
    host = [ConfEntry("h", 1, "pci", "alias", "b"), ConfEntry("h", 2, "DEFAULT", "debug", "1")]
    both = frozenset({("pci", "alias"), ("DEFAULT", "debug")})
    assert _conflicts(ctl, host, both) == ["[pci] alias"]
    assert _conflicts(ctl, ctl, both) == []


def test_only_options_gpuslice_writes_in_both_files_are_compared() -> None:
    ctl = [ConfEntry("c", 1, "pci", "device_spec", "nic"), ConfEntry("c", 2, "pci", "alias", "a")]
    host = [ConfEntry("h", 1, "pci", "device_spec", "gpu"), ConfEntry("h", 2, "pci", "alias", "b")]
    # device_spec: gpuslice writes it for the host only; the controller's is the operator's.
    assert _conflicts(ctl, host, frozenset({("pci", "alias")})) == ["[pci] alias"]
    assert _conflicts(ctl, host, frozenset()) == []


def test_hosts_with_same_hardware_and_files_share_a_signature() -> None:
    gpu = GpuDevice("0000:86:00.0", "10de", "1024")
    conf = (ConfEntry("hyper18/x", 3, "DEFAULT", "reserved_host_cpus", "2"),)
    a = HostJob(Host("hyper18", tuple(range(8)), 16384, 100, (gpu,)), None, conf, "y")
    moved = (ConfEntry("hyper16/x", 4, "DEFAULT", "reserved_host_cpus", "2"),)
    b = HostJob(Host("hyper16", tuple(range(8)), 16384, 100, (gpu,)), None, moved, "y")
    c = HostJob(Host("hyper20", tuple(range(8)), 32768, 100, (gpu,)), None, conf, "y")
    assert a.signature() == b.signature()
    assert a.signature() != c.signature()
