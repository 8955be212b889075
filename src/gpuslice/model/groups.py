"""Hosts grouped by state, and the log of groups that appeared and vanished.

Hosts with the same static class (the same answer from every prepared request's static
mask), free amounts, free devices and raw weights are interchangeable for every request but
for fleet order: one `GroupKey`, one `HostGroup`. `Grouping` keeps every host in the group
of its state as claims and releases move it, and logs the groups that appear and vanish, so
that each request's `GroupView` (`gpuslice.model.groupview`) can catch up from where it
last looked.

A group dies when its last host leaves (`count == 0`) and never comes back: a host that
enters the same state later starts a new group with the same key.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Generic, TypeVar

GroupKey = tuple[float, ...]
"""A host's static class, free amounts, free PCI devices and raw weights, in one tuple."""

Event = tuple[bool, "HostGroup"]
"""A group that appeared (True) or vanished (False)."""

Mover = TypeVar("Mover")

EVENTS_KEPT = 4096
"""How many events the log keeps before it starts afresh (a view further behind recounts)."""


class HostGroup:
    """Hosts in one state (same `GroupKey`): how many, a heap of their indices, their weights.

    The heap is lazy: a host that left stays in it until it reaches the top (or a compaction).
    `weights` are the raw weights clamped at each weigher's minval, as nova clamps them.
    """

    __slots__ = ("count", "heap", "key", "next", "weights")

    def __init__(self, key: GroupKey, j: int, weights: tuple[float, ...]) -> None:
        self.key = key
        self.count = 1
        self.heap = [j]
        self.weights = weights
        # where a claim (or release) of a prepared request takes this group's hosts: the
        # group of the new state (perhaps since emptied; then looked up again by its key)
        self.next: dict[int, HostGroup] = {}


class Grouping(Generic[Mover]):
    """Every host in the group of its state; the static classes; the log of group events.

    `epoch` counts regroupings: a view made in another epoch starts afresh. The log is
    `events`, of which `event_base` were dropped before the first one kept. `new_key(key,
    mover, kind)` is the state that a move of kind `kind` (a claim or a release, as the
    scheduler numbers them) by `mover` (a request) takes a host in state `key` to (see
    `transition`).
    """

    __slots__ = (
        "cls",
        "cls_rep",
        "epoch",
        "event_base",
        "events",
        "floors",
        "group_of",
        "groups",
        "masks",
        "minvals",
        "new_key",
        "woff",
    )

    def __init__(
        self,
        hosts: int,
        floors: tuple[float | None, ...],
        woff: int,
        new_key: Callable[[GroupKey, Mover, int], GroupKey],
    ) -> None:
        self.new_key = new_key
        self.floors = floors
        self.minvals = tuple((k, floor) for k, floor in enumerate(floors) if floor is not None)
        # where the raw weights start in a group key
        self.woff = woff
        self.cls: list[int] = [0] * hosts
        self.cls_rep: list[int] = [0] if hosts else []
        self.masks: set[bytes] = set()
        self.groups: dict[GroupKey, HostGroup] = {}
        self.group_of: list[HostGroup] = []
        self.events: list[Event] = []
        self.event_base = 0
        self.epoch = 0

    # ----------------------------------------------------------------- classes
    def refine(self, static: list[bool]) -> bool:
        """Split the static classes by a new request's static mask; True when one split.

        The caller regroups (`regroup`) when it did: group keys start with the class.
        """
        ids: dict[tuple[int, bool], int] = {}
        refined = [ids.setdefault(pair, len(ids)) for pair in zip(self.cls, static, strict=True)]
        if len(ids) == len(self.cls_rep):
            return False
        self.cls = refined
        reps = [-1] * len(ids)
        for j, c in enumerate(refined):
            if reps[c] < 0:
                reps[c] = j
        self.cls_rep = reps
        return True

    def regroup(self, keys: list[GroupKey]) -> None:
        """Group every host afresh by its key (host j's is `keys[j]`); a new epoch."""
        groups: dict[GroupKey, HostGroup] = {}
        group_of: list[HostGroup] = []
        for j, key in enumerate(keys):
            group = groups.get(key)
            if group is None:
                group = groups[key] = self.new_group(key, j)
            else:
                group.count += 1
                group.heap.append(j)  # (hosts come in fleet order: the list stays a heap)
            group_of.append(group)
        self.groups = groups
        self.group_of = group_of
        self.event_base += len(self.events)
        self.events = []
        self.epoch += 1

    # ----------------------------------------------------------------- groups
    def new_group(self, key: GroupKey, j: int) -> HostGroup:
        """A group for host `j` in state `key`, its weights clamped at each minval."""
        weights = key[self.woff :]
        for k, low in self.minvals:
            if weights[k] < low:
                weights = tuple(
                    w if floor is None or w >= floor else floor
                    for w, floor in zip(weights, self.floors, strict=True)
                )
                break
        return HostGroup(key, j, weights)

    def first(self, group: HostGroup) -> int:
        """The first host of `group` in fleet order."""
        heap = group.heap
        group_of = self.group_of
        while group_of[heap[0]] is not group:
            heapq.heappop(heap)
        return heap[0]

    def move(self, j: int, key: GroupKey) -> None:
        """Put host `j` in the group of its new state `key`, logging groups that come and go."""
        old = self.group_of[j]
        if old.key == key:
            return
        self._leave(old)
        group = self.groups.get(key)
        if group is None:
            self._found(self.new_group(key, j), j)
        else:
            self._join(group, j)

    def transition(self, j: int, move: int, mover: Mover, kind: int) -> None:
        """Move host `j` as the claim or release numbered `move` does (see `HostGroup.next`).

        The old group remembers where that move took its hosts; when it does not know yet,
        `new_key(key, mover, kind)` computes the new state.
        """
        old = self.group_of[j]
        target = old.next.get(move)
        if target is old:
            return
        self._leave(old)
        if target is not None and target.count:
            self._join(target, j)
            return
        key = self.new_key(old.key, mover, kind) if target is None else target.key
        group = self.groups.get(key)
        if group is not None:
            self._join(group, j)
        elif target is None:
            group = self._found(self.new_group(key, j), j)
        else:
            # the state's group emptied since: its key and clamped weights hold
            group = self._found(HostGroup(key, j, target.weights), j)
        if old.count:
            old.next[move] = group

    def _leave(self, group: HostGroup) -> None:
        group.count -= 1
        if not group.count:
            del self.groups[group.key]
            self.events.append((False, group))
            group.next = {}

    def _join(self, group: HostGroup, j: int) -> None:
        group.count += 1
        group_of = self.group_of
        group_of[j] = group
        heap = group.heap
        heapq.heappush(heap, j)
        if len(heap) > 2 * group.count + 16:
            heap[:] = sorted({i for i in heap if group_of[i] is group})

    def _found(self, group: HostGroup, j: int) -> HostGroup:
        self.groups[group.key] = group
        self.group_of[j] = group
        events = self.events
        events.append((True, group))
        if len(events) > EVENTS_KEPT:
            self.event_base += len(events)
            events.clear()
        return group
