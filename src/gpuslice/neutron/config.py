"""The host alias setting of the ML2 driver: parse, validate and render it. Pure: no neutron here.

In the `split` strategy a GPU hypervisor runs a second nova-compute service under its own host
name (`gpu18`) while the neutron agents on that machine register under the machine's name
(`hyper18`). The alias map says which real host's agents bind ports for each alias:
`gpu18:hyper18,gpu2:hyper16`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from gpuslice.errors import InputError

DRIVER_NAME = "gpuslice_host_alias"
"""The name of the mechanism driver under neutron's `neutron.ml2.mechanism_drivers` entry point."""

CONFIG_GROUP = "ml2_gpuslice"
"""The section of ml2_conf.ini that holds the driver's options."""

OPTION = "host_aliases"
FIELD = f"[{CONFIG_GROUP}] {OPTION}"

# A host name as nova and neutron agents report it: letters, digits, '-', '_' and '.'.
_HOST_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _check_host(name: str, item: str, side: str) -> None:
    if not name:
        msg = f"{side} is empty in {item!r}; write alias:real_host, e.g. gpu18:hyper18"
        raise InputError(msg, field=FIELD)
    if not _HOST_RE.match(name):
        msg = (
            f"{side} {name!r} in {item!r} is not a host name "
            "(letters, digits, '-', '_' and '.' only)"
        )
        raise InputError(msg, field=FIELD)


def parse_host_aliases(value: str) -> dict[str, str]:
    """Parse `alias:real_host,alias:real_host` into {alias: real_host}; refuse anything doubtful.

    Blank around items is ignored and an empty value means no alias. Refused, with the item in
    the message: an item without exactly one ':', an empty or malformed side, an alias listed
    twice, an alias equal to its real host, and an alias that is also some alias's real host
    (agents bind on real hosts only, so aliases do not chain).
    """
    aliases: dict[str, str] = {}
    text = value.strip()
    if not text:
        return aliases
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            msg = f"empty item in {value!r}; separate alias:real_host pairs with single commas"
            raise InputError(msg, field=FIELD)
        if item.count(":") != 1:
            msg = f"{item!r} is not alias:real_host, e.g. gpu18:hyper18"
            raise InputError(msg, field=FIELD)
        alias, real = (part.strip() for part in item.split(":"))
        _check_host(alias, item, "alias")
        _check_host(real, item, "real host")
        if alias == real:
            msg = f"alias {alias!r} is its own real host in {item!r}"
            raise InputError(msg, field=FIELD)
        if alias in aliases:
            msg = f"alias {alias!r} is listed twice ({aliases[alias]!r} and {real!r})"
            raise InputError(msg, field=FIELD)
        aliases[alias] = real
    chained = sorted(set(aliases) & set(aliases.values()))
    if chained:
        msg = (
            f"{', '.join(map(repr, chained))} is both an alias and a real host; "
            "an alias must name the host its agents register on directly"
        )
        raise InputError(msg, field=FIELD)
    return aliases


def render_host_aliases(aliases: Mapping[str, str]) -> str:
    """The `host_aliases` value for a map, sorted by alias; checked by parsing it back."""
    value = ",".join(f"{alias}:{aliases[alias]}" for alias in sorted(aliases))
    for alias, real in aliases.items():
        for side, name in (("alias", alias), ("real host", real)):
            if name != name.strip() or any(c in name for c in ",:"):
                msg = f"{side} {name!r} cannot be written in {FIELD}"
                raise InputError(msg, field=FIELD)
    parse_host_aliases(value)
    return value


def render_ml2_settings(
    aliases: Mapping[str, str],
    *,
    mechanism_drivers: Iterable[str] = ("openvswitch",),
) -> dict[str, dict[str, str]]:
    """The ml2_conf.ini options for the host alias driver, as section -> option -> value.

    `mechanism_drivers` are the drivers the deployment already uses, in their order; the alias
    driver is put in front of them. ML2 offers a port to its mechanism drivers in the order of
    this list and keeps the first binding one of them makes. Listed first, the alias driver
    decides every port on an alias host before any other driver sees it, so no driver that can
    bind without an agent on the port's host binds an alias port on its own terms. With
    openvswitch alone the order happens not to change the result (openvswitch finds no agent
    on the alias and passes; tests/neutron shows both orders), but first is the order that is
    right whatever drivers follow. For any other host the alias driver returns at once and the
    drivers after it bind as before.
    """
    others = [name.strip() for name in mechanism_drivers if name.strip() != DRIVER_NAME]
    if not others:
        msg = f"{DRIVER_NAME} binds through other drivers' agents; name at least one other driver"
        raise InputError(msg, field="[ml2] mechanism_drivers")
    for name in others:
        if not name or "," in name:
            msg = f"bad mechanism driver name {name!r}"
            raise InputError(msg, field="[ml2] mechanism_drivers")
    return {
        "ml2": {"mechanism_drivers": ",".join([DRIVER_NAME, *others])},
        CONFIG_GROUP: {OPTION: render_host_aliases(aliases)},
    }
