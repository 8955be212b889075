"""`render --out DIR` never deletes a file it did not write, and leaves no staging behind."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gpuslice.cli import main
from gpuslice.errors import InputError
from gpuslice.plan import make_plan
from gpuslice.render import write_tree
from gpuslice.render.tree import RENDER_MARKER
from tests.core.fleets import lab_fleet

NEWTON = str(Path(__file__).resolve().parents[2] / "examples" / "bright-lab" / "fleet.yaml")


def test_a_non_empty_directory_that_is_no_render_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "etc"
    out.mkdir()
    (out / "hosts").write_text("127.0.0.1 localhost\n")
    assert main(["render", NEWTON, "--out", str(out)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{out}: --out: is not empty and is not an earlier gpuslice render" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["etc"]
    assert [p.name for p in out.iterdir()] == ["hosts"]


def test_an_earlier_render_is_replaced_and_an_empty_directory_is_used(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    write_tree(make_plan(lab_fleet(14, "split")), out)
    assert (out / RENDER_MARKER).exists()
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    write_tree(make_plan(lab_fleet(31, "placement")), out)
    assert not (out / "hyper18/etc/nova/nova-gpu.conf").exists()
    assert "hyper18/etc/nova/provider_config/gpuslice.yaml" in (out / RENDER_MARKER).read_text()


def test_a_file_added_to_an_earlier_render_stops_the_replace(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(make_plan(lab_fleet(31, "placement")), out)
    (out / "hyper18" / "notes.txt").write_text("mine\n")
    with pytest.raises(InputError, match=r"holds hyper18/notes.txt, which the earlier render"):
        write_tree(make_plan(lab_fleet(31, "placement")), out)
    assert (out / "hyper18" / "notes.txt").read_text() == "mine\n"


def test_staging_left_by_a_killed_render_is_cleaned_but_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(make_plan(lab_fleet(31, "placement")), out)
    killed = tmp_path / ".out.k1ll3d"
    killed.mkdir()
    (killed / RENDER_MARKER).write_text((out / RENDER_MARKER).read_text())
    (killed / "cloud-objects.json").write_text("{}")
    old = tmp_path / ".out.old"
    old.mkdir()
    foreign = tmp_path / ".out.mine"
    foreign.mkdir()
    (foreign / "keep").write_text("x")
    write_tree(make_plan(lab_fleet(31, "placement")), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.mine", "out"]
    assert (foreign / "keep").read_text() == "x"
