"""Writing merged files: owners and modes kept, symlinks written through, bytes kept, all or
nothing across files (a failure or a kill leaves the old set, a rerun completes), --diff."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gpuslice.cli import main
from gpuslice.errors import InputError
from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan
from gpuslice.plan.types import NOVA_CONF, PROVIDER_YAML
from gpuslice.render.apply_tree import merged_files, read_text, write_merged
from gpuslice.render.atomic import JOURNAL, NEW_SUFFIX, OLD_SUFFIX
from tests.core.fleets import lab_fleet
from tests.core.test_merge import OPERATOR

CURRENT = str(Path(__file__).resolve().parents[2] / "examples" / "bright-lab" / "fleet-2025.1.yaml")


def node_root(tmp_path: Path, text: str = OPERATOR, mode: int = 0o640) -> Path:
    """A node's root holding an operator's etc/nova/nova.conf."""
    conf = tmp_path / NOVA_CONF
    conf.parent.mkdir(parents=True)
    conf.write_bytes(text.encode("utf-8"))
    conf.chmod(mode)
    return tmp_path


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def plan31():  # type: ignore[no-untyped-def]
    return make_plan(lab_fleet(31, "placement"))


def test_owner_group_and_mode_are_kept_and_new_files_follow_nova_conf(tmp_path: Path) -> None:
    root = node_root(tmp_path)
    conf = root / NOVA_CONF
    os.chown(conf, 0, 1234)
    write_merged(merged_files(plan31(), root, node="hyper18"), root)
    info = conf.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o640, 0, 1234)
    provider = (root / PROVIDER_YAML).stat()
    assert (stat.S_IMODE(provider.st_mode), provider.st_gid) == (0o640, 1234)
    assert [p.name for p in conf.parent.iterdir() if p.name.startswith(".")] == []


def test_a_new_file_without_a_sibling_nova_conf_is_0644_never_0600(tmp_path: Path) -> None:
    old_umask = os.umask(0o077)
    try:
        write_merged(merged_files(plan31(), tmp_path, node="hyper18"), tmp_path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / NOVA_CONF).stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / PROVIDER_YAML).stat().st_mode) == 0o644


def test_a_symlinked_nova_conf_is_written_through(tmp_path: Path) -> None:
    shared = tmp_path / "kept" / "nova.conf"
    shared.parent.mkdir()
    shared.write_text(OPERATOR, encoding="utf-8")
    root = tmp_path / "node"
    (root / "etc/nova").mkdir(parents=True)
    (root / NOVA_CONF).symlink_to(shared)
    write_merged(merged_files(plan31(), root, node="hyper18"), root)
    assert (root / NOVA_CONF).is_symlink()
    assert "reserved_host_memory_mb" in shared.read_text(encoding="utf-8")
    assert "debug=True" in shared.read_text(encoding="utf-8")


def test_bytes_that_are_not_utf8_and_crlf_survive(tmp_path: Path) -> None:
    latin1 = "# Grüße in Latin-1\r\n".encode("latin-1")
    body = OPERATOR.replace("\n", "\r\n").encode("utf-8")
    root = tmp_path
    conf = root / NOVA_CONF
    conf.parent.mkdir(parents=True)
    conf.write_bytes(b"\xef\xbb\xbf" + latin1 + body)
    write_merged(merged_files(plan31(), root, node="hyper18"), root)
    data = conf.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf" + latin1)
    assert b"\n" not in data.replace(b"\r\n", b"")
    for line in body.split(b"\r\n"):
        assert line in data


@pytest.mark.parametrize("blocker", ["etc/nova/provider_config", "etc/modprobe.d"])
def test_a_failure_while_staging_leaves_every_file_as_it_was(tmp_path: Path, blocker: str) -> None:
    root = node_root(tmp_path)
    (root / blocker).write_text("a file where a directory must go")
    before = snapshot(root)
    paths = sorted(root.rglob("*"))
    with pytest.raises(InputError, match=r"cannot (read|write)"):
        write_merged(merged_files(plan31(), root, node="hyper18"), root)
    assert snapshot(root) == before
    assert sorted(root.rglob("*")) == paths


def test_a_full_disk_while_staging_leaves_no_file_and_no_new_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = node_root(tmp_path)
    before = snapshot(root)
    paths = sorted(root.rglob("*"))
    files = merged_files(plan31(), root, node="hyper18")
    last = list(files)[-1]
    real_open = os.open

    def full_disk(path: str, flags: int, mode: int = 0o777) -> int:
        if Path(path).name == f".{last.name}{NEW_SUFFIX}":
            raise OSError(28, "No space left on device", path)
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", full_disk)
    with pytest.raises(InputError, match="cannot write: No space left on device"):
        write_merged(files, root)
    monkeypatch.undo()
    assert snapshot(root) == before
    assert sorted(root.rglob("*")) == paths


def test_a_failure_during_the_swap_puts_the_old_files_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = plan31()
    root = tmp_path
    for node in ("hyper18", "hyper16"):
        node_root(root / node)
    before = snapshot(root)
    files = merged_files(plan, root)
    real_replace = Path.replace
    calls = {"n": 0}

    def failing_replace(self: Path, target: str | os.PathLike[str]) -> Path:
        if self.name.endswith(NEW_SUFFIX):
            calls["n"] += 1
            if calls["n"] == 3:
                raise OSError(28, "No space left on device", str(target))
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", failing_replace)
    with pytest.raises(InputError, match="No space left on device; every file of this run is"):
        write_merged(files, root)
    monkeypatch.undo()
    assert snapshot(root) == before


KILL_AFTER_TWO_RENAMES = """
import os, signal, sys
from pathlib import Path
from gpuslice.plan import make_plan
from gpuslice.render.apply_tree import merged_files, write_merged
from gpuslice.render.atomic import NEW_SUFFIX
from gpuslice.fleetfile import load_fleet

root = Path(sys.argv[1])
real_replace = Path.replace
renames = []

def replace_then_die(self, target):
    if self.name.endswith(NEW_SUFFIX):
        if len(renames) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        renames.append(self)
    return real_replace(self, target)

Path.replace = replace_then_die
write_merged(merged_files(make_plan(load_fleet(sys.argv[2])), root), root)
"""


def test_a_kill_mid_swap_is_completed_by_the_rerun(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGKILL the writer after two of its renames (no handler runs, the journal stays), then
    rerun: the new set is complete and nothing is left beside it."""
    plan = make_plan(load_fleet(CURRENT))
    root = tmp_path
    for node in ("hyper18", "hyper16"):
        node_root(root / node)
    files = merged_files(plan, root)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_TWO_RENAMES, str(root), CURRENT], env=env, check=False
    )
    assert killed.returncode == -signal.SIGKILL
    assert (root / JOURNAL).exists()
    done = [path for path, text in files.items() if read_text(path) == text]
    assert len(done) == 2
    code = main(["render", CURRENT, "--merge-into", str(root)])
    assert code == 0
    out = capsys.readouterr().out
    assert out.count("completed an interrupted merge: ") == len(files) - 2
    assert "nothing to change: the files already hold the plan" in out
    assert not (root / JOURNAL).exists()
    for path, text in files.items():
        assert path.read_text(encoding="utf-8") == text
    leftovers = [p for p in root.rglob(".*") if p.name.endswith((NEW_SUFFIX, OLD_SUFFIX))]
    assert leftovers == []
    assert write_merged(merged_files(plan, root), root) == []


def test_a_kill_before_the_journal_leaves_the_old_set_and_no_staging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = plan31()
    root = node_root(tmp_path / "hyper18").parent
    node_root(root / "hyper16")
    before = snapshot(root)

    class Killed(BaseException):
        pass

    def die(*_: object) -> None:
        raise Killed

    monkeypatch.setattr("gpuslice.render.atomic._write_journal", die)
    with pytest.raises(Killed):
        write_merged(merged_files(plan, root), root)
    monkeypatch.undo()
    assert snapshot(root) == before


def test_diff_shows_the_change_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = node_root(tmp_path)
    before = snapshot(root)
    code = main(["render", CURRENT, "--merge-into", str(root), "--node", "hyper18", "--diff"])
    out = capsys.readouterr().out
    assert code == 0
    assert snapshot(root) == before
    assert f"--- {root / NOVA_CONF}" in out
    assert f"+++ {root / PROVIDER_YAML}" in out
    assert "+reserved_host_memory_mb = " in out
    assert "-debug=True" not in out


def test_merge_into_dedicated_only_cpus_is_refused_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = node_root(tmp_path, "[compute]\ncpu_dedicated_set = 2-23\n")
    before = snapshot(root)
    code = main(["render", CURRENT, "--merge-into", str(root), "--node", "hyper18"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert f"{root / NOVA_CONF}: [compute] cpu_dedicated_set: has only dedicated CPUs" in err
    assert snapshot(root) == before


def test_a_bom_is_kept_and_warned_about(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = node_root(tmp_path, "\ufeff" + OPERATOR)
    assert main(["render", CURRENT, "--merge-into", str(root), "--node", "hyper18"]) == 0
    assert (root / NOVA_CONF).read_bytes().startswith(b"\xef\xbb\xbf")
    assert "byte order mark" in capsys.readouterr().err
