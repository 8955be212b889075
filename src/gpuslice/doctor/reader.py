"""The bounded reader every snapshot file goes through (the edge that touches files).

Rules: a file is read as at most `limit` bytes (larger is a bad snapshot, not a slow one); it must
be UTF-8, and a byte that is not names the file and its byte offset; a missing file is None (the
checks turn it into a verdict); a directory, a pipe or device (which could block the reader), or an
unreadable file where a file belongs is an error.
Every error is an InputError (exit 2) naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from gpuslice import inputs
from gpuslice.inputs import link_name

__all__ = ["INTERRUPTS", "SNAPSHOT_FILE", "entries", "link_name", "read_text"]

#: The most a snapshot file may hold. sysfs reports 4096 bytes for its attributes.
SNAPSHOT_FILE: Final = inputs.Kind("snapshot file", 1 << 20)
#: /proc/interrupts has one column per CPU and one line per interrupt: allow more.
INTERRUPTS: Final = inputs.Kind("snapshot of /proc/interrupts", 16 << 20)


def read_text(path: Path, *, kind: inputs.Kind = SNAPSHOT_FILE) -> str | None:
    """The text of `path` through gpuslice's one bounded reader, or None when it does not exist.

    A snapshot holds regular files only: a pipe or device (which could block), a directory where
    a file belongs, a file over `kind.limit`, bytes that are not UTF-8 (named by byte offset) or
    an unreadable file raise InputError naming the file.
    """
    if not path.exists() and not path.is_symlink():
        return None
    return inputs.read_text(path, kind, regular_only=True)


def entries(directory: Path) -> list[Path]:
    """The entries of `directory` in name order; empty when it does not exist."""
    if not directory.is_dir():
        return []
    try:
        return sorted(directory.iterdir())
    except OSError:
        return []
