"""Write several files all or nothing, surviving a kill: stage, journal, swap.

Rules:
- every file's new text is staged first, as `.NAME.gpuslice-new` beside the file it replaces
  (beside a symlink's target: the link is written through and stays a link), with the owner,
  group and mode of the file it replaces; a new file takes those of its nearest `nova.conf` or
  `neutron.conf` (same directory, then upwards), else mode 0644; staging never leaves a 0600 file;
- then a journal naming every staged file is written (atomically) under the root; from that
  moment the new set is committed: each staged file is renamed over its target (a rename is
  atomic) and the journal is removed;
- a failure before the journal leaves the old set and no staged file; a failure during the swap
  puts the old files back (hard-linked aside as `.NAME.gpuslice-old` before the swap);
- after a kill, the next write first finishes a committed journal (renames what is still
  staged), or removes a staging that never got a journal: the set is old or new, never a mix.
Text is written as UTF-8, and bytes that did not decode (`surrogateescape`) go back unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from gpuslice.errors import InputError

JOURNAL = ".gpuslice-merge.journal"
NEW_SUFFIX = ".gpuslice-new"
OLD_SUFFIX = ".gpuslice-old"
SIBLING_CONFIGS = ("nova.conf", "neutron.conf")


@dataclass(frozen=True)
class Staged:
    """One staged file: where it lands, where it waits, where the old file is kept aside."""

    target: Path
    staged: Path
    backup: Path | None


def real_target(path: Path) -> Path:
    """The file a write to `path` must replace: through any symlinks, to their final target."""
    return Path(os.path.realpath(path))


def _aside(target: Path, suffix: str) -> Path:
    return target.with_name(f".{target.name}{suffix}")


def _model_stat(target: Path, root: Path) -> os.stat_result | None:
    """The stat to copy onto `target`: its own, else its nearest sibling nova.conf/neutron.conf."""
    try:
        return target.stat()
    except FileNotFoundError:
        pass
    folder = target.parent
    while True:
        for name in SIBLING_CONFIGS:
            with suppress(OSError):
                return (folder / name).stat()
        if folder == root or folder.parent == folder or root not in folder.parents:
            return None
        folder = folder.parent


def _make_dirs(folder: Path, made: list[Path]) -> None:
    """Create `folder` and missing parents, each with its parent's owner, group and mode;
    appends each directory made to `made`."""
    if folder.exists():
        return
    _make_dirs(folder.parent, made)
    folder.mkdir()
    made.append(folder)
    parent = folder.parent.stat()
    folder.chmod(stat.S_IMODE(parent.st_mode))
    _chown(folder, parent)


def _chown(path: Path, model: os.stat_result) -> None:
    current = path.stat()
    if (current.st_uid, current.st_gid) == (model.st_uid, model.st_gid):
        return
    try:
        os.chown(path, model.st_uid, model.st_gid)
    except PermissionError:
        msg = (
            f"cannot give it owner {model.st_uid}:{model.st_gid} like the file it replaces "
            "(run as root, or as that owner)"
        )
        raise InputError(msg, source=str(path)) from None


def _stage(target: Path, text: str, root: Path, made: list[Path]) -> Staged:
    if target.is_dir():
        raise InputError("is a directory where a file must go; move it away", source=str(target))
    model = _model_stat(target, root)
    _make_dirs(target.parent, made)
    staged = _aside(target, NEW_SUFFIX)
    data = text.encode("utf-8", "surrogateescape")
    descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        staged.chmod(stat.S_IMODE(model.st_mode) if model else 0o644)
        if model is not None:
            _chown(staged, model)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return Staged(target, staged, _aside(target, OLD_SUFFIX) if target.exists() else None)


def _write_journal(root: Path, staged: list[Staged]) -> Path:
    journal = root / JOURNAL
    temporary = root / f"{JOURNAL}.tmp"
    records = [
        {"target": str(s.target), "staged": str(s.staged), "backup": str(s.backup or "")}
        for s in staged
    ]
    try:
        temporary.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
        with temporary.open("rb") as stream:
            os.fsync(stream.fileno())
        temporary.replace(journal)
    except OSError as error:
        msg = f"cannot write the journal: {error.strerror}"
        raise InputError(msg, source=str(journal)) from None
    return journal


def _read_journal(journal: Path) -> list[Staged]:
    try:
        records = json.loads(journal.read_text(encoding="utf-8"))
        return [
            Staged(Path(r["target"]), Path(r["staged"]), Path(r["backup"]) if r["backup"] else None)
            for r in records
        ]
    except (OSError, ValueError, KeyError, TypeError):
        msg = "an interrupted merge left this journal and it cannot be read; check the files it "
        raise InputError(msg + "names, then remove it", source=str(journal)) from None


def recover(root: Path, targets: list[Path]) -> list[Path]:
    """Finish what a killed write left behind; returns the files a committed journal completed.

    A journal under `root` is committed: its staged files still waiting are renamed into place.
    Staged files beside `targets` without a journal never committed and are removed, and so are
    old copies kept aside.
    """
    journal = root / JOURNAL
    completed: list[Path] = []
    if journal.exists():
        for record in _read_journal(journal):
            if record.staged.exists():
                record.staged.replace(record.target)
                completed.append(record.target)
            if record.backup is not None:
                record.backup.unlink(missing_ok=True)
        journal.unlink()
    (root / f"{JOURNAL}.tmp").unlink(missing_ok=True)
    for target in targets:
        real = real_target(target)
        for suffix in (NEW_SUFFIX, OLD_SUFFIX):
            with suppress(FileNotFoundError, NotADirectoryError):
                _aside(real, suffix).unlink()
    return completed


def write_all(root: Path, files: dict[Path, str]) -> None:
    """Replace every file in `files` (path -> new text) all or nothing (see the module's rules).

    `root` holds the journal; every path should lie below it.
    """
    root = real_target(root)
    staged: list[Staged] = []
    made: list[Path] = []
    try:
        for path, text in files.items():
            try:
                staged.append(_stage(real_target(path), text, root, made))
            except OSError as error:
                raise InputError(f"cannot write: {error.strerror}", source=str(path)) from None
        journal = _write_journal(root, staged)
    except BaseException:
        for each in staged:
            each.staged.unlink(missing_ok=True)
        (root / f"{JOURNAL}.tmp").unlink(missing_ok=True)
        for folder in reversed(made):
            with suppress(OSError):
                folder.rmdir()
        raise
    swapped: list[Staged] = []
    try:
        for each in staged:
            if each.backup is not None:
                _keep_aside(each.target, each.backup)
            each.staged.replace(each.target)
            swapped.append(each)
    except OSError as error:
        _roll_back(swapped, staged)
        journal.unlink(missing_ok=True)
        msg = f"cannot replace it: {error.strerror}; every file of this run is as it was"
        raise InputError(msg, source=str(error.filename or root)) from None
    for each in staged:
        if each.backup is not None:
            each.backup.unlink(missing_ok=True)
    journal.unlink()


def _keep_aside(target: Path, backup: Path) -> None:
    """Keep the old file as `backup`: a hard link, or a copy where links are not allowed."""
    backup.unlink(missing_ok=True)
    try:
        os.link(target, backup)
    except OSError:
        shutil.copy2(target, backup)


def _roll_back(swapped: list[Staged], staged: list[Staged]) -> None:
    for each in swapped:
        if each.backup is not None:
            each.backup.replace(each.target)
        else:
            each.target.unlink(missing_ok=True)
    for each in staged:
        each.staged.unlink(missing_ok=True)
        if each.backup is not None:
            each.backup.unlink(missing_ok=True)
