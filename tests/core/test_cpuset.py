from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpuslice.cpuset import format_cpuset, parse_cpuset
from gpuslice.errors import InputError


def test_the_recipes_pin_set_is_23_cpus_not_22() -> None:
    assert len(parse_cpuset("0-22")) == 23
    assert format_cpuset(range(22)) == "0-21"


def test_ranges_and_singles() -> None:
    assert parse_cpuset("0-2, 5,7-8") == (0, 1, 2, 5, 7, 8)
    assert format_cpuset([8, 7, 5, 2, 1, 0]) == "0-2,5,7-8"


@pytest.mark.parametrize("text", ["3-1", "a", "1,,2", "0-3,2", "-1"])
def test_bad_sets_are_input_errors(text: str) -> None:
    with pytest.raises(InputError, match="CPU"):
        parse_cpuset(text, source="fleet.yaml", field="hosts.0.cpus")


@given(st.sets(st.integers(min_value=0, max_value=512), min_size=1))
def test_format_then_parse_round_trips(ids: set[int]) -> None:
    assert parse_cpuset(format_cpuset(ids)) == tuple(sorted(ids))
