"""The request sequence for --compare-model, made and played on the embedded model (no nova)."""

from __future__ import annotations

from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan
from gpuslice.twin.compare import Request, agreements, ordinary_flavors, play_on_model
from tests.twin.nova import LAB


def sequence(seed: int, length: int = 120) -> tuple[list[Request], list[str]]:
    plan = make_plan(load_fleet(LAB))
    host = next(h for h in plan.hosts if h.host.name == "hyper16")
    gpu = plan.cloud.flavors[0]
    requests, outcomes = play_on_model(
        plan, host, ordinary_flavors(host), gpu, length=length, seed=seed
    )
    return requests, list(outcomes)


def test_same_seed_same_sequence_and_outcomes() -> None:
    assert sequence(7) == sequence(7)
    assert sequence(7) != sequence(8)


def test_sequence_mixes_gpu_and_ordinary_boots_and_deletes_of_running_vms() -> None:
    requests, outcomes = sequence(3)
    kinds = {r.kind for r in requests}
    assert kinds == {"boot", "delete"}
    names = {r.flavor.name for r in requests if r.flavor is not None}
    assert "g1.gpu" in names
    assert names & {"cmp.small", "cmp.medium", "cmp.large"}
    # Deletes always hit a VM the model has running; boots are both accepted and refused.
    assert all(
        o == "deleted" for r, o in zip(requests, outcomes, strict=True) if r.kind == "delete"
    )
    assert {"ACTIVE", "refused"} <= set(outcomes)
    # hyper16 has two GPUs: never more than two GPU VMs at once on the model.
    running: set[int] = set()
    for request, outcome in zip(requests, outcomes, strict=True):
        if request.kind == "delete":
            running.discard(-1 if request.target is None else request.target)
        elif outcome == "ACTIVE" and request.flavor is not None and request.flavor.name == "g1.gpu":
            running.add(request.index)
        assert len(running) <= 2


def test_agreement_is_request_by_request() -> None:
    requests, outcomes = sequence(1, length=10)
    same = agreements(requests, outcomes, outcomes)  # type: ignore[arg-type]
    assert all(a.agrees for a in same)
    flipped = ["refused" if o == "ACTIVE" else o for o in outcomes]
    differ = agreements(requests, flipped, outcomes)  # type: ignore[arg-type]
    assert [a.agrees for a in differ] == [o != "ACTIVE" for o in outcomes]


def test_a_vgpu_host_sequence_draws_every_vgpu_size_and_never_passes_its_cards() -> None:
    from tests.conftest import EXAMPLES

    plan = make_plan(load_fleet(EXAMPLES / "vgpu" / "fleet.yaml"))
    host = next(h for h in plan.hosts if h.host.name == "vgpu-01")
    sizes = {"v1.a10": 1, "v2.a10": 2, "v4.a10": 4}
    menu = tuple(f for f in plan.cloud.flavors if f.name in sizes)
    requests, outcomes = play_on_model(plan, host, ordinary_flavors(host), menu, length=150, seed=2)
    asked = {r.flavor.name for r in requests if r.flavor is not None}
    assert set(sizes) <= asked
    running: dict[int, int] = {}
    for request, outcome in zip(requests, outcomes, strict=True):
        if request.kind == "delete":
            running.pop(-1 if request.target is None else request.target, None)
        elif outcome == "ACTIVE" and request.flavor is not None and request.flavor.name in sizes:
            running[request.index] = sizes[request.flavor.name]
        assert sum(running.values()) <= 8  # two cards of 4 vGPUs
