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

#: The most a snapshot file may hold. sysfs reports 4096 bytes for its attributes.
FILE_LIMIT: Final = 1 << 20
#: /proc/interrupts has one column per CPU and one line per interrupt: allow more.
INTERRUPTS_LIMIT: Final = 16 << 20


def read_text(path: Path, *, limit: int = FILE_LIMIT) -> str | None:
    """The text of `path`, or None when it does not exist.

    Raises InputError when it is larger than `limit` bytes, not UTF-8 (naming the byte offset),
    a directory, a pipe or device, or unreadable.
    """
    from gpuslice.errors import InputError

    if path.exists() and not path.is_file() and not path.is_dir():
        raise InputError("not a regular file (a pipe or device?)", source=str(path))
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", source=str(path)) from None
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}", source=str(path)) from None
    if len(data) > limit:
        msg = f"larger than {limit} bytes: not a file a snapshot holds; collect it again"
        raise InputError(msg, source=str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        msg = f"not UTF-8 text: byte {data[error.start]:#04x} at byte offset {error.start}"
        raise InputError(msg, source=str(path)) from None


def link_name(path: Path) -> str | None:
    """The last part of the symlink at `path`, or None when there is no symlink there."""
    if not path.is_symlink():
        return None
    try:
        return Path(path.readlink()).name or None
    except OSError:
        return None


def entries(directory: Path) -> list[Path]:
    """The entries of `directory` in name order; empty when it does not exist."""
    if not directory.is_dir():
        return []
    try:
        return sorted(directory.iterdir())
    except OSError:
        return []
