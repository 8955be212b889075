"""The gpuslice_host_alias ML2 mechanism driver on real neutron 29 code.

Run in .venv-neutron by scripts/test-neutron (python -m testtools.run), not by pytest. The ML2
plugin is neutron's own, started by neutron's plugin test base with an in-memory database; the
driver is loaded by name through the `neutron.ml2.mechanism_drivers` entry point, as
neutron-server loads it. An Open vSwitch agent is registered on the real host `hyper18`; nova's
second service on that machine is `gpu18`.
"""

from __future__ import annotations

from typing import Any

import fixtures
import testtools
from neutron.conf.plugins.ml2 import config as ml2_config
from neutron.conf.plugins.ml2.drivers import driver_type
from neutron.db import provisioning_blocks, segments_db
from neutron.plugins.ml2 import managers
from neutron.tests.common import helpers
from neutron.tests.common import test_db_base_plugin_v2 as test_plugin
from neutron_lib import constants
from neutron_lib import context as n_context
from neutron_lib.api.definitions import portbindings
from neutron_lib.callbacks import resources
from neutron_lib.plugins import directory
from oslo_config import cfg

from gpuslice.errors import InputError
from gpuslice.neutron import driver as alias_driver
from gpuslice.neutron.config import parse_host_aliases, render_ml2_settings

REAL = "hyper18"
ALIAS = "gpu18"
COMPUTE = "compute:nova"
PROVIDER_TYPE = "provider:network_type"
PROVIDER_PHYSNET = "provider:physical_network"
PROVIDER_SEGMENT = "provider:segmentation_id"


class HostAliasTestBase(test_plugin.NeutronDbPluginV2TestCase):
    """neutron's ML2 plugin with the given drivers, aliases, and an OVS agent on hyper18."""

    mechanism_drivers = ["gpuslice_host_alias", "openvswitch"]
    host_aliases = f"{ALIAS}:{REAL}"

    def setUp(self) -> None:
        cfg.CONF.set_override("mechanism_drivers", self.mechanism_drivers, "ml2")
        driver_type.register_ml2_drivers_vlan_opts()
        cfg.CONF.set_override("network_vlan_ranges", ["physnet1:1000:1099"], "ml2_type_vlan")
        cfg.CONF.set_override("host_aliases", self.host_aliases, "ml2_gpuslice")
        super().setUp("ml2")
        self.plugin = directory.get_plugin()
        self.plugin.start_rpc_listeners()
        self.agent = helpers.register_ovs_agent(host=REAL, integration_bridge="br-int-hyper18")
        self.ctx = n_context.get_admin_context()

    def bound_port(
        self,
        host: str,
        device_owner: str = COMPUTE,
        vnic_type: str = portbindings.VNIC_NORMAL,
        vlan: int | None = None,
    ) -> dict[str, Any]:
        """Create a port with binding:host_id = host, as nova does at boot; return it.

        The network is neutron's default tenant type (local), or a VLAN on physnet1.
        """
        network_args: dict[str, Any] = {}
        if vlan is not None:
            network_args = {
                "as_admin": True,
                "arg_list": (PROVIDER_TYPE, PROVIDER_PHYSNET, PROVIDER_SEGMENT),
                PROVIDER_TYPE: "vlan",
                PROVIDER_PHYSNET: "physnet1",
                PROVIDER_SEGMENT: vlan,
            }
        with self.network(**network_args) as net, self.subnet(network=net):
            res = self._create_port(
                self.fmt,
                net["network"]["id"],
                arg_list=(
                    portbindings.HOST_ID,
                    portbindings.VNIC_TYPE,
                    "device_owner",
                    "device_id",
                ),
                is_admin=True,
                device_owner=device_owner,
                device_id="vm-1",
                **{portbindings.HOST_ID: host, portbindings.VNIC_TYPE: vnic_type},
            )
            port: dict[str, Any] = self.deserialize(self.fmt, res)["port"]
        return port

    def binding_levels(self, port_id: str) -> list[tuple[str, str]]:
        context = self.plugin.get_bound_port_context(self.ctx, port_id)
        return [(level["bound_driver"], context.host) for level in context.binding_levels]


class TestBindThroughRealHost(HostAliasTestBase):
    def test_port_on_alias_is_bound_by_the_agent_of_the_real_host(self) -> None:
        port = self.bound_port(ALIAS)
        self.assertEqual(portbindings.VIF_TYPE_OVS, port[portbindings.VIF_TYPE])
        self.assertEqual(ALIAS, port[portbindings.HOST_ID])
        # The bridge name comes from the configuration of the agent registered on hyper18.
        self.assertEqual("br-int-hyper18", port[portbindings.VIF_DETAILS]["bridge_name"])
        self.assertEqual([("gpuslice_host_alias", ALIAS)], self.binding_levels(port["id"]))

    def test_vif_details_are_those_the_ovs_driver_gives_the_real_host(self) -> None:
        on_alias = self.bound_port(ALIAS)
        on_real = self.bound_port(REAL)
        self.assertEqual(on_real[portbindings.VIF_TYPE], on_alias[portbindings.VIF_TYPE])
        alias_details = dict(on_alias[portbindings.VIF_DETAILS])
        real_details = dict(on_real[portbindings.VIF_DETAILS])
        # ML2 adds the names of the drivers that bound each level; only they differ.
        self.assertEqual({"0": "gpuslice_host_alias"}, alias_details.pop("bound_drivers"))
        self.assertEqual({"0": "openvswitch"}, real_details.pop("bound_drivers"))
        self.assertEqual(real_details, alias_details)
        self.assertEqual([("openvswitch", REAL)], self.binding_levels(on_real["id"]))

    def test_port_without_ip_address_on_alias_is_bound(self) -> None:
        # ML2 offers ports without an IP address only to drivers of 'l2' connectivity.
        with self.network() as net:
            res = self._create_port(
                self.fmt,
                net["network"]["id"],
                arg_list=(portbindings.HOST_ID, "fixed_ips"),
                is_admin=True,
                fixed_ips=[],
                **{portbindings.HOST_ID: ALIAS},
            )
            port = self.deserialize(self.fmt, res)["port"]
        self.assertEqual([], port["fixed_ips"])
        self.assertEqual(portbindings.VIF_TYPE_OVS, port[portbindings.VIF_TYPE])

    def test_port_on_real_host_is_left_to_the_ovs_driver(self) -> None:
        port = self.bound_port(REAL)
        self.assertEqual(portbindings.VIF_TYPE_OVS, port[portbindings.VIF_TYPE])
        self.assertEqual([("openvswitch", REAL)], self.binding_levels(port["id"]))

    def test_unknown_host_still_fails(self) -> None:
        port = self.bound_port("gpu99")
        self.assertEqual(portbindings.VIF_TYPE_BINDING_FAILED, port[portbindings.VIF_TYPE])

    def test_dead_agent_on_real_host_fails_as_for_the_real_host(self) -> None:
        helpers.kill_agent(self.agent["id"])
        on_real = self.bound_port(REAL)
        on_alias = self.bound_port(ALIAS)
        self.assertEqual(portbindings.VIF_TYPE_BINDING_FAILED, on_real[portbindings.VIF_TYPE])
        self.assertEqual(portbindings.VIF_TYPE_BINDING_FAILED, on_alias[portbindings.VIF_TYPE])

    def test_revived_agent_binds_again(self) -> None:
        helpers.kill_agent(self.agent["id"])
        helpers.revive_agent(self.agent["id"])
        port = self.bound_port(ALIAS)
        self.assertEqual(portbindings.VIF_TYPE_OVS, port[portbindings.VIF_TYPE])

    def test_unsupported_vnic_type_is_refused_as_the_ovs_driver_refuses_it(self) -> None:
        # OVS binds 'direct' only with switchdev; the alias does not loosen that.
        port = self.bound_port(ALIAS, vnic_type=portbindings.VNIC_DIRECT)
        self.assertEqual(portbindings.VIF_TYPE_BINDING_FAILED, port[portbindings.VIF_TYPE])

    def test_moving_a_port_from_alias_to_real_host_rebinds_it_there(self) -> None:
        port = self.bound_port(ALIAS)
        data = {"port": {portbindings.HOST_ID: REAL}}
        req = self.new_update_request("ports", data, port["id"], as_admin=True)
        moved = self.deserialize(self.fmt, req.get_response(self.api))["port"]
        self.assertEqual(portbindings.VIF_TYPE_OVS, moved[portbindings.VIF_TYPE])
        self.assertEqual([("openvswitch", REAL)], self.binding_levels(port["id"]))

    def test_port_on_alias_waits_for_the_agent_like_one_on_the_real_host(self) -> None:
        # The OVS driver puts a provisioning block on a port whose host has an OVS agent so
        # that it turns ACTIVE only when the agent reports it wired; the alias driver does the
        # same for the real host's agent.
        for host in (REAL, ALIAS):
            port = self.bound_port(host)
            self.assertTrue(
                provisioning_blocks.is_object_blocked(self.ctx, port["id"], resources.PORT),
                host,
            )
            self.assertEqual(constants.PORT_STATUS_DOWN, port["status"])


class TestRoutedNetworkHostFiltering(HostAliasTestBase):
    """ML2's segment-to-host filtering (routed networks) stays on and counts the alias in."""

    def test_alias_reaches_the_segments_its_real_host_reaches(self) -> None:
        manager = self.plugin.mechanism_manager
        self.assertTrue(manager.host_filtering_supported)
        with self.network() as net:
            segments = segments_db.get_network_segments(self.ctx, net["network"]["id"])
        hosts = manager.filter_hosts_with_segment_access(
            self.ctx, segments, [ALIAS, "gpu99", REAL], self.plugin.get_agents
        )
        self.assertEqual({ALIAS, REAL}, hosts)

    def test_alias_of_a_host_without_agent_reaches_nothing(self) -> None:
        cfg.CONF.set_override("host_aliases", "gpu3:hyper3", "ml2_gpuslice")
        driver = self.plugin.mechanism_manager.mech_drivers["gpuslice_host_alias"].obj
        driver.initialize()
        with self.network() as net:
            segments = segments_db.get_network_segments(self.ctx, net["network"]["id"])
        hosts = driver.filter_hosts_with_segment_access(
            self.ctx, segments, ["gpu3", ALIAS], self.plugin.get_agents
        )
        self.assertEqual(set(), hosts)


class TestSriovThroughRealHost(HostAliasTestBase):
    """SR-IOV NIC agent on hyper18: 'direct' ports on gpu18 get its VF binding."""

    mechanism_drivers = ["gpuslice_host_alias", "openvswitch", "sriovnicswitch"]

    def setUp(self) -> None:
        super().setUp()
        self.nic_agent = helpers.register_sriovnicswitch_agent(
            host=REAL, device_mappings={"physnet1": ["eth1"]}
        )

    def test_direct_port_on_alias_is_bound_by_the_nic_agent_of_the_real_host(self) -> None:
        on_alias = self.bound_port(ALIAS, vnic_type=portbindings.VNIC_DIRECT, vlan=1001)
        on_real = self.bound_port(REAL, vnic_type=portbindings.VNIC_DIRECT, vlan=1002)
        self.assertEqual(portbindings.VIF_TYPE_HW_VEB, on_alias[portbindings.VIF_TYPE])
        self.assertEqual(on_real[portbindings.VIF_TYPE], on_alias[portbindings.VIF_TYPE])
        alias_details = dict(on_alias[portbindings.VIF_DETAILS])
        real_details = dict(on_real[portbindings.VIF_DETAILS])
        self.assertEqual({"0": "gpuslice_host_alias"}, alias_details.pop("bound_drivers"))
        self.assertEqual({"0": "sriovnicswitch"}, real_details.pop("bound_drivers"))
        self.assertEqual({**real_details, "vlan": "1001"}, alias_details)

    def test_normal_port_on_alias_still_goes_to_ovs(self) -> None:
        port = self.bound_port(ALIAS)
        self.assertEqual(portbindings.VIF_TYPE_OVS, port[portbindings.VIF_TYPE])

    def test_dead_nic_agent_on_real_host_fails(self) -> None:
        helpers.kill_agent(self.nic_agent["id"])
        port = self.bound_port(ALIAS, vnic_type=portbindings.VNIC_DIRECT, vlan=1001)
        self.assertEqual(portbindings.VIF_TYPE_BINDING_FAILED, port[portbindings.VIF_TYPE])


class TestMacvtapThroughRealHost(HostAliasTestBase):
    """Macvtap agent on hyper18 (the deployment runs macvtap instead of OVS)."""

    mechanism_drivers = ["gpuslice_host_alias", "macvtap"]

    def setUp(self) -> None:
        super().setUp()
        helpers.register_macvtap_agent(host=REAL, interface_mappings={"physnet1": "eth1"})

    def test_port_on_alias_is_bound_by_the_macvtap_agent_of_the_real_host(self) -> None:
        port = self.bound_port(ALIAS, vlan=1001)
        self.assertEqual(portbindings.VIF_TYPE_MACVTAP, port[portbindings.VIF_TYPE])
        self.assertEqual("eth1.1001", port[portbindings.VIF_DETAILS]["macvtap_source"])


class TestNeutron29AgentRpcLimit(HostAliasTestBase):
    """What neutron 29's agent RPC does with a VM port bound on an alias (no change of ours).

    Since the multiple-port-bindings work, ML2's RPC answers an agent about a VM port
    (device_owner compute:*) only if the port's binding host is the agent's own host. The OVS
    agent on hyper18 asks with host=hyper18, so for a port bound on gpu18 it is told that the
    port has no active binding there, and its "device up" report is dropped. A mechanism driver
    cannot change that: on neutron 29 the port is bound but stays DOWN and unwired.
    """

    def test_agent_on_real_host_is_told_no_active_binding(self) -> None:
        port = self.bound_port(ALIAS)
        rpc = self.plugin.endpoints[0]
        answer = rpc.get_devices_details_list_and_failed_devices(
            self.ctx, devices=[port["id"]], agent_id="ovs-hyper18", host=REAL
        )
        self.assertEqual(
            [{"device": port["id"], constants.NO_ACTIVE_BINDING: True}], answer["devices"]
        )
        rpc.update_device_up(self.ctx, device=port["id"], agent_id="ovs-hyper18", host=REAL)
        status = self.plugin.get_port(self.ctx, port["id"])["status"]
        self.assertEqual(constants.PORT_STATUS_DOWN, status)

    def test_same_questions_for_a_port_on_the_real_host_wire_it(self) -> None:
        port = self.bound_port(REAL)
        rpc = self.plugin.endpoints[0]
        answer = rpc.get_devices_details_list_and_failed_devices(
            self.ctx, devices=[port["id"]], agent_id="ovs-hyper18", host=REAL
        )
        self.assertEqual(port["id"], answer["devices"][0]["port_id"])
        rpc.update_device_up(self.ctx, device=port["id"], agent_id="ovs-hyper18", host=REAL)
        status = self.plugin.get_port(self.ctx, port["id"])["status"]
        self.assertEqual(constants.PORT_STATUS_ACTIVE, status)


class TestWithoutTheDriver(HostAliasTestBase):
    mechanism_drivers = ["openvswitch"]

    def test_port_on_alias_ends_binding_failed(self) -> None:
        port = self.bound_port(ALIAS)
        self.assertEqual(portbindings.VIF_TYPE_BINDING_FAILED, port[portbindings.VIF_TYPE])

    def test_port_on_real_host_binds(self) -> None:
        port = self.bound_port(REAL)
        self.assertEqual(portbindings.VIF_TYPE_OVS, port[portbindings.VIF_TYPE])


class TestAliasDriverAfterOpenvswitch(HostAliasTestBase):
    """Listed after openvswitch the driver still binds (the order is about who decides first)."""

    mechanism_drivers = ["openvswitch", "gpuslice_host_alias"]

    def test_port_on_alias_is_bound(self) -> None:
        port = self.bound_port(ALIAS)
        self.assertEqual(portbindings.VIF_TYPE_OVS, port[portbindings.VIF_TYPE])
        self.assertEqual([("gpuslice_host_alias", ALIAS)], self.binding_levels(port["id"]))


class TestAgentRegisteredLaterOnAlias(HostAliasTestBase):
    def test_alias_driver_steps_aside_when_an_agent_registers_on_the_alias(self) -> None:
        helpers.register_ovs_agent(host=ALIAS, integration_bridge="br-int-gpu18")
        port = self.bound_port(ALIAS)
        # Bound by openvswitch with the agent that now lives on gpu18, as without the alias.
        self.assertEqual("br-int-gpu18", port[portbindings.VIF_DETAILS]["bridge_name"])
        self.assertEqual([("openvswitch", ALIAS)], self.binding_levels(port["id"]))


class TestRenderedSettingsInNeutronsOwnOptions(testtools.TestCase):
    """What render_ml2_settings writes is read back by neutron's ML2 options and ours."""

    def test_rendered_ml2_conf_parses_back(self) -> None:
        settings = render_ml2_settings(
            {"gpu18": "hyper18", "gpu2": "hyper16"},
            mechanism_drivers=["openvswitch", "l2population"],
        )
        lines = []
        for section, options in settings.items():
            lines.append(f"[{section}]")
            lines += [f"{name} = {value}" for name, value in options.items()]
        path = self.useFixture(fixtures.TempDir()).join("ml2_conf.ini")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        conf = cfg.ConfigOpts()
        ml2_config.register_ml2_plugin_opts(conf)
        alias_driver.register_opts(conf)
        conf(["--config-file", path], project="neutron", default_config_files=[])
        self.assertEqual(
            ["gpuslice_host_alias", "openvswitch", "l2population"], conf.ml2.mechanism_drivers
        )
        self.assertEqual(
            {"gpu18": "hyper18", "gpu2": "hyper16"},
            parse_host_aliases(conf.ml2_gpuslice.host_aliases),
        )


class TestBadConfigurationRefusedAtStart(HostAliasTestBase):
    """neutron's MechanismManager loads and initializes the driver as neutron-server does."""

    def start_mechanism_manager(self, host_aliases: str) -> Any:
        cfg.CONF.set_override("host_aliases", host_aliases, "ml2_gpuslice")
        manager = managers.MechanismManager()
        manager.initialize()
        return manager

    def assert_refused(self, host_aliases: str, words: str) -> None:
        error = self.assertRaises(InputError, self.start_mechanism_manager, host_aliases)
        self.assertIn("[ml2_gpuslice] host_aliases: ", str(error))
        self.assertIn(words, str(error))

    def test_good_value_starts(self) -> None:
        manager = self.start_mechanism_manager("gpu18:hyper18,gpu2:hyper16")
        driver = manager.mech_drivers["gpuslice_host_alias"].obj
        self.assertIsInstance(driver, alias_driver.HostAliasMechanismDriver)
        self.assertEqual({"gpu18": "hyper18", "gpu2": "hyper16"}, driver.aliases)

    def test_empty_alias_is_refused(self) -> None:
        self.assert_refused(":hyper18", "alias is empty in ':hyper18'")

    def test_empty_real_host_is_refused(self) -> None:
        self.assert_refused("gpu18:", "real host is empty in 'gpu18:'")

    def test_duplicate_alias_is_refused(self) -> None:
        self.assert_refused("gpu18:hyper18,gpu18:hyper19", "alias 'gpu18' is listed twice")

    def test_alias_that_is_an_agent_host_is_refused(self) -> None:
        self.assert_refused(
            "hyper18:hyper19", "'hyper18' is the host of a registered neutron agent"
        )

    def test_alias_equal_to_its_real_host_is_refused(self) -> None:
        self.assert_refused("hyper18:hyper18", "its own real host")
