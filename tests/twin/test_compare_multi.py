"""The multi-host --compare-model: clones, agreement counts and the cause of each difference."""

from __future__ import annotations

import pytest

from gpuslice.cli import main
from gpuslice.errors import InputError
from gpuslice.fleetfile import load_fleet
from gpuslice.model import Scheduler, from_plan, request_from_flavor
from gpuslice.plan import make_plan
from gpuslice.plan.types import NOVA_CONF
from gpuslice.render import render_files
from gpuslice.twin.compare import ordinary_flavors
from gpuslice.twin.compare_multi import (
    Decision,
    clone_fleet,
    explain_difference,
    summarize,
    weigh,
)
from tests.twin.nova import LAB, needs_nova, verify_json


def lab_clones(count: int = 4) -> tuple[Scheduler, list[str]]:
    fleet = load_fleet(LAB)
    clones = clone_fleet(fleet, fleet.gpu_hosts[0], count)
    return Scheduler(from_plan(make_plan(clones))), [h.name for h in clones.hosts]


def test_clones_step_disk_and_render_one_nova_conf() -> None:
    fleet = load_fleet(LAB)
    clones = clone_fleet(fleet, fleet.gpu_hosts[0], 5)
    assert [h.name for h in clones.hosts] == [f"hyper18-{k}" for k in range(5)]
    assert [h.disk_gb for h in clones.hosts] == [100, 102, 104, 106, 108]
    files = render_files(make_plan(clones))
    bodies = {"\n".join(files[f"{h.name}/{NOVA_CONF}"].splitlines()[1:]) for h in clones.hosts}
    assert len(bodies) == 1  # one CONF holds every compute of a run
    with pytest.raises(InputError, match="at least 2"):
        clone_fleet(fleet, fleet.gpu_hosts[0], 1)


def test_weights_per_weigher_sum_to_the_models_scores() -> None:
    scheduler, _names = lab_clones()
    fleet = load_fleet(LAB)
    host = make_plan(clone_fleet(fleet, fleet.gpu_hosts[0], 4)).hosts[0]
    prepared = scheduler.prepare(request_from_flavor(ordinary_flavors(host)[0]))
    weights = weigh(scheduler, prepared)
    scores = scheduler.scores(prepared)
    assert set(weights) == set(scores)
    for name, parts in weights.items():
        assert sum(parts.values()) == pytest.approx(scores[name])
    # stepped disks: the largest disk (the last copy) has the top DiskWeigher value
    assert weights["hyper18-3"]["DiskWeigher"] == 1.0
    assert weights["hyper18-0"]["DiskWeigher"] < weights["hyper18-1"]["DiskWeigher"]


def test_each_difference_gets_one_cause() -> None:
    weights = {
        "a": {"RAMWeigher": 1.0, "DiskWeigher": 0.5},
        "b": {"RAMWeigher": 0.2, "DiskWeigher": 0.5},
        "c": {"RAMWeigher": 0.5, "DiskWeigher": 1.0},
    }
    assert explain_difference(weights, "a", "a", {}) == ""
    assert explain_difference(weights, "b", "a", {}).startswith("weigher: RAMWeigher 1.0000 on a")
    assert explain_difference(weights, "c", "a", {}).startswith("tie: a and c weigh the same")
    removed = {"d": "Placement: VCPU: 0 free, 2 asked"}
    assert explain_difference(weights, "d", "a", removed) == (
        "filter: the model removes nova's host d (Placement: VCPU: 0 free, 2 asked)"
    )
    assert explain_difference(weights, None, "a", {}).startswith("refused: nova refused")
    assert explain_difference(weights, "a", None, {}).startswith("refused: the model refused")


def test_summary_counts_boots_only() -> None:
    decisions = [
        Decision(0, "boot", "a", "a"),
        Decision(1, "boot", "b", "a", cause="weigher: RAMWeigher ..."),
        Decision(2, "delete", None, None, kind="delete"),
        Decision(3, "boot", None, None),
        Decision(4, "boot", "a", None, cause="refused: the model refused"),
    ]
    summary = summarize("lock-step", decisions)
    assert (summary.boots, summary.accept_agree) == (4, 3)
    assert (summary.placed_by_both, summary.same_host) == (2, 1)
    assert summary.same_host_share == 0.5
    assert dict(summary.causes) == {"weigher": 1, "refused": 1}


def test_hosts_needs_compare_model() -> None:
    assert main(["verify", str(LAB), "--hosts", "4"]) == 2


@needs_nova
def test_four_hosts_lockstep_and_free_running_on_real_nova(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = verify_json(
        capsys, str(LAB), "--compare-model", "--hosts", "4", "--requests", "16"
    )
    assert code in (0, 1)
    steps = [r["step"] for r in report["rows"]]
    assert len(steps) == 3
    assert "lock-step (" in steps[0]
    assert "lock-step, settled" in steps[1]
    assert "free-running" in steps[2]
    for mode in ("lock-step", "lock-step, settled", "free-running"):
        decisions = report["comparisons"][mode]
        assert len(decisions) == 16
        boots = [d for d in decisions if d["kind"] == "boot"]
        assert boots
        assert not [d for d in boots if d["cause"].startswith("error")]
        # every difference names its cause, with nova's own weighing as evidence
        for d in boots:
            assert bool(d["cause"]) == (not d["same_host"])
    # nova 34: a host that just took a VM keeps io_ops 1 until the periodic update, and
    # IoOpsWeigher (multiplier -1.0) sends the next VM elsewhere; the model counts builds in
    # flight the same way, so back to back too every boot lands where nova's does
    for mode in ("lock-step", "lock-step, settled", "free-running"):
        boots = [d for d in report["comparisons"][mode] if d["kind"] == "boot"]
        assert [d["cause"] for d in boots if not d["same_host"]] == []
    assert code == 0
