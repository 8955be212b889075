"""Writing merged files: owners and modes kept, symlinks written through, bytes kept, all or
nothing across files (a failure or a kill leaves the old set, a rerun completes), --diff."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gpuslice.cli import main
from gpuslice.errors import InputError
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


def test_a_failure_while_staging_leaves_every_file_as_it_was(tmp_path: Path) -> None:
    root = node_root(tmp_path)
    (root / "etc/nova/provider_config").write_text("a file where a directory must go")
    before = snapshot(root)
    with pytest.raises((InputError, OSError)):
        write_merged(merged_files(plan31(), root, node="hyper18"), root)
    assert snapshot(root) == before


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
                raise OSError(28, "No space left on device")
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", failing_replace)
    with pytest.raises(OSError, match="No space"):
        write_merged(files, root)
    monkeypatch.undo()
    assert snapshot(root) == before


def test_a_kill_mid_swap_is_completed_by_the_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill is not an exception the writer can catch: stop it dead after two renames (the
    journal stays), then rerun: the new set is complete and nothing is left beside it."""
    plan = plan31()
    root = tmp_path
    for node in ("hyper18", "hyper16"):
        node_root(root / node)
    files = merged_files(plan, root)
    real_replace = Path.replace
    calls = {"n": 0}

    class Killed(BaseException):
        pass

    def dying_replace(self: Path, target: str | os.PathLike[str]) -> Path:
        if self.name.endswith(NEW_SUFFIX):
            calls["n"] += 1
            if calls["n"] == 3:
                raise Killed
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", dying_replace)
    with pytest.raises(Killed):
        write_merged(files, root)
    monkeypatch.undo()
    assert (root / JOURNAL).exists()
    done = [path for path, text in files.items() if read_text(path) == text]
    assert 0 < len(done) < len(files)
    write_merged(merged_files(plan, root), root)
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
