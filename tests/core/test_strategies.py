"""The strategy registry: one class per strategy, one release guard each, `auto` from it."""

from __future__ import annotations

import pytest

from gpuslice.errors import InputError
from gpuslice.fleet import STRATEGIES as FLEET_STRATEGY_NAMES
from gpuslice.plan import STRATEGIES, choose_strategy, make_plan
from gpuslice.releases import RELEASE_NAMES
from gpuslice.sim import ALL_STRATEGIES
from tests.core.fleets import lab_fleet


def test_the_registry_names_every_strategy_a_fleet_file_may_name() -> None:
    assert (*STRATEGIES, "auto") == FLEET_STRATEGY_NAMES
    assert tuple(STRATEGIES) == ALL_STRATEGIES
    assert all(name == strategy.name for name, strategy in STRATEGIES.items())


@pytest.mark.parametrize("number", sorted(RELEASE_NAMES))
@pytest.mark.parametrize("name", list(STRATEGIES))
def test_a_strategy_plans_exactly_where_it_does_not_refuse(number: int, name: str) -> None:
    fleet = lab_fleet(number)
    strategy = STRATEGIES[name]
    refusal = strategy.refusal(fleet)
    if refusal is None:
        plan = make_plan(fleet, name)
        assert (plan.strategy, plan.promise) == (name, strategy.promise)
    else:
        with pytest.raises(InputError) as caught:
            make_plan(fleet, name)
        assert caught.value.detail == refusal
        assert caught.value.field == "strategy"


@pytest.mark.parametrize("number", sorted(RELEASE_NAMES))
def test_auto_is_the_first_preferred_strategy_the_release_allows(number: int) -> None:
    fleet = lab_fleet(number)
    chosen = choose_strategy(fleet)
    assert STRATEGIES[chosen].refusal(fleet) is None
    expected = (
        "placement"
        if fleet.release.has("provider_yaml")
        else "split"
        if not fleet.release.has("placement_mandatory")
        else "dedicated"
    )
    assert chosen == expected


def test_an_unknown_strategy_lists_the_known_ones() -> None:
    known = "choose none, weigher, dedicated, split, placement or auto"
    with pytest.raises(InputError, match=known):
        make_plan(lab_fleet(34), "pooled")
