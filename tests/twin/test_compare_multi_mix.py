"""`--compare-model --hosts N --mix`: copies of every host kind, each with its own nova.conf."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from gpuslice.cli import main
from gpuslice.errors import InputError
from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan
from gpuslice.plan.types import NOVA_CONF
from gpuslice.render import render_files
from gpuslice.twin.compare_multi import (
    DELETE_SHARE,
    GPU_SHARE,
    Sequencer,
    mix_flavors,
    mix_fleet,
    plain_host_conf,
)
from tests.twin.nova import needs_nova, verify_json

MIXED = Path(__file__).resolve().parent / "data" / "lab-mixed.yaml"


def test_mix_copies_every_host_in_turn_with_stepped_disks() -> None:
    fleet = load_fleet(MIXED)
    mixed = mix_fleet(fleet, 8)
    assert [h.name for h in mixed.hosts] == [
        "a100-0", "l40s-1", "plain-2", "a100-3", "l40s-4", "plain-5", "a100-6", "l40s-7"
    ]  # fmt: skip
    assert [h.disk_gb for h in mixed.hosts] == [200, 102, 104, 206, 108, 110, 212, 114]
    assert [len(h.gpus) for h in mixed.hosts] == [2, 1, 0, 2, 1, 0, 2, 1]
    with pytest.raises(InputError, match="has 3 hosts; give at least that many"):
        mix_fleet(fleet, 2)
    vgpu = load_fleet(Path(__file__).resolve().parents[2] / "examples" / "vgpu" / "fleet.yaml")
    with pytest.raises(InputError, match="--mix does not run vGPU hosts yet"):
        mix_fleet(vgpu, 8)


def test_mix_renders_a_nova_conf_per_gpu_kind_and_none_for_plain_hosts() -> None:
    files = render_files(make_plan(mix_fleet(load_fleet(MIXED), 6)))
    assert f"plain-2/{NOVA_CONF}" not in files
    a100 = files[f"a100-0/{NOVA_CONF}"]
    l40s = files[f"l40s-1/{NOVA_CONF}"]
    assert "reserved_host_cpus = 8" in a100
    assert "reserved_host_cpus = 2" in l40s  # the reason one shared CONF cannot hold both


def test_mix_flavors_are_every_menu_size_and_each_kinds_ordinary_sizes() -> None:
    gpu, ordinary = mix_flavors(make_plan(mix_fleet(load_fleet(MIXED), 8)))
    assert [(f.name, f.vcpus, f.ram, f.disk) for f in gpu] == [
        ("cmp.g1.a100", 4, 8192, 40),
        ("cmp.g2.a100", 8, 16384, 80),
        ("cmp.g1.l40s", 2, 4096, 20),
    ]
    assert all(f.is_public for f in (*gpu, *ordinary))
    assert gpu[1].extra_specs["pci_passthrough:alias"] == "a100:2"
    names = [f.name for f in ordinary]
    assert len(names) == len(set(names)) == 9
    assert {n.rsplit(".", 1)[1] for n in names} == {"a100", "l40s", "plain"}
    assert len({(f.vcpus, f.ram, f.disk) for f in ordinary}) == 9


def test_plain_hosts_run_with_the_reserve_the_plan_assumes() -> None:
    fleet = mix_fleet(load_fleet(MIXED), 3)
    plain = make_plan(fleet).hosts[2]
    assert plain_host_conf(fleet, plain) == {
        ("DEFAULT", "reserved_host_memory_mb"): 1024,
        ("DEFAULT", "reserved_host_disk_mb"): 0,
        ("DEFAULT", "reserved_host_cpus"): 0,
    }  # ratios unstated: nova's own defaults (initial ratio 4.0) stay
    stated = load_fleet(Path(__file__).resolve().parent / "data" / "lab.yaml")
    stated_plain = make_plan(stated).hosts[2]
    assert stated_plain.host.name == "hyper20"
    conf = plain_host_conf(stated, stated_plain)
    assert conf[("DEFAULT", "reserved_host_memory_mb")] == 512
    assert (("DEFAULT", "cpu_allocation_ratio") in conf) == stated.ratios_stated


def test_sequencer_draws_every_gpu_flavor_and_keeps_one_flavor_sequences() -> None:
    gpu, ordinary = mix_flavors(make_plan(mix_fleet(load_fleet(MIXED), 8)))
    drawn: Counter[str] = Counter()
    sequencer = Sequencer(gpu, ordinary, seed=3)
    for _ in range(400):
        kind, what = sequencer.draw([])
        if kind == "boot" and what in gpu:
            drawn[what.name] += 1
    assert set(drawn) == {f.name for f in gpu}
    # one GPU flavor consumes no random number: the one-host sequences stay as documented
    single = Sequencer(gpu[0], ordinary, seed=5)
    rng = random.Random(5)
    for _ in range(50):
        draw = rng.random()
        if draw < DELETE_SHARE:
            expected: tuple[str, object] = ("delete", rng.choice([1, 2]))
        elif draw < DELETE_SHARE + GPU_SHARE:
            expected = ("boot", gpu[0])
        else:
            expected = ("boot", rng.choice(list(ordinary)))
        assert single.draw([1, 2]) == expected


def test_mix_needs_hosts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(MIXED), "--compare-model", "--mix"]) == 2
    assert "--mix needs --hosts N" in " ".join(capsys.readouterr().err.split())


@needs_nova
def test_eight_mixed_hosts_agree_with_real_nova(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = verify_json(
        capsys, str(MIXED), "--compare-model", "--hosts", "8", "--mix", "--requests", "40"
    )
    steps = [r["step"] for r in report["rows"]]
    assert len(steps) == 3, report
    for mode in ("lock-step", "lock-step, settled", "free-running"):
        boots = [d for d in report["comparisons"][mode] if d["kind"] == "boot"]
        assert not [d for d in boots if d["cause"].startswith("error")]
        placed = [d for d in boots if d["nova"] != "refused"]
        # GPU boots of both models (a 2-GPU one too) and ordinary boots on plain hosts
        assert {d["request"].split()[1] for d in placed} >= {"cmp.g1.a100", "cmp.g1.l40s"}
        assert any(d["nova"].startswith("plain-") for d in placed)
        assert [d["cause"] for d in boots if not d["same_host"]] == []
    assert code == 0
