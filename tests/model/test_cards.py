"""vGPU cards in the model: a request's numbered group tied to one card, as Placement ties it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuslice.errors import InputError
from gpuslice.model import Claim, Prepared, Scheduler, from_plan, request_from_flavor
from gpuslice.model.cards import CARD_STAGE, CardModel, split
from gpuslice.model.cloud import CloudModel
from gpuslice.plan.types import Flavor, Inventory
from tests.model.builders import flavor, plan, provider
from tests.model.reference import Placed, Reference

TRAIT = "CUSTOM_VGPU_A10"
SLICE = (4, 16384)  # per vGPU: vCPUs, MiB


def card(name: str, host: int, vgpus: int = 4, *, with_slice: bool = True) -> CardModel:
    """A card of `vgpus` vGPUs, holding their slices when `with_slice`."""
    capacity = {"VGPU": vgpus}
    if with_slice:
        capacity |= {"CUSTOM_GPU_VCPU": vgpus * SLICE[0], "CUSTOM_GPU_MEMORY_MB": vgpus * SLICE[1]}
    return CardModel(name, host, "a10", capacity, frozenset({TRAIT}))


def cloud(*cards_per_host: tuple[int, ...], with_slice: bool = True) -> CloudModel:
    """Hosts h0, h1, ... with a pooled disk slice on the root and cards of the given sizes."""
    providers = [
        provider(f"h{i}", vcpu=64, ram=262144, extra={"CUSTOM_GPU_DISK_GB": Inventory(1000)})
        for i in range(len(cards_per_host))
    ]
    model = from_plan(plan(providers, filters=("ComputeFilter",)))
    cards = tuple(
        card(f"h{h}_pci_{k}", h, n, with_slice=with_slice)
        for h, sizes in enumerate(cards_per_host)
        for k, n in enumerate(sizes)
    )
    return replace(model, cards=cards)


def tied(vgpus: int, *, trait: str = TRAIT) -> Flavor:
    """A tied vGPU flavor: the numbered group asks vGPUs, their slice and the trait."""
    return flavor(
        f"v{vgpus}",
        vgpus * SLICE[0],
        vgpus * SLICE[1],
        40,
        resources__VCPU="0",
        resources__MEMORY_MB="0",
        resources__DISK_GB="0",
        resources__CUSTOM_GPU_DISK_GB=str(40 * vgpus),
        resources1__VGPU=str(vgpus),
        resources1__CUSTOM_GPU_VCPU=str(vgpus * SLICE[0]),
        resources1__CUSTOM_GPU_MEMORY_MB=str(vgpus * SLICE[1]),
        **{"trait1:" + trait: "required"},
    )


def slice_only(vcpus: int) -> Flavor:
    """A flavor taking a card's slice vCPUs without a vGPU (what docs/vgpu.md warns about)."""
    return flavor(
        "thief",
        vcpus,
        1024,
        10,
        resources__VCPU="0",
        resources1__CUSTOM_GPU_VCPU=str(vcpus),
        resources1__VGPU="0",
    )


def test_the_numbered_group_goes_to_a_card_and_the_rest_to_the_root() -> None:
    spec = request_from_flavor(tied(2))
    parts = split(spec, frozenset({"VCPU", "MEMORY_MB", "DISK_GB", "CUSTOM_GPU_DISK_GB"}))
    root, ask = parts.root, parts.card
    assert ask is not None
    assert dict(ask.resources) == {"VGPU": 2, "CUSTOM_GPU_VCPU": 8, "CUSTOM_GPU_MEMORY_MB": 32768}
    assert ask.required_traits == {TRAIT}
    assert dict(root.resources) == {"CUSTOM_GPU_DISK_GB": 80}
    assert root.required_traits == frozenset()


def test_an_unnumbered_vgpu_class_goes_to_one_card() -> None:
    spec = request_from_flavor(flavor("v", 8, 32768, 40, resources__VGPU="2"))
    parts = split(spec, frozenset({"VCPU", "MEMORY_MB", "DISK_GB"}))
    root, ask = parts.root, parts.card
    assert ask is not None
    assert ask.suffix == ""
    assert dict(ask.resources) == {"VGPU": 2}
    assert dict(root.resources) == {"VCPU": 8, "MEMORY_MB": 32768, "DISK_GB": 40}


def test_a_request_without_card_classes_stays_whole_on_the_root() -> None:
    spec = request_from_flavor(flavor("m", 2, 4096, 20, resources1__CUSTOM_X="1"))
    parts = split(spec, frozenset({"VCPU", "MEMORY_MB", "DISK_GB", "CUSTOM_X"}))
    assert parts.card is None
    assert parts.root == spec
    assert parts.either == ()


def test_an_unnumbered_card_class_beside_numbered_card_groups_is_refused_with_the_flavor() -> None:
    spec = request_from_flavor(flavor("two", resources__VGPU="1", resources1__VGPU="1"))
    with pytest.raises(InputError, match="flavor two asks card classes in the unnumbered group"):
        split(spec, frozenset({"VCPU", "MEMORY_MB", "DISK_GB"}))


def test_a_card_full_of_vgpus_cannot_take_more_though_the_host_is_free() -> None:
    s = Scheduler(cloud((1,)))
    one = s.prepare(request_from_flavor(tied(1)))
    assert s.schedule(one) is not None
    assert s.schedule(one) is None
    (rejection,) = s.explain(one)
    assert rejection.stage == CARD_STAGE
    assert "no card (CUSTOM_VGPU_A10) with 1 free VGPU and its slice" in rejection.reason


def test_a_card_whose_slice_is_taken_cannot_take_a_vgpu_though_its_vgpus_are_free() -> None:
    s = Scheduler(cloud((4,)))
    thief = s.prepare(request_from_flavor(slice_only(14)))
    assert s.schedule(thief) is not None
    assert s.cards is not None
    assert s.cards.free_of(0, "VGPU") == 4
    assert s.schedule(s.prepare(request_from_flavor(tied(1)))) is None


def test_vgpus_and_slice_come_from_the_same_card() -> None:
    s = Scheduler(cloud((4, 4)), card_order="fleet")
    first = s.schedule(s.prepare(request_from_flavor(tied(3))))
    second = s.schedule(s.prepare(request_from_flavor(tied(2))))
    assert first is not None
    assert second is not None
    assert (first.card, second.card) == (0, 1)
    cards = s.cards
    assert cards is not None
    assert [cards.used(0, rc) for rc in ("VGPU", "CUSTOM_GPU_VCPU")] == [3, 12]
    assert [cards.used(1, rc) for rc in ("VGPU", "CUSTOM_GPU_VCPU")] == [2, 8]


def test_no_single_card_with_enough_refuses_though_the_cards_together_have_it() -> None:
    s = Scheduler(cloud((4, 4)))
    three = s.prepare(request_from_flavor(tied(3)))
    assert s.schedule(three) is not None
    assert s.schedule(three) is not None
    two = s.prepare(request_from_flavor(tied(2)))
    assert s.schedule(two) is None  # 1 + 1 vGPUs free on the host, on two cards
    assert s.schedule(s.prepare(request_from_flavor(tied(1)))) is not None


def test_the_first_card_in_fleet_order_that_fits_is_taken() -> None:
    s = Scheduler(cloud((2, 4, 4)), card_order="fleet")
    four = s.schedule(s.prepare(request_from_flavor(tied(4))))
    one = s.schedule(s.prepare(request_from_flavor(tied(1))))
    assert four is not None
    assert one is not None
    assert (four.card, one.card) == (1, 0)


def test_a_release_gives_back_to_the_card_the_claim_took() -> None:
    s = Scheduler(cloud((4, 4)), card_order="fleet")
    two = s.prepare(request_from_flavor(tied(2)))
    claims = [s.schedule(two) for _ in range(3)]
    assert [c.card for c in claims if c is not None] == [0, 0, 1]
    first = claims[0]
    assert first is not None
    s.release(first)
    cards = s.cards
    assert cards is not None
    assert (cards.free_of(0, "VGPU"), cards.free_of(1, "VGPU")) == (2, 2)
    assert cards.free_of(0, "CUSTOM_GPU_MEMORY_MB") == 2 * SLICE[1]
    again = s.schedule(two)
    assert again is not None
    assert again.card == 0


def test_each_request_keeps_one_drawn_card_ranking_and_flavors_may_differ() -> None:
    differ = 0
    for seed in range(30):
        s = Scheduler(cloud((4, 4)), seed=seed)
        one, two = (s.prepare(request_from_flavor(tied(v))) for v in (1, 2))
        ones = [s.schedule(one) for _ in range(2)]
        assert len({c.card for c in ones if c is not None}) == 1  # the same card while it fits
        first_two = s.schedule(two)
        assert first_two is not None
        four = s.schedule(s.prepare(request_from_flavor(tied(4))))
        if first_two.card != ones[0].card:  # type: ignore[union-attr]
            differ += 1
            assert four is None  # 2 + 2 vGPUs left on two cards: fragmentation
        else:
            assert four is not None
    assert 0 < differ < 30  # as Placement's hash order ranks cards per flavor


def test_the_same_seed_draws_the_same_rankings() -> None:
    def cards_taken(seed: int) -> list[int]:
        s = Scheduler(cloud((4, 4), (4, 4)), seed=seed)
        kinds = [s.prepare(request_from_flavor(tied(v))) for v in (1, 2, 1, 4)]
        return [c.card for c in (s.schedule(k) for k in kinds) if c is not None]

    assert cards_taken(5) == cards_taken(5)


def test_a_card_of_another_model_is_not_taken() -> None:
    s = Scheduler(cloud((4,)))
    other = s.prepare(request_from_flavor(tied(1, trait="CUSTOM_VGPU_L4")))
    assert s.schedule(other) is None
    (rejection,) = s.explain(other)
    assert rejection.reason.startswith("no card of this kind (CUSTOM_VGPU_L4)")


def test_hosts_without_cards_are_removed_and_hosts_are_spread_by_weight() -> None:
    s = Scheduler(cloud((4,), (), (4,)))
    one = s.prepare(request_from_flavor(tied(1)))
    placed = [s.schedule(one) for _ in range(2)]
    hosts = sorted(s.names[c.provider] for c in placed if c is not None)
    assert hosts == ["h0", "h2"]  # the RAM weigher spreads; h1 has no card
    assert any(r.host == "h1" and r.reason.startswith("no card") for r in s.explain(one))


def mixed(cards: tuple[int, ...] = (4, 4)) -> CloudModel:
    """One host whose root holds a passthrough GPU's slice (8 vCPUs, 64 GiB) in the same
    classes as its vGPU cards' tied slices (the examples/vgpu mixed host)."""
    root = provider(
        "mixed",
        vcpu=96,
        ram=786432,
        extra={
            "CUSTOM_GPU_VCPU": Inventory(8),
            "CUSTOM_GPU_MEMORY_MB": Inventory(65536),
            "CUSTOM_GPU_DISK_GB": Inventory(1000),
        },
    )
    model = from_plan(plan([root], filters=("ComputeFilter",)))
    return replace(model, cards=tuple(card(f"mixed_pci_{k}", 0, n) for k, n in enumerate(cards)))


def passthrough_slice() -> Flavor:
    """A passthrough flavor's pooled slice, asked unnumbered (the device itself left out)."""
    return flavor(
        "g1.l40s",
        8,
        65536,
        100,
        resources__VCPU="0",
        resources__MEMORY_MB="0",
        resources__DISK_GB="0",
        resources__CUSTOM_GPU_VCPU="8",
        resources__CUSTOM_GPU_MEMORY_MB="65536",
        resources__CUSTOM_GPU_DISK_GB="100",
    )


def test_unnumbered_classes_the_cards_also_hold_may_come_from_a_card() -> None:
    spec = request_from_flavor(passthrough_slice())
    roots = frozenset({"VCPU", "CUSTOM_GPU_VCPU", "CUSTOM_GPU_MEMORY_MB", "CUSTOM_GPU_DISK_GB"})
    parts = split(spec, roots, frozenset({"VGPU", "CUSTOM_GPU_VCPU", "CUSTOM_GPU_MEMORY_MB"}))
    assert parts.card is None
    assert dict(parts.either) == {"CUSTOM_GPU_VCPU": 8, "CUSTOM_GPU_MEMORY_MB": 65536}
    assert dict(parts.root.resources) == {"CUSTOM_GPU_DISK_GB": 100}


def test_a_passthrough_slice_on_a_card_refuses_a_vgpu_vm_while_its_vgpus_are_free() -> None:
    # Seen on real nova 34: the L40S VM's CUSTOM_GPU_VCPU and CUSTOM_GPU_MEMORY_MB came from
    # the A10 cards, and then no 4-vGPU VM booted although both cards had 4 vGPUs free.
    on_cards = 0
    for seed in range(20):
        s = Scheduler(mixed(), seed=seed)
        claim = s.schedule(s.prepare(request_from_flavor(passthrough_slice())))
        assert claim is not None
        assert len(claim.either) == 2
        four = s.prepare(request_from_flavor(tied(4)))
        booted = sum(s.schedule(four) is not None for _ in range(2))
        if any(where >= 0 for where in claim.either):
            on_cards += 1
            assert booted < 2  # a card with 4 vGPUs free lost part of its slice
        else:
            assert booted == 2
    assert 0 < on_cards < 20  # drawn among root and cards: both happen


def test_an_either_class_goes_back_where_it_came_from() -> None:
    on_a_card = 0
    for seed in range(10):
        s = Scheduler(mixed(), seed=seed)
        request = s.prepare(request_from_flavor(passthrough_slice()))
        cards = s.cards
        assert cards is not None
        before = (s.free_of("mixed", "CUSTOM_GPU_VCPU"), [list(r) for r in cards.free])
        claim = s.schedule(request)
        assert claim is not None
        on_a_card += claim.either != (-1, -1)
        s.release(claim)
        after = (s.free_of("mixed", "CUSTOM_GPU_VCPU"), [list(r) for r in cards.free])
        assert after == before
    assert on_a_card > 0  # some seeds take a class from a card, and give it back there


def test_when_neither_root_nor_a_card_has_the_amount_the_host_is_removed() -> None:
    s = Scheduler(mixed(cards=(1,)))
    request = s.prepare(request_from_flavor(passthrough_slice()))
    assert s.schedule(request) is not None  # only the root has 8 vCPUs and 64 GiB
    assert s.schedule(request) is None
    (rejection,) = s.explain(request)
    assert rejection.reason == (
        "CUSTOM_GPU_MEMORY_MB: 65536 asked, 0 free on the root and less on every card"
    )


def _check_cards(s: Scheduler, live: list[Claim]) -> None:
    """Every card's used amounts are what the live claims on it asked, within capacity."""
    cards = s.cards
    assert cards is not None
    for k in range(len(cards.cards)):
        for col, rc in enumerate(cards.columns):
            asked = sum(
                dict(c.request.card.ask.resources).get(rc, 0)
                for c in live
                if c.card == k and c.request.card is not None
            )
            assert cards.used(k, rc) == asked
            assert 0 <= cards.free[k][col] <= cards.capacity[k][col]


def _step(s: Scheduler, kinds: list[Prepared], live: list[Claim], what: int, pick: int) -> None:
    """Release a live claim (`pick` >= 6) or place `kinds[what]`, checking that the
    incremental candidate list agrees with a full recount and the claim with it."""
    if pick >= 6 and live:
        s.release(live.pop(pick % len(live)))
        return
    request = kinds[what % len(kinds)]
    expected = s._full_mask(request).nonzero()[0].tolist()
    assert s.candidates(request).tolist() == expected
    claim = s.schedule(request)
    assert (claim is None) == (not expected)
    if claim is not None:
        assert claim.provider in expected
        live.append(claim)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.lists(st.integers(1, 4), max_size=3), min_size=1, max_size=4).filter(any),
    steps=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 7)), max_size=60),
)
def test_never_more_vgpus_or_slice_on_a_card_than_it_has(
    sizes: list[list[int]], steps: list[tuple[int, int]]
) -> None:
    s = Scheduler(cloud(*(tuple(h) for h in sizes)))
    kinds = [s.prepare(request_from_flavor(tied(v))) for v in (1, 2, 3, 4)]
    live: list[Claim] = []
    for what, pick in steps:
        _step(s, kinds, live, what, pick)
        assert all(c.card >= 0 for c in live)
        _check_cards(s, live)


def test_a_model_with_cards_decides_host_by_host_and_others_by_groups() -> None:
    assert not Scheduler(cloud((4,)))._grouped
    assert Scheduler(replace(cloud((4,)), cards=()))._grouped


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 1000),
    steps=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 7)), max_size=50),
)
def test_root_and_cards_never_give_more_than_they_have_when_classes_are_shared(
    seed: int, steps: list[tuple[int, int]]
) -> None:
    s = Scheduler(mixed(), seed=seed)
    kinds = [s.prepare(request_from_flavor(passthrough_slice()))]
    kinds += [s.prepare(request_from_flavor(tied(v))) for v in (1, 2, 3, 4)]
    cards = s.cards
    assert cards is not None
    live: list[Claim] = []
    for what, pick in steps:
        _step(s, kinds, live, what, pick)
        for rc, total in (("CUSTOM_GPU_VCPU", 8), ("CUSTOM_GPU_MEMORY_MB", 65536)):
            assert 0 <= s.free_of("mixed", rc) <= total
        for k in range(len(cards.cards)):
            for col in range(len(cards.columns)):
                assert 0 <= cards.free[k][col] <= cards.capacity[k][col]
    for claim in reversed(live):
        s.release(claim)
    assert cards.free == cards.capacity
    assert s.free_of("mixed", "CUSTOM_GPU_VCPU") == 8


def test_a_claim_on_a_named_host_takes_a_card_as_schedule_does() -> None:
    s = Scheduler(cloud((4,), (4,)), card_order="fleet")
    four = s.prepare(request_from_flavor(tied(4)))
    claim = s.claim_on(four, "h1")
    assert claim is not None
    assert (claim.provider, claim.card) == (1, 1)
    assert s.claim_on(four, "h1") is None  # its one card is full
    s.release(claim)
    assert s.claim_on(four, "h1") is not None


def test_with_cards_ordinary_vms_land_where_the_grouped_path_puts_them_without_cards() -> None:
    from gpuslice.fleetfile import load_fleet
    from gpuslice.plan import make_plan
    from tests.conftest import EXAMPLES

    model = from_plan(make_plan(load_fleet(EXAMPLES / "vgpu" / "fleet.yaml")))
    with_cards, grouped = Scheduler(model), Scheduler(replace(model, cards=()))
    assert not with_cards._grouped
    assert grouped._grouped
    sizes = [(1, 2048), (2, 4096), (4, 8192), (8, 16384), (16, 65536)]
    live: list[tuple[Claim, Claim]] = []
    for i in range(400):
        vcpus, ram = sizes[i * 7 % len(sizes)]
        spec = request_from_flavor(flavor(f"m{vcpus}", vcpus, ram, 20))
        a = with_cards.schedule(with_cards.prepare(spec))
        b = grouped.schedule(grouped.prepare(spec))
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            assert with_cards.names[a.provider] == grouped.names[b.provider]
            live.append((a, b))
        if i % 3 == 2 and live:
            a, b = live.pop(i * 5 % len(live))
            with_cards.release(a)
            grouped.release(b)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.lists(st.integers(1, 4), max_size=3), min_size=1, max_size=4).filter(any),
    steps=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 7), st.booleans()), max_size=60),
)
def test_the_engine_ties_cards_as_the_rules_do(
    sizes: list[list[int]], steps: list[tuple[int, int, bool]]
) -> None:
    """Engine and reference (tests/model/reference.py, the rules alone) pick the same host
    and the same card, through claims, releases and nova's periodic update (the reference
    takes a host's cards in fleet order)."""
    model = cloud(*(tuple(h) for h in sizes))
    s = Scheduler(model, card_order="fleet")
    reference = Reference(model)
    flavors = [tied(v) for v in (1, 2, 3, 4)]
    flavors += [tied(1, trait="CUSTOM_VGPU_L4"), flavor("m", 8, 16384, 20)]
    kinds = [s.prepare(request_from_flavor(f)) for f in flavors]
    live: list[tuple[Claim, Placed]] = []
    for what, pick, settle in steps:
        if settle:
            s.settle()
            reference.settle()
        if pick >= 6 and live:
            claim, placed = live.pop(pick % len(live))
            s.release(claim)
            reference.release(placed)
            continue
        request = kinds[what % len(kinds)]
        expected = reference.schedule(request.spec)
        claim = s.schedule(request)
        got = None if claim is None else (claim.provider, claim.cards)
        assert got == (None if expected is None else (expected.host, expected.cards))
        if claim is not None and expected is not None:
            live.append((claim, expected))
