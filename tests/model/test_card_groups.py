"""Several card groups in one request: a k-vGPU flavor on SR-IOV based vGPU (one provider per
virtual function holding 1 VGPU and its slice) asks k numbered groups, and Placement's
group_policy says whether they need k distinct providers."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuslice.errors import InputError
from gpuslice.model import Claim, Scheduler, from_plan, request_from_flavor
from gpuslice.model.cards import CARD_STAGE, CardModel, match, split
from gpuslice.model.cloud import CloudModel
from gpuslice.plan.types import Flavor, Inventory
from tests.model.builders import flavor, plan, provider
from tests.model.reference import Placed, Reference

TRAIT = "CUSTOM_VGPU_A10"
SLICE = (4, 16384)
ROOT = frozenset({"VCPU", "MEMORY_MB", "DISK_GB", "CUSTOM_GPU_DISK_GB"})


def vf(name: str, host: int, *, trait: str = TRAIT, vgpus: int = 1) -> CardModel:
    """One provider holding `vgpus` vGPUs and their slices (a VF holds one)."""
    capacity = {
        "VGPU": vgpus,
        "CUSTOM_VGPU_VCPU": vgpus * SLICE[0],
        "CUSTOM_VGPU_MEMORY_MB": vgpus * SLICE[1],
    }
    return CardModel(
        name, host, "a10", capacity, frozenset({trait}), "VF" if vgpus == 1 else "card"
    )


def cloud(*per_host: int, vgpus: int = 1, traits: tuple[str, ...] = ()) -> CloudModel:
    """Hosts h0, h1, ... with a pooled disk slice on the root and `per_host[i]` providers of
    `vgpus` vGPUs each (VFs by default); `traits` gives the providers' traits in order."""
    providers = [
        provider(f"h{i}", vcpu=64, ram=262144, extra={"CUSTOM_GPU_DISK_GB": Inventory(1000)})
        for i in range(len(per_host))
    ]
    model = from_plan(plan(providers, filters=("ComputeFilter",)))
    cards = [
        vf(f"h{h}_pci_{k}", h, vgpus=vgpus)
        for h, count in enumerate(per_host)
        for k in range(count)
    ]
    for k, trait in enumerate(traits):
        cards[k] = replace(cards[k], traits=frozenset({trait}))
    return replace(model, cards=tuple(cards))


def groups(k: int, *, policy: str | None = "isolate", traits: tuple[str, ...] = ()) -> Flavor:
    """A tied k-vGPU flavor as gpuslice renders it for VFs: k numbered groups of 1 VGPU, its
    slice and a trait (`traits` per group; default the model's), the disk on the root."""
    specs: dict[str, str] = {
        "resources:VCPU": "0",
        "resources:MEMORY_MB": "0",
        "resources:DISK_GB": "0",
        "resources:CUSTOM_GPU_DISK_GB": str(40 * k),
    }
    for g in range(1, k + 1):
        specs[f"resources{g}:VGPU"] = "1"
        specs[f"resources{g}:CUSTOM_VGPU_VCPU"] = str(SLICE[0])
        specs[f"resources{g}:CUSTOM_VGPU_MEMORY_MB"] = str(SLICE[1])
        specs[f"trait{g}:{traits[g - 1] if traits else TRAIT}"] = "required"
    if policy is not None:
        specs["group_policy"] = policy
    return Flavor(f"v{k}.{policy}", k * SLICE[0], k * SLICE[1], 40, True, specs)


def test_k_groups_split_into_k_card_asks_and_the_root_keeps_the_rest() -> None:
    parts = split(request_from_flavor(groups(3)), ROOT)
    assert [a.suffix for a in parts.cards] == ["1", "2", "3"]
    assert all(
        dict(a.resources) == {"VGPU": 1, "CUSTOM_VGPU_VCPU": 4, "CUSTOM_VGPU_MEMORY_MB": 16384}
        for a in parts.cards
    )
    assert all(a.required_traits == {TRAIT} for a in parts.cards)
    assert parts.isolate
    assert dict(parts.root.resources) == {"CUSTOM_GPU_DISK_GB": 120}
    assert parts.root.required_traits == frozenset()
    assert not split(request_from_flavor(groups(2, policy="none")), ROOT).isolate


def test_different_groups_without_isolate_are_refused_with_the_flavor() -> None:
    spec = request_from_flavor(groups(2, policy="none", traits=(TRAIT, "CUSTOM_VGPU_L4")))
    with pytest.raises(InputError, match=r"flavor v2\.none asks 2 different request groups"):
        split(spec, ROOT)


def test_two_free_vfs_on_one_host_take_a_2_vgpu_vm_on_two_vfs() -> None:
    s = Scheduler(cloud(2), card_order="fleet")
    claim = s.schedule(s.prepare(request_from_flavor(groups(2))))
    assert claim is not None
    assert claim.cards == (0, 1)
    assert s.free_of("h0", "CUSTOM_GPU_DISK_GB") == 1000 - 80


def test_one_free_vf_on_each_of_two_hosts_refuses_a_2_vgpu_vm_and_says_why() -> None:
    s = Scheduler(cloud(1, 1))
    two = s.prepare(request_from_flavor(groups(2)))
    assert s.schedule(two) is None
    rejections = s.explain(two)
    assert [r.stage for r in rejections] == [CARD_STAGE, CARD_STAGE]
    assert rejections[0].reason == (
        "1 VF(s) (CUSTOM_VGPU_A10) can give 16384 CUSTOM_VGPU_MEMORY_MB, 4 CUSTOM_VGPU_VCPU, "
        "1 VGPU asked per group, 2 groups, group_policy=isolate"
    )
    one = s.prepare(request_from_flavor(groups(1)))
    assert s.schedule(one) is not None  # one VF each: 1-vGPU VMs still fit


def test_a_host_with_two_vfs_of_which_one_is_taken_says_so() -> None:
    s = Scheduler(cloud(2), card_order="fleet")
    assert s.schedule(s.prepare(request_from_flavor(groups(1)))) is not None
    two = s.prepare(request_from_flavor(groups(2)))
    assert s.schedule(two) is None
    (rejection,) = s.explain(two)
    assert rejection.stage == CARD_STAGE
    assert rejection.reason.startswith(
        "no 2 VFs (CUSTOM_VGPU_A10) each with 1 free VGPU and its slice"
    )
    assert "h0_pci_0: 0 CUSTOM_VGPU_MEMORY_MB, 0 CUSTOM_VGPU_VCPU, 0 VGPU;" in rejection.reason
    assert "h0_pci_1: 16384 CUSTOM_VGPU_MEMORY_MB, 4 CUSTOM_VGPU_VCPU, 1 VGPU" in rejection.reason


def test_isolate_needs_two_cards_and_none_stacks_both_groups_on_one() -> None:
    """Placement 16: isolate keeps only merges on distinct providers; none keeps any merge
    whose summed amounts fit, so one card of 4 vGPUs takes both groups."""
    model = cloud(1, vgpus=4)
    isolate = Scheduler(model)
    assert isolate.schedule(isolate.prepare(request_from_flavor(groups(2)))) is None
    none = Scheduler(model)
    claim = none.schedule(none.prepare(request_from_flavor(groups(2, policy="none"))))
    assert claim is not None
    assert claim.cards == (0, 0)
    cards = none.cards
    assert cards is not None
    assert cards.used(0, "VGPU") == 2
    assert cards.used(0, "CUSTOM_VGPU_VCPU") == 8


def test_none_on_vfs_still_needs_k_vfs_as_their_sums_exceed_one_vf() -> None:
    s = Scheduler(cloud(1, 2), card_order="fleet")
    claim = s.schedule(s.prepare(request_from_flavor(groups(2, policy="none"))))
    assert claim is not None
    assert (claim.provider, claim.cards) == (1, (1, 2))


def test_several_numbered_groups_without_a_policy_are_refused_on_every_host() -> None:
    s = Scheduler(cloud(4))
    request = s.prepare(request_from_flavor(groups(2, policy=None)))
    assert s.schedule(request) is None
    (rejection,) = s.explain(request)
    assert rejection.stage == "Placement"
    assert "without group_policy" in rejection.reason


def test_different_groups_under_isolate_are_matched_exactly() -> None:
    """Group 1 fits both VFs, group 2 only the first: the first-fit would strand group 2;
    the matching gives group 1 the second VF."""
    traits = (TRAIT, "CUSTOM_VGPU_L4")
    model = cloud(2, traits=("CUSTOM_VGPU_A10_AND_L4", "CUSTOM_VGPU_L4"))
    model = replace(
        model,
        cards=(
            replace(model.cards[0], traits=frozenset(traits)),
            replace(model.cards[1], traits=frozenset({TRAIT})),
        ),
    )
    s = Scheduler(model, card_order="fleet")
    claim = s.schedule(s.prepare(request_from_flavor(groups(2, traits=traits))))
    assert claim is not None
    assert claim.cards == (1, 0)


def test_match_finds_distinct_cards_or_none_and_keeps_the_earliest() -> None:
    assert match([[0, 1], [0]]) == (1, 0)
    assert match([[0, 1], [0, 1]]) == (0, 1)
    assert match([[0], [0]]) is None
    assert match([[2, 0, 1], [0, 1], [0]]) == (2, 1, 0)


def test_a_release_gives_back_to_the_same_vfs() -> None:
    s = Scheduler(cloud(4), seed=3)
    cards = s.cards
    assert cards is not None
    two = s.prepare(request_from_flavor(groups(2)))
    first = s.schedule(two)
    second = s.schedule(two)
    assert first is not None
    assert second is not None
    assert len(set(first.cards)) == 2
    assert not set(first.cards) & set(second.cards)
    s.release(first)
    assert [cards.free_of(k, "VGPU") for k in range(4)] == [
        0 if k in second.cards else 1 for k in range(4)
    ]
    s.release(second)
    assert cards.free == cards.capacity


def test_the_sriov_example_takes_a_2_vgpu_vm_on_two_vfs_of_its_host() -> None:
    from gpuslice.fleetfile import load_fleet
    from gpuslice.plan import make_plan
    from tests.conftest import EXAMPLES

    p = make_plan(load_fleet(EXAMPLES / "vgpu-sriov" / "fleet.yaml"))
    s = Scheduler(from_plan(p))
    v2 = next(f for f in p.cloud.flavors if f.name == "v2.a10")
    request = s.prepare(request_from_flavor(v2))
    names = [c.name for c in s.model.cards]
    taken: list[str] = []
    for _ in range(4):  # 2 cards x 4 VFs: four 2-vGPU VMs, then none
        claim = s.schedule(request)
        assert claim is not None
        assert s.names[claim.provider] == "sriov-01"
        assert len(set(claim.cards)) == 2
        taken += [names[k] for k in claim.cards]
    assert len(set(taken)) == 8
    assert s.schedule(request) is None
    (first, *_) = s.explain(request)
    assert first.host == "sriov-01"  # the root's disk slice runs out with the VFs, and first
    assert (first.stage, first.reason) == ("Placement", "CUSTOM_GPU_DISK_GB: 0 free, 80 asked")


def _check(s: Scheduler, live: list[Claim]) -> None:
    """Every card's used amounts are what the live claims' groups on it asked, within its
    capacity."""
    cards = s.cards
    assert cards is not None
    used: dict[tuple[int, str], int] = {}
    for claim in live:
        request = claim.request.card
        assert request is not None
        assert len(claim.cards) == request.k
        if request.isolate:
            assert len(set(claim.cards)) == request.k
        for ask, k in zip(request.asks, claim.cards, strict=True):
            for rc, n in ask.resources:
                used[k, rc] = used.get((k, rc), 0) + n
    for k in range(len(cards.cards)):
        for col, rc in enumerate(cards.columns):
            assert cards.used(k, rc) == used.get((k, rc), 0)
            assert 0 <= cards.free[k][col] <= cards.capacity[k][col]


KINDS = [groups(1), groups(2), groups(3), groups(2, policy="none"), groups(3, policy="none")]


@settings(max_examples=60, deadline=None)
@given(
    hosts=st.lists(st.integers(0, 5), min_size=1, max_size=4).filter(any),
    vgpus=st.sampled_from([1, 2, 4]),
    steps=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 7)), max_size=60),
)
def test_never_more_vgpus_or_slice_on_a_card_than_it_has(
    hosts: list[int], vgpus: int, steps: list[tuple[int, int]]
) -> None:
    """Claims and releases of 1- to 3-group flavors, isolate and none: each card holds what
    the live claims' groups on it asked and never more than its capacity; the incremental
    candidates agree with a full recount."""
    s = Scheduler(cloud(*hosts, vgpus=vgpus), seed=sum(hosts))
    kinds = [s.prepare(request_from_flavor(f)) for f in KINDS]
    live: list[Claim] = []
    for what, pick in steps:
        if pick >= 6 and live:
            s.release(live.pop(pick % len(live)))
        else:
            request = kinds[what]
            expected = s._full_mask(request).nonzero()[0].tolist()
            assert s.candidates(request).tolist() == expected
            claim = s.schedule(request)
            assert (claim is None) == (not expected)
            if claim is not None:
                live.append(claim)
        _check(s, live)


@settings(max_examples=60, deadline=None)
@given(
    hosts=st.lists(st.integers(0, 4), min_size=1, max_size=4).filter(any),
    vgpus=st.sampled_from([1, 2]),
    mixed=st.booleans(),
    steps=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 7), st.booleans()), max_size=50),
)
def test_the_engine_takes_k_cards_as_the_rules_do(
    hosts: list[int], vgpus: int, mixed: bool, steps: list[tuple[int, int, bool]]
) -> None:
    """Engine and reference (the rules alone) pick the same host and the same cards for
    k-group flavors (isolate, none, different groups), through claims, releases and settles."""
    model = cloud(*hosts, vgpus=vgpus)
    if mixed:  # every third provider also offers the L4 trait: different groups can match
        model = replace(
            model,
            cards=tuple(
                replace(c, traits=c.traits | {"CUSTOM_VGPU_L4"}) if k % 3 == 0 else c
                for k, c in enumerate(model.cards)
            ),
        )
    s = Scheduler(model, card_order="fleet")
    reference = Reference(model)
    flavors = [*KINDS, groups(2, traits=("CUSTOM_VGPU_L4", TRAIT)), flavor("m", 8, 16384, 20)]
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
        request = kinds[what]
        expected = reference.schedule(request.spec)
        claim = s.schedule(request)
        got = None if claim is None else (claim.provider, claim.cards)
        assert got == (None if expected is None else (expected.host, expected.cards))
        if claim is not None and expected is not None:
            live.append((claim, expected))
