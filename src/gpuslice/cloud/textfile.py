"""Write node-exporter textfile metrics safely (the edge `audit --prometheus` writes through).

Rules `write_textfile` enforces:
- never through a symbolic link: a link at the path is refused, and so is anything but a
  regular file there (node-exporter reads the file, an attacker's link must not redirect it);
- atomic: the text goes to a new file in the same directory (created exclusively, so no link
  can be planted there), is flushed to disk, then renamed over the path: node-exporter sees
  the old file or the new one, never half of one;
- the owner, group and mode of an existing file are kept (mode 0644 for a new file);
- on any error the temporary file is removed and nothing at the path changes.

`failed_audit_text` is what replaces the metrics when an audit could not run (exit 2 or 3):
the last run's per-host figures are dropped, so they cannot pass for current ones, and
`gpuslice_audit_success 0` says so. A successful run writes `gpuslice_audit_success 1`.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Final

from gpuslice.errors import InputError

NEW_FILE_MODE: Final = 0o644


def check_target(path: Path) -> None:
    """Refuse `path` now, before any work, when `write_textfile` would refuse it."""
    _existing(path)
    if not path.parent.is_dir():
        raise InputError("the directory for the metrics file does not exist", source=str(path))


def write_textfile(path: Path, text: str) -> None:
    """Replace the file at `path` with `text` (rules in the module docstring)."""
    existing = _existing(path)
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
    except OSError as error:
        raise InputError(f"cannot write: {error.strerror}", source=str(path)) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
            if existing is None:
                os.fchmod(stream.fileno(), NEW_FILE_MODE)
            else:
                os.fchmod(stream.fileno(), stat.S_IMODE(existing.st_mode))
                if (existing.st_uid, existing.st_gid) != (os.getuid(), os.getgid()):
                    os.fchown(stream.fileno(), existing.st_uid, existing.st_gid)
        Path(temporary).replace(path)
    except OSError as error:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        msg = f"cannot write the metrics file (keeping its owner and mode): {error.strerror}"
        raise InputError(msg, source=str(path)) from None


def failed_audit_text(reason: str, now: float) -> str:
    """The metrics of an audit that could not run: success 0 and when, nothing stale."""
    return (
        "# HELP gpuslice_audit_success 1 when the last audit ran, 0 when it could not.\n"
        "# TYPE gpuslice_audit_success gauge\n"
        "gpuslice_audit_success 0\n"
        "# HELP gpuslice_audit_timestamp_seconds When the last audit was attempted.\n"
        "# TYPE gpuslice_audit_timestamp_seconds gauge\n"
        f"gpuslice_audit_timestamp_seconds {now:.0f}\n"
        f"# audit failed: {_comment(reason)}\n"
    )


def succeeded_audit_text(metrics: str, now: float) -> str:
    """`metrics` of a finished audit, with success 1 and the time it ran."""
    return (
        metrics + "# HELP gpuslice_audit_success 1 when the last audit ran, 0 when it could not.\n"
        "# TYPE gpuslice_audit_success gauge\n"
        "gpuslice_audit_success 1\n"
        "# HELP gpuslice_audit_timestamp_seconds When the last audit was attempted.\n"
        "# TYPE gpuslice_audit_timestamp_seconds gauge\n"
        f"gpuslice_audit_timestamp_seconds {now:.0f}\n"
    )


def _existing(path: Path) -> os.stat_result | None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise InputError(f"cannot check: {error.strerror}", source=str(path)) from None
    if stat.S_ISLNK(info.st_mode):
        msg = (
            "is a symbolic link; gpuslice writes metrics only to a plain file, never through a link"
        )
        raise InputError(msg, source=str(path))
    if not stat.S_ISREG(info.st_mode):
        raise InputError("is not a regular file; name the metrics file itself", source=str(path))
    return info


def _comment(reason: str) -> str:
    return " ".join(reason.split())[:200]
