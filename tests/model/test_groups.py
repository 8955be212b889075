"""Hosts grouped by state: classes, moves, lazy transitions and the event log."""

from __future__ import annotations

from collections.abc import Callable

from gpuslice.model.groups import Grouping, GroupKey

# keys: (class, free amount, raw weight); one weigher with minval 0.0 at position 2
FLOORS: tuple[float | None, ...] = (0.0,)
NewKey = Callable[[GroupKey, int, int], GroupKey]


def step(key: GroupKey, amount: int, sign: int) -> GroupKey:
    """The state a claim (sign -1) or release (+1) of `amount` takes a host in `key` to."""
    return (key[0], key[1] + sign * amount, key[2] + sign * amount)


def grouped(keys: list[GroupKey], new_key: NewKey = step) -> Grouping[int]:
    grouping = Grouping(len(keys), FLOORS, 2, new_key)
    grouping.regroup(keys)
    return grouping


def test_hosts_in_one_state_share_a_group_and_the_first_is_the_lowest_index() -> None:
    grouping = grouped([(0, 4, 4.0), (0, 2, 2.0), (0, 4, 4.0)])
    assert len(grouping.groups) == 2
    assert grouping.group_of[0] is grouping.group_of[2]
    assert grouping.group_of[0].count == 2
    assert grouping.first(grouping.group_of[0]) == 0


def test_weights_below_the_minval_are_clamped() -> None:
    grouping = grouped([(0, 1, -512.0)])
    assert grouping.group_of[0].weights == (0.0,)
    assert grouping.group_of[0].key == (0, 1, -512.0)


def test_refine_says_whether_a_mask_split_a_class() -> None:
    grouping = Grouping(3, FLOORS, 2, step)
    assert not grouping.refine([True, True, True])
    assert grouping.refine([True, False, True])
    assert grouping.cls == [0, 1, 0]
    assert grouping.cls_rep == [0, 1]
    assert not grouping.refine([False, True, False])  # the same split, other answers


def test_a_move_logs_the_group_that_vanished_and_the_one_that_appeared() -> None:
    grouping = grouped([(0, 4, 4.0), (0, 2, 2.0)])
    old = grouping.group_of[0]
    grouping.move(0, (0, 3, 3.0))
    assert [(added, group.key) for added, group in grouping.events] == [
        (False, (0, 4, 4.0)),
        (True, (0, 3, 3.0)),
    ]
    assert old.count == 0
    assert (0, 4, 4.0) not in grouping.groups


def test_first_skips_hosts_that_left_the_group() -> None:
    grouping = grouped([(0, 4, 4.0), (0, 4, 4.0), (0, 4, 4.0)])
    group = grouping.group_of[0]
    grouping.move(0, (0, 3, 3.0))
    assert grouping.first(group) == 1
    grouping.move(0, (0, 4, 4.0))  # back: the lowest index again
    assert grouping.first(group) == 0


def test_a_transition_is_computed_once_then_taken_from_the_old_group() -> None:
    calls: list[GroupKey] = []

    def counted(key: GroupKey, amount: int, sign: int) -> GroupKey:
        calls.append(key)
        return step(key, amount, sign)

    grouping = grouped([(0, 4, 4.0), (0, 4, 4.0)], counted)
    grouping.transition(0, 7, 1, -1)
    grouping.transition(1, 7, 1, -1)
    assert calls == [(0, 4, 4.0)]  # the second host followed the cached transition
    assert grouping.group_of[0] is grouping.group_of[1]
    assert grouping.group_of[0].key == (0, 3, 3.0)
    assert grouping.group_of[0].count == 2


def test_a_transition_to_an_emptied_state_starts_a_new_group_with_its_key() -> None:
    grouping = grouped([(0, 4, 4.0), (0, 4, 4.0)])
    grouping.transition(0, 1, 1, -1)  # host 0: 4 -> 3
    emptied = grouping.group_of[0]
    grouping.transition(0, 2, 1, 1)  # host 0: 3 -> 4; the group at 3 empties
    assert emptied.count == 0
    grouping.transition(1, 1, 1, -1)  # host 1 follows the cached move to 3
    assert grouping.group_of[1] is not emptied
    assert grouping.group_of[1].key == emptied.key
    assert grouping.groups[(0, 3, 3.0)] is grouping.group_of[1]
