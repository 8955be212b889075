"""Neutron support for the `split` strategy: the ML2 host alias mechanism driver.

`gpuslice.neutron.config` is pure (no neutron import) and is used by gpuslice's renderer as well
as by the driver. `gpuslice.neutron.driver` imports neutron and is loaded only by neutron-server,
through the `neutron.ml2.mechanism_drivers` entry point `gpuslice_host_alias`.
"""

from gpuslice.neutron.config import (
    CONFIG_GROUP,
    DRIVER_NAME,
    parse_host_aliases,
    render_host_aliases,
    render_ml2_settings,
)

__all__ = [
    "CONFIG_GROUP",
    "DRIVER_NAME",
    "parse_host_aliases",
    "render_host_aliases",
    "render_ml2_settings",
]
