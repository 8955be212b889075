"""Simulating vGPU cards: vGPU flavors drawn beside passthrough and ordinary VMs, the promise
for vGPUs (refused while a card had them free), fragmentation over cards apart, and the
tied, pooled and vGPU-only forms side by side."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gpuslice.errors import InputError
from gpuslice.fleet import Fleet
from gpuslice.fleetfile import load_fleet, parse_fleet
from gpuslice.plan import make_plan
from gpuslice.sim.engine import StrategyResult, run
from gpuslice.sim.report import render_report
from gpuslice.sim.runner import Simulation, menu_choices, simulate, synthetic_for, to_json
from gpuslice.sim.workload import SyntheticSpec, VmRequest, Workload
from tests.conftest import EXAMPLES

VGPU_FLEET = EXAMPLES / "vgpu" / "fleet.yaml"

ONE_CARD = """\
release: "2025.1"
strategy: {strategy}
vgpu_slices: {form}
slice: {{vcpus: 2, memory_mb: 4096}}
host_reserve: {{memory_mb: 0}}
controllers: [ctl1]
gpu_models:
  - vendor_id: "10de"
    product_id: "2236"
    alias: a10
    mode: vgpu
    mdev_type: nvidia-592
    vgpus_per_gpu: 4
    slice: {{vcpus: 2, memory_mb: 4096, disk_gb: 10}}
    flavors: [{{name: v1.a10, vgpus: 1}}, {{name: v2.a10, vgpus: 2}}]
hosts:
  - name: vg1
    cpus: 16
    memory_mb: 32768
    disk_gb: 500
    gpus:
      - {{address: "17:00.0", vendor_id: "10de", product_id: "2236"}}
"""


def one_card(strategy: str = "placement", form: str = "per_card") -> Fleet:
    """One host (16 CPUs, 32 GiB) with one A10 card cut into 4 vGPUs of 2 vCPUs and 4 GiB."""
    text = ONE_CARD.format(strategy=strategy, form=form)
    return parse_fleet(text, source="one.yaml", base_dir=Path())


def fill_then_vgpus(vgpus: int = 4) -> Workload:
    """Ordinary 1-vCPU VMs offered far beyond the host (they fill whatever they can reach),
    then `vgpus` 1-vGPU VMs and one more; nothing leaves."""
    ordinary = [VmRequest(float(t), None, 1, 1024, 10) for t in range(40)]
    gpu = [VmRequest(100.0 + t, None, 0, 0, 0, gpus=1, alias="a10") for t in range(vgpus + 1)]
    return Workload(tuple(ordinary + gpu))


def test_vgpu_sizes_are_drawn_by_their_share_of_the_cards_vgpus() -> None:
    fleet = load_fleet(VGPU_FLEET)
    choices = {(c.alias, c.gpus): c.weight for c in menu_choices(fleet)}
    # 6 A10 cards x 4 vGPUs = 24 vGPUs over three sizes; one L40S passed through whole
    assert choices == pytest.approx(
        {("a10", 1): 24 / 3, ("a10", 2): 24 / 6, ("a10", 4): 24 / 12, ("l40s", 1): 1.0}
    )


def test_tied_slices_boot_every_vgpu_after_ordinary_vms_filled_the_host() -> None:
    fleet = one_card()
    result = run(make_plan(fleet, "placement"), fill_then_vgpus(), log=True)
    boots = [e for e in result.events if e.kind == "boot" and e.time >= 100]
    refusals = [e for e in result.events if e.kind == "refuse" and e.time >= 100]
    assert [e.time for e in boots] == [100.0, 101.0, 102.0, 103.0]
    assert [e.time for e in refusals] == [104.0]  # the card's 4 vGPUs are taken
    assert result.vgpu_refused_while_free == 0
    assert result.gpu_refused_while_free == 0
    assert result.vgpu_form == "tied"
    # the ordinary VMs took every vCPU the root offers: 16 - 4 x 2 held for the card
    assert sum(1 for e in result.events if e.kind == "boot" and e.time < 100) == 8


def test_without_a_slice_ordinary_vms_take_the_card_vgpus_cpu_and_break_the_promise() -> None:
    result = run(make_plan(one_card(strategy="none"), "none"), fill_then_vgpus())
    assert result.vgpu_form == "vgpu_only"
    assert result.vgpu_accepted == 0
    assert result.vgpu_refused_while_free == 5 - 0  # every one refused with 4 vGPUs free
    assert result.gpu_refused_while_free == result.vgpu_refused_while_free
    assert result.first_break[0].endswith("refused while a card had 1 vGPU(s) free")
    assert "VCPU: 0 free" in result.first_break[1]


def test_a_two_vgpu_request_with_one_vgpu_free_on_each_of_two_cards_is_fragmentation() -> None:
    text = ONE_CARD.format(strategy="placement", form="per_card").replace(
        '      - {address: "17:00.0", vendor_id: "10de", product_id: "2236"}\n',
        '      - {address: "17:00.0", vendor_id: "10de", product_id: "2236"}\n'
        '      - {address: "65:00.0", vendor_id: "10de", product_id: "2236"}\n',
    )
    fleet = parse_fleet(text.replace("cpus: 16", "cpus: 32"), source="two.yaml", base_dir=Path())
    # eight 1-vGPU VMs fill card 1 then card 2 (first fit); the first on each leaves at t=8
    ones = [
        VmRequest(float(t), 8.0 - t if t in (0, 4) else None, 0, 0, 0, gpus=1, alias="a10")
        for t in range(8)
    ]
    two = VmRequest(10.0, None, 0, 0, 0, gpus=2, alias="a10")
    result = run(make_plan(fleet, "placement"), Workload((*ones, two)), log=True)
    assert result.vgpu_accepted == 8
    assert [e.kind for e in result.events][-1] == "refuse"
    assert result.vgpu_refused_fragmented == 1
    assert result.vgpu_refused_while_free == 0
    (size2,) = [f for f in result.by_flavor if f.gpus == 2]
    assert (size2.kind, size2.flavor, size2.refused_fragmented) == ("vgpu", "v2.a10", 1)


def _sims(fleet: Fleet) -> list[Simulation]:
    """`fleet` at a load that fills the hosts, under three seeds."""
    spec = SyntheticSpec(requests=3000, load=1.6, gpu_share=0.15)
    return [
        simulate(
            fleet,
            synthetic_for(fleet, spec, seed),
            strategies=("none", "placement"),
            seed=seed,
        )
        for seed in (1, 2, 3)
    ]


@pytest.fixture(scope="module")
def example_sims() -> list[Simulation]:
    """examples/vgpu (two vGPU hosts and one mixing vGPU cards with a passed-through L40S)."""
    return _sims(load_fleet(VGPU_FLEET))


@pytest.fixture(scope="module")
def vgpu_only_hosts_sims() -> list[Simulation]:
    """examples/vgpu without its mixed host."""
    fleet = load_fleet(VGPU_FLEET)
    return _sims(replace(fleet, hosts=tuple(h for h in fleet.hosts if h.name != "mixed-01")))


def _vgpu_sizes(r: StrategyResult) -> list[int]:
    return [f.gpus for f in r.by_flavor if f.kind == "vgpu"]


def test_the_example_runs_tied_pooled_and_vgpu_only_side_by_side(
    example_sims: list[Simulation],
) -> None:
    for sim in example_sims:
        forms = {r.name: r.vgpu_form for r in sim.results}
        assert forms == {"none": "vgpu_only", "placement": "tied", "placement/pooled": "pooled"}


def test_pooled_keeps_the_promise_for_vgpus_and_none_breaks_it(
    example_sims: list[Simulation],
) -> None:
    for sim in example_sims:
        pooled = sim.result("placement/pooled")
        assert pooled.vgpu_refused_while_free == 0
        assert pooled.promise_kept
        assert _vgpu_sizes(pooled) == [1, 2, 4]
    # over the seeds ordinary VMs take the cards' CPU and RAM under none
    assert sum(s.result("none").vgpu_refused_while_free for s in example_sims) > 0


def test_tied_slices_hold_on_the_mixed_host_beside_a_passthrough_gpu(
    example_sims: list[Simulation],
) -> None:
    # The L40S flavor asks CUSTOM_GPU_VCPU/MEMORY_MB unnumbered and Placement takes such a
    # class from any provider of the tree; the A10 cards hold their slice in classes of their
    # own (CUSTOM_VGPU_*), so the L40S never takes a card's slice and tied keeps the promise.
    for sim in example_sims:
        tied = sim.result("placement")
        assert tied.vgpu_refused_while_free == 0
        assert tied.promise_kept
        assert tied.vgpu_accepted > 0


def test_without_a_mixed_host_tied_keeps_the_promise_and_decides_as_pooled(
    vgpu_only_hosts_sims: list[Simulation],
) -> None:
    # A pooled slice adds up because each vGPU VM takes its vGPUs' slices: with no other
    # flavor asking the slice classes, tied and pooled decide alike.
    for sim in vgpu_only_hosts_sims:
        tied, pooled = sim.result("placement"), sim.result("placement/pooled")
        assert tied.vgpu_refused_while_free == pooled.vgpu_refused_while_free == 0
        assert (tied.vgpu_accepted, tied.ordinary_accepted) == (
            pooled.vgpu_accepted,
            pooled.ordinary_accepted,
        )


def test_every_vgpu_request_is_counted_once_and_fragmentation_needs_two_vgpus(
    example_sims: list[Simulation],
) -> None:
    for sim in example_sims:
        for r in sim.results:
            vgpu = [f for f in r.by_flavor if f.kind == "vgpu"]
            assert sum(f.requests for f in vgpu) == r.vgpu_requests > 0
            assert sum(f.accepted for f in vgpu) == r.vgpu_accepted
            assert sum(f.refused_while_free for f in vgpu) == r.vgpu_refused_while_free
            assert sum(f.refused_fragmented for f in vgpu) == r.vgpu_refused_fragmented
            for f in vgpu:
                assert f.accepted + f.refused_while_free + f.refused_fragmented <= f.requests
                if f.gpus == 1:
                    # one vGPU free on a host's cards is one vGPU free on one card
                    assert f.refused_fragmented == 0
            assert r.vgpu_refused_while_free <= r.gpu_refused_while_free
            assert r.vgpu_refused_fragmented <= r.gpu_refused_fragmented
            assert 0.0 <= r.vgpu_mean <= 1.0


def test_json_and_html_carry_the_vgpu_lines(example_sims: list[Simulation]) -> None:
    sim = example_sims[0]
    data = to_json(sim)
    strategies = data["strategies"]
    assert isinstance(strategies, list)
    tied = next(s for s in strategies if s["name"] == "placement")
    assert tied["vgpu_form"] == "tied"
    assert tied["vgpu_requests"] == sim.result("placement").vgpu_requests
    assert {f["kind"] for f in tied["by_flavor"]} == {"gpu", "vgpu"}
    assert len(tied["series"]["vgpu"]) == len(tied["series"]["times"])
    page = render_report(sim)
    assert "vGPU refused while a card had them free" in page
    assert "placement/pooled" in page


def test_a_workload_asking_a_vgpu_size_without_a_flavor_scales_the_one_vgpu_flavor() -> None:
    fleet = one_card()
    three = VmRequest(0.0, None, 0, 0, 0, gpus=3, alias="a10")
    result = run(make_plan(fleet, "placement"), Workload((three,)))
    assert result.vgpu_accepted == 1
    assert [f.flavor for f in result.by_flavor] == ["v1.a10 x3"]


def test_a_vgpu_request_for_an_unknown_alias_is_refused_with_the_name() -> None:
    unknown = VmRequest(0.0, None, 0, 0, 0, gpus=1, alias="l4")
    with pytest.raises(InputError, match="GPU alias 'l4'"):
        run(make_plan(one_card(), "placement"), Workload((unknown,)))


def test_on_the_example_the_tied_breaks_come_from_the_l40s_alone() -> None:
    fleet = load_fleet(VGPU_FLEET)
    plan = make_plan(fleet, "placement")
    spec = SyntheticSpec(requests=3000, load=1.6, gpu_share=0.15)
    for seed in (1, 2):
        workload = synthetic_for(fleet, spec, seed)
        without = Workload(tuple(r for r in workload.requests if r.alias != "l40s"))
        assert run(plan, without).vgpu_refused_while_free == 0


ON_VFS = """\
release: "2025.1"
strategy: {strategy}
slice: {{vcpus: 2, memory_mb: 4096}}
host_reserve: {{memory_mb: 0}}
controllers: [ctl1]
gpu_models:
  - vendor_id: "10de"
    product_id: "2236"
    alias: a10
    mode: vgpu
    vgpu_on: vfs
    mdev_type: nvidia-592
    vgpus_per_gpu: 2
    slice: {{vcpus: 2, memory_mb: 4096, disk_gb: 10}}
    flavors: [{{name: v1.a10, vgpus: 1}}, {{name: v2.a10, vgpus: 2}}]
hosts:
{hosts}"""

VF_HOST = """\
  - name: {name}
    cpus: 16
    memory_mb: 32768
    disk_gb: 500
    gpus:
      - address: "17:00.0"
        vendor_id: "10de"
        product_id: "2236"
        vfs: ["17:00.4", "17:00.5"]
"""


def on_vfs(strategy: str = "placement", hosts: int = 1) -> Fleet:
    """`hosts` hosts (16 CPUs, 32 GiB) with one A10 whose 2 vGPUs sit on 2 VFs, one each."""
    listed = "".join(VF_HOST.format(name=f"vf{i}") for i in range(hosts))
    text = ON_VFS.format(strategy=strategy, hosts=listed)
    return parse_fleet(text, source="vfs.yaml", base_dir=Path())


def _fill_then(*sizes: int) -> Workload:
    """Ordinary 1-vCPU VMs far beyond the hosts, then vGPU VMs of `sizes` vGPUs; none leave."""
    ordinary = [VmRequest(float(t), None, 1, 1024, 10) for t in range(80)]
    gpu = [VmRequest(100.0 + t, None, 0, 0, 0, gpus=n, alias="a10") for t, n in enumerate(sizes)]
    return Workload(tuple(ordinary + gpu))


def test_tied_vf_slices_boot_a_2_vgpu_vm_on_two_vfs_after_ordinary_vms_filled_the_host() -> None:
    result = run(make_plan(on_vfs(), "placement"), _fill_then(2, 1), log=True)
    late = [(e.time, e.kind) for e in result.events if e.time >= 100]
    assert late == [(100.0, "boot"), (101.0, "refuse")]  # the 2-vGPU VM took both VFs
    assert result.vgpu_refused_while_free == 0
    assert result.vgpu_refused_fragmented == 0
    assert result.vgpu_form == "tied"


def test_without_a_slice_a_2_vgpu_vm_refused_while_its_host_had_two_free_vfs_breaks_it() -> None:
    result = run(make_plan(on_vfs("none"), "none"), _fill_then(2))
    assert result.vgpu_accepted == 0
    assert result.vgpu_refused_while_free == 1
    assert result.vgpu_refused_fragmented == 0
    assert result.first_break[0].endswith("(v2.a10) refused while one host had 2 free VFs")


def test_one_free_vf_on_each_of_two_hosts_is_fragmentation_for_a_2_vgpu_vm() -> None:
    # two 1-vGPU VMs per host fill both hosts' VFs; the first on each host leaves at t=50
    ones = [
        VmRequest(float(t), 50.0 - t if t in (0, 1) else None, 0, 0, 0, gpus=1, alias="a10")
        for t in range(4)
    ]
    two = VmRequest(60.0, None, 0, 0, 0, gpus=2, alias="a10")
    result = run(make_plan(on_vfs(hosts=2), "placement"), Workload((*ones, two)), log=True)
    assert result.vgpu_accepted == 4
    assert [e.kind for e in result.events][-1] == "refuse"
    assert (result.vgpu_refused_fragmented, result.vgpu_refused_while_free) == (1, 0)


def test_a_vgpu_size_without_a_flavor_asks_one_vf_per_vgpu() -> None:
    text = ON_VFS.format(strategy="placement", hosts=VF_HOST.format(name="vf0"))
    text = text.replace('vfs: ["17:00.4", "17:00.5"]', 'vfs: ["17:00.4", "17:00.5", "17:00.6"]')
    text = text.replace("vgpus_per_gpu: 2", "vgpus_per_gpu: 3")
    three = parse_fleet(text, source="vfs.yaml", base_dir=Path())
    result = run(
        make_plan(three, "placement"),
        Workload((VmRequest(0.0, None, 0, 0, 0, gpus=3, alias="a10"),)),
    )
    assert [f.flavor for f in result.by_flavor] == ["v1.a10 x3"]
    assert result.vgpu_accepted == 1


@pytest.fixture(scope="module")
def sriov_sims() -> list[Simulation]:
    """examples/vgpu-sriov (A10 vGPUs on VFs, L40S VFs passed through, a plain host)."""
    fleet = load_fleet(EXAMPLES / "vgpu-sriov" / "fleet.yaml")
    spec = SyntheticSpec(requests=3000, load=1.6, gpu_share=0.15)
    return [
        simulate(
            fleet, synthetic_for(fleet, spec, seed), strategies=("none", "placement"), seed=seed
        )
        for seed in (1, 2)
    ]


def test_the_sriov_example_simulates_2_vgpu_flavors_and_tied_keeps_the_promise(
    sriov_sims: list[Simulation],
) -> None:
    for sim in sriov_sims:
        tied = sim.result("placement")
        assert tied.vgpu_form == "tied"
        sizes = {f.gpus: f for f in tied.by_flavor if f.kind == "vgpu"}
        assert set(sizes) == {1, 2}
        assert sizes[2].requests > 0
        assert sizes[2].accepted > 0
        assert tied.vgpu_refused_while_free == 0
        assert sim.result("placement/pooled").vgpu_refused_while_free == 0
        none = sim.result("none")
        assert none.vgpu_form == "vgpu_only"
    assert sum(s.result("none").vgpu_refused_while_free for s in sriov_sims) > 0
