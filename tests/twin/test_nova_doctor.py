"""The nova facts `gpuslice doctor` rests on, shown on real nova 34 (skipped without nova)."""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

from gpuslice.releases import parse_release
from tests.twin.nova import needs_nova

pytestmark = [needs_nova]


def _driver() -> Any:
    """nova's libvirt driver class, with nova.tests.functional (eventlet) imported first, as the
    other real-nova tests in this process need."""
    importlib.import_module("nova.tests.functional")
    return importlib.import_module("nova.virt.libvirt.driver").LibvirtDriver


def test_pci_devices_are_attached_managed_unless_the_spec_says_no() -> None:
    """gpu-driver: libvirt detaches a GPU from its host driver itself (managed='yes')."""
    LibvirtDriver = _driver()  # noqa: N806
    fake = SimpleNamespace()
    fake._set_managed_mode = lambda dev, managed: LibvirtDriver._set_managed_mode(
        fake, dev, managed
    )
    default = LibvirtDriver._get_guest_pci_device(
        fake, SimpleNamespace(address="0000:86:00.0", extra_info={})
    )
    assert default.managed == "yes"
    unmanaged = LibvirtDriver._get_guest_pci_device(
        fake, SimpleNamespace(address="0000:86:00.0", extra_info={"managed": "false"})
    )
    assert unmanaged.managed == "no"


def test_nova_34_defines_each_vgpu_through_libvirt() -> None:
    """mdevctl: nova creates the mdev, then defines it (libvirt persists it with mdevctl)."""
    LibvirtDriver = _driver()  # noqa: N806
    calls: list[tuple[str, Any]] = []

    class Host:
        def device_create(self, conf: Any) -> None:
            calls.append(("create", conf.mdev_information.type))

        def device_define(self, conf: Any) -> Any:
            calls.append(("define", conf.mdev_information.type))
            return SimpleNamespace(name=lambda: "mdev_x")

        def device_set_autostart(self, dev: Any, autostart: bool) -> None:
            calls.append(("autostart", autostart))

    fake = SimpleNamespace(_host=Host())
    uuid = LibvirtDriver._create_mdev(fake, "pci_0000_86_00_0", "nvidia-592")
    assert uuid
    assert calls == [("create", "nvidia-592"), ("define", "nvidia-592"), ("autostart", True)]
    assert parse_release(34).has("mdev_persisted_by_libvirt")
    assert not parse_release(29).has("mdev_persisted_by_libvirt")


def test_nova_is_the_release_the_table_calls_34() -> None:
    from importlib.metadata import version

    assert version("nova").split(".")[0] == "34"
