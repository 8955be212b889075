"""The ML2 mechanism driver `gpuslice_host_alias`: bind ports on an alias host via the real host.

Loaded by neutron-server through the `neutron.ml2.mechanism_drivers` entry point; it imports
neutron and so must be installed into neutron's own Python environment.

For a port whose binding host is an alias (`gpu18`, the second nova-compute service of the
`split` strategy) the driver offers the port to the deployment's own agent-based mechanism
drivers (openvswitch, sriovnicswitch, macvtap: every ML2 driver built on neutron's
`AgentMechanismDriverBase`), in their ML2 order, through a view of the port context in which the
host is the real host (`hyper18`). Those drivers then run their own `bind_port` against the
agents registered on the real host, so the VIF type and details, the vnic type checks, the
segment checks and the refusal of dead agents are exactly theirs. For any other host the driver
does nothing and leaves binding to the drivers after it.
"""

from __future__ import annotations

import logging
from typing import Any

from neutron.objects import agent as agent_obj
from neutron.plugins.ml2.drivers import mech_agent
from neutron_lib import context as n_context
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins import directory
from neutron_lib.plugins.ml2 import api
from oslo_config import cfg

from gpuslice.errors import InputError
from gpuslice.neutron.config import CONFIG_GROUP, DRIVER_NAME, FIELD, OPTION, parse_host_aliases

# Plain logging: neutron-server routes the standard library's loggers through oslo.log.
LOG = logging.getLogger(__name__)

OPTS = [
    cfg.StrOpt(
        OPTION,
        default="",
        help=(
            "Host aliases as alias:real_host pairs separated by commas, e.g. "
            "'gpu18:hyper18,gpu2:hyper16'. A port whose binding host is an alias is bound "
            "through the agents of the real host. An alias must not be the host of any agent."
        ),
    ),
]


def register_opts(conf: Any = cfg.CONF) -> None:
    """Register the driver's options in `[ml2_gpuslice]`."""
    conf.register_opts(OPTS, group=CONFIG_GROUP)


def list_opts() -> list[tuple[str, list[Any]]]:
    """The driver's options, for oslo-config-generator."""
    return [(CONFIG_GROUP, list(OPTS))]


register_opts()


class RealHostPortContext:
    """A port context as the real host sees it: only `host` and `host_agents` differ.

    Everything else, `set_binding` and `continue_binding` included, goes to the port context
    ML2 gave us, so a binding made through this view is the port's binding.
    """

    def __init__(self, context: Any, real_host: str) -> None:
        self._alias_context = context
        self._real_host = real_host

    @property
    def host(self) -> str:
        return self._real_host

    def host_agents(self, agent_type: str) -> list[dict[str, Any]]:
        agents: list[dict[str, Any]] = self._alias_context._plugin.get_agents(
            self._alias_context.plugin_context,
            filters={"agent_type": [agent_type], "host": [self._real_host]},
        )
        return agents

    def __getattr__(self, name: str) -> Any:
        return getattr(self._alias_context, name)


class HostAliasMechanismDriver(api.MechanismDriver):  # type: ignore[misc]
    """Bind ports on an alias host through the agents of its real host."""

    def __init__(self) -> None:
        super().__init__()
        self.aliases: dict[str, str] = {}

    def initialize(self) -> None:
        """Read and check `[ml2_gpuslice] host_aliases`; a bad value stops neutron-server.

        Refused here: a malformed value (see `parse_host_aliases`) and an alias that is already
        the host of a registered agent. An agent that registers under an alias name later is
        caught at bind time instead (see `bind_port`).
        """
        self.aliases = parse_host_aliases(cfg.CONF[CONFIG_GROUP][OPTION])
        if not self.aliases:
            LOG.warning("%s is loaded but %s is empty: it binds no port", DRIVER_NAME, FIELD)
            return
        taken = self.registered_agent_hosts(sorted(self.aliases))
        if taken:
            msg = (
                f"{', '.join(map(repr, taken))} is the host of a registered neutron agent, so it "
                "cannot be an alias; list only the host names of second nova-compute services "
                "that no agent uses"
            )
            raise InputError(msg, field=FIELD)
        LOG.info(
            "%s binds ports on %s",
            DRIVER_NAME,
            ", ".join(f"{alias} through {real}" for alias, real in self.aliases.items()),
        )

    @staticmethod
    def registered_agent_hosts(hosts: list[str]) -> list[str]:
        """Which of `hosts` have an agent registered in neutron's database, sorted."""
        agents = agent_obj.Agent.get_objects(n_context.get_admin_context(), host=hosts)
        return sorted({str(agent.host) for agent in agents})

    @property
    def connectivity(self) -> str:
        # Ports without an IP address are offered only to l2 drivers; every agent driver we
        # bind through (openvswitch, sriovnicswitch, macvtap) is l2.
        return str(portbindings.CONNECTIVITY_L2)

    def real_host(self, context: Any) -> str | None:
        """The real host of the port's binding host, or None when that host is no alias."""
        host = context.host
        return self.aliases.get(host) if host else None

    def agent_drivers(self, manager: Any) -> list[tuple[str, Any]]:
        """The deployment's agent-based mechanism drivers, in ML2 order, ourselves left out."""
        return [
            (driver.name, driver.obj)
            for driver in manager.ordered_mech_drivers
            if driver.obj is not self
            and isinstance(driver.obj, mech_agent.AgentMechanismDriverBase)
        ]

    def agents_on_alias(self, context: Any, alias: str) -> list[dict[str, Any]]:
        agents: list[dict[str, Any]] = context._plugin.get_agents(
            context.plugin_context, filters={"host": [alias]}
        )
        return agents

    def bind_port(self, context: Any) -> None:
        real = self.real_host(context)
        if real is None:
            return
        alias = context.host
        port_id = context.current["id"]
        squatters = self.agents_on_alias(context, alias)
        if squatters:
            # An agent registered under the alias after neutron-server started: step aside and
            # let the drivers after us bind as they would without the alias.
            LOG.error(
                "%s: not binding port %s: %s lists %r as an alias of %r, but agents are "
                "registered on %r itself (%s); an alias must not be the host of any agent",
                DRIVER_NAME,
                port_id,
                FIELD,
                alias,
                real,
                alias,
                ", ".join(sorted(str(agent["agent_type"]) for agent in squatters)),
            )
            return
        view = RealHostPortContext(context, real)
        for name, driver in self.agent_drivers(context._plugin.mechanism_manager):
            driver.bind_port(view)
            if context._new_bound_segment:
                LOG.debug(
                    "%s: port %s on alias %s bound by %s through an agent on %s",
                    DRIVER_NAME,
                    port_id,
                    alias,
                    name,
                    real,
                )
                return
        LOG.warning(
            "%s: port %s on alias %s not bound: no agent on %s could bind it",
            DRIVER_NAME,
            port_id,
            alias,
            real,
        )

    def filter_hosts_with_segment_access(
        self, context: Any, segments: Any, candidate_hosts: Any, agent_getter: Any
    ) -> set[str]:
        """The aliases among `candidate_hosts` whose real host reaches one of `segments`.

        Used by ML2 for routed networks (segment to host mapping). Implementing it keeps ML2's
        host filtering on: ML2 turns it off when any loaded driver lacks this method.
        """
        aliases_of: dict[str, set[str]] = {}
        for host in candidate_hosts:
            real = self.aliases.get(host)
            if real is not None:
                aliases_of.setdefault(real, set()).add(host)
        if not aliases_of:
            return set()
        manager = directory.get_plugin().mechanism_manager
        reached: set[str] = set()
        for _name, driver in self.agent_drivers(manager):
            reached |= driver.filter_hosts_with_segment_access(
                context, segments, sorted(aliases_of), agent_getter
            )
        return {alias for real in reached for alias in aliases_of.get(real, ())}

    # The agent drivers put a provisioning block on a port whose host has one of their agents,
    # so that the port turns ACTIVE only once the agent reports it wired. On an alias host they
    # find no agent; we add the block as they would for the real host.

    def create_port_precommit(self, context: Any) -> None:
        self._insert_provisioning_block(context)

    def update_port_precommit(self, context: Any) -> None:
        if context.host != context.original_host:
            self._insert_provisioning_block(context)

    def _insert_provisioning_block(self, context: Any) -> None:
        real = self.real_host(context)
        if real is None:
            return
        view = RealHostPortContext(context, real)
        for _name, driver in self.agent_drivers(context._plugin.mechanism_manager):
            # neutron's own helper (AgentMechanismDriverBase), run for the real host.
            driver._insert_provisioning_block(view)
