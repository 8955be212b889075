"""The pure host alias helpers of the neutron driver: parse, validate, render (no neutron here)."""

from __future__ import annotations

import configparser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpuslice.errors import InputError
from gpuslice.neutron.config import (
    CONFIG_GROUP,
    DRIVER_NAME,
    parse_host_aliases,
    render_host_aliases,
    render_ml2_settings,
)


def test_parse_two_aliases() -> None:
    assert parse_host_aliases("gpu18:hyper18,gpu2:hyper16") == {
        "gpu18": "hyper18",
        "gpu2": "hyper16",
    }


def test_parse_tolerates_blanks_around_items() -> None:
    assert parse_host_aliases("  gpu18 : hyper18 ,\n gpu2:hyper16 ") == {
        "gpu18": "hyper18",
        "gpu2": "hyper16",
    }


@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_parse_empty_value_means_no_alias(value: str) -> None:
    assert parse_host_aliases(value) == {}


def test_several_aliases_may_share_a_real_host() -> None:
    assert parse_host_aliases("gpu18a:hyper18,gpu18b:hyper18") == {
        "gpu18a": "hyper18",
        "gpu18b": "hyper18",
    }


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (":hyper18", "alias is empty in ':hyper18'"),
        ("gpu18:", "real host is empty in 'gpu18:'"),
        ("gpu18", "'gpu18' is not alias:real_host"),
        ("gpu18:hyper18:x", "is not alias:real_host"),
        ("gpu18:hyper18,,gpu2:hyper16", "empty item"),
        ("gpu18:hyper18,", "empty item"),
        ("gpu 18:hyper18", "alias 'gpu 18' in 'gpu 18:hyper18' is not a host name"),
        ("gpu18:hyper18,gpu18:hyper19", "alias 'gpu18' is listed twice ('hyper18' and 'hyper19')"),
        ("gpu18:gpu18", "alias 'gpu18' is its own real host"),
        ("gpu2:hyper16,hyper16:hyper17", "'hyper16' is both an alias and a real host"),
    ],
)
def test_parse_refuses_bad_values_naming_the_item(value: str, words: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_host_aliases(value)
    assert words in str(caught.value)
    assert str(caught.value).startswith("[ml2_gpuslice] host_aliases: ")


def test_render_puts_alias_driver_before_openvswitch() -> None:
    settings = render_ml2_settings({"gpu2": "hyper16", "gpu18": "hyper18"})
    assert settings == {
        "ml2": {"mechanism_drivers": "gpuslice_host_alias,openvswitch"},
        "ml2_gpuslice": {"host_aliases": "gpu18:hyper18,gpu2:hyper16"},
    }


def test_render_keeps_the_deployments_drivers_in_order_after_the_alias_driver() -> None:
    settings = render_ml2_settings(
        {"gpu18": "hyper18"},
        mechanism_drivers=["openvswitch", "l2population", DRIVER_NAME],
    )
    assert settings["ml2"]["mechanism_drivers"] == ("gpuslice_host_alias,openvswitch,l2population")


def test_render_refuses_no_other_driver() -> None:
    with pytest.raises(InputError, match="name at least one other driver"):
        render_ml2_settings({"gpu18": "hyper18"}, mechanism_drivers=[DRIVER_NAME])


@pytest.mark.parametrize(
    ("aliases", "words"),
    [
        ({"gpu18": "gpu18"}, "its own real host"),
        ({"gpu18": ""}, "real host is empty"),
        ({"gpu,18": "hyper18"}, "cannot be written"),
        ({"gpu18": "hyper:18"}, "cannot be written"),
        ({"gpu2": "hyper16", "hyper16": "hyper17"}, "both an alias and a real host"),
    ],
)
def test_render_refuses_what_the_driver_would_refuse(aliases: dict[str, str], words: str) -> None:
    with pytest.raises(InputError, match=words):
        render_ml2_settings(aliases)


def test_rendered_settings_read_back_from_an_ini_file() -> None:
    settings = render_ml2_settings({"gpu18": "hyper18", "gpu2": "hyper16"})
    parser = configparser.ConfigParser()
    parser.read_dict(settings)
    text = "\n".join(
        f"[{s}]\n" + "\n".join(f"{k} = {v}" for k, v in parser[s].items())
        for s in parser.sections()
    )
    again = configparser.ConfigParser()
    again.read_string(text)
    assert again["ml2"]["mechanism_drivers"].split(",")[0] == DRIVER_NAME
    assert parse_host_aliases(again[CONFIG_GROUP]["host_aliases"]) == {
        "gpu18": "hyper18",
        "gpu2": "hyper16",
    }


_hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)


@given(st.dictionaries(_hosts.map(lambda h: "gpu-" + h), _hosts.map(lambda h: "hyper-" + h)))
def test_render_then_parse_gives_the_same_map(aliases: dict[str, str]) -> None:
    assert parse_host_aliases(render_host_aliases(aliases)) == aliases
