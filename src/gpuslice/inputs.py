"""The one bounded reader every file gpuslice reads goes through.

Rules it enforces, whatever the file (a fleet, an lspci capture, a sysfs attribute, a trace,
cloud-objects.json, a config file to merge into):
- a size limit per kind of file (`LIMITS`): a larger file is refused before it is read whole, so
  `/dev/zero` or a runaway capture cannot fill memory;
- UTF-8 text, or an error naming the file, the byte offset and the line of the first bad byte;
- no NUL byte (text files never hold one; `/proc/self/environ` does), refused by offset;
- where `regular_only` is set (paths written inside a file, such as a fleet's `lspci:`), only a
  regular file is opened: a device, FIFO or directory is refused without reading a byte (a FIFO
  is opened non-blocking, so it cannot hang the reader either).

Errors never quote the file's content: they name the file, the offset and what to do.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from gpuslice.errors import InputError

MiB: Final = 1024 * 1024


@dataclass(frozen=True)
class Kind:
    """A kind of input file: what the user calls it and the most bytes gpuslice reads of it."""

    what: str
    limit: int


FLEET: Final = Kind("fleet file", 64 * MiB)
CAPTURE: Final = Kind("lspci capture", 16 * MiB)
SYSFS: Final = Kind("sysfs attribute", 64 * 1024)
TRACE: Final = Kind("trace", 1024 * MiB)
CLOUD_OBJECTS: Final = Kind("cloud-objects file", 64 * MiB)
CONFIG: Final = Kind("configuration file", 16 * MiB)
WORKLOAD: Final = Kind("workload file", 1 * MiB)

LIMITS: Final = (FLEET, CAPTURE, SYSFS, TRACE, CLOUD_OBJECTS, CONFIG, WORKLOAD)

_CHUNK: Final = 1 * MiB
_PLAIN_TOKEN: Final = re.compile(r"[A-Za-z0-9._:/-]{1,32}")


def read_text(
    path: str | Path, kind: Kind, *, regular_only: bool = False, source: str | None = None
) -> str:
    """Read the file at `path` as bounded UTF-8 text (rules in the module docstring).

    `source` names the file in errors (default: the path as given). A missing or unreadable
    file, a file over `kind.limit`, text that is not UTF-8 or holds a NUL byte, and (with
    `regular_only`) anything but a regular file raise InputError.
    """
    name = source if source is not None else str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        handle = os.open(path, flags)
    except OSError as error:
        raise InputError(f"cannot read the {kind.what}: {_reason(error)}", source=name) from None
    try:
        info = os.fstat(handle)
        if stat.S_ISDIR(info.st_mode):
            msg = f"is a directory; give the {kind.what} itself"
            raise InputError(msg, source=name)
        if not stat.S_ISREG(info.st_mode):
            if regular_only:
                msg = (
                    f"is not a regular file (a device, FIFO or socket); a {kind.what} must be a "
                    "plain file"
                )
                raise InputError(msg, source=name)
            _blocking(handle)
        elif info.st_size > kind.limit:
            raise _too_large(name, kind, info.st_size)
        with os.fdopen(handle, "rb", closefd=True) as stream:
            handle = -1
            data = _read_bounded(stream, kind, name)
    except OSError as error:
        raise InputError(f"cannot read the {kind.what}: {_reason(error)}", source=name) from None
    finally:
        if handle >= 0:
            os.close(handle)
    return decode(data, name)


def read_bytes(path: str | Path, kind: Kind, *, source: str | None = None) -> bytes | None:
    """The bytes of the file at `path` within `kind.limit` (for a reader that keeps bytes as
    they are, such as a merge target), or None when there is no file there.

    A directory, a file over the limit, or an unreadable file raise InputError.
    """
    name = source if source is not None else str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        handle = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise InputError(f"cannot read the {kind.what}: {_reason(error)}", source=name) from None
    try:
        with os.fdopen(handle, "rb") as stream:
            info = os.fstat(stream.fileno())
            if not stat.S_ISREG(info.st_mode):
                msg = f"is not a regular file; a {kind.what} must be a plain file"
                raise InputError(msg, source=name)
            if info.st_size > kind.limit:
                raise _too_large(name, kind, info.st_size)
            return _read_bounded(stream, kind, name)
    except OSError as error:
        raise InputError(f"cannot read the {kind.what}: {_reason(error)}", source=name) from None


def read_optional(path: Path, kind: Kind) -> str | None:
    """Like `read_text`, but None when there is no file at `path` (a sysfs attribute may lack)."""
    if not path.exists() and not path.is_symlink():
        return None
    return read_text(path, kind)


def link_name(path: Path) -> str | None:
    """The last part of the target of the symlink at `path` (sysfs' `driver`, `iommu_group`,
    `physfn`), or None when there is no readable symlink there."""
    if not path.is_symlink():
        return None
    try:
        return path.readlink().name or None
    except OSError:
        return None


def quote(token: str, limit: int = 40) -> str:
    """`token` quoted for an error message, cut to `limit` characters (never a whole line)."""
    text = token if len(token) <= limit else token[: limit - 3] + "..."
    return repr(text)


def quote_token(token: str) -> str:
    """`token` quoted for an error when it is short and plain (letters, digits, `._:/-`, up to
    32 characters); otherwise only its length. A line of a file that is no capture at all
    (`/etc/shadow`) is never echoed."""
    if _PLAIN_TOKEN.fullmatch(token):
        return repr(token)
    return f"a {len(token)}-character token"


def read_stream(stream: BinaryIO, kind: Kind, source: str) -> str:
    """Read an open binary stream (standard input) with the same limit and decoding rules."""
    try:
        data = _read_bounded(stream, kind, source)
    except OSError as error:
        raise InputError(f"cannot read the {kind.what}: {_reason(error)}", source=source) from None
    return decode(data, source)


def read_stdin(kind: Kind, source: str = "<stdin>") -> str:
    """Standard input as bounded UTF-8 text (see `read_stream`).

    A text stream without a byte buffer (a test's StringIO) is read with the same limit, counted
    in characters.
    """
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is not None:
        return read_stream(buffer, kind, source)
    text = sys.stdin.read(kind.limit + 1)
    if len(text) > kind.limit:
        raise _too_large(source, kind, None)
    return decode(text.encode("utf-8", errors="surrogatepass"), source)


def decode(data: bytes, source: str) -> str:
    """`data` as UTF-8 text; a bad byte or a NUL is an InputError naming its offset and line.

    A byte order mark at the start is dropped.
    """
    nul = data.find(b"\0")
    if nul >= 0:
        msg = (
            f"holds a NUL byte at byte offset {nul} (line {_line_at(data, nul)}): this is "
            "binary data, not a text file"
        )
        raise InputError(msg, source=source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        offset = error.start
        msg = (
            f"is not UTF-8 text: byte 0x{data[offset]:02x} at byte offset {offset} "
            f"(line {_line_at(data, offset)}); save the file as UTF-8"
        )
        raise InputError(msg, source=source) from None
    return text.removeprefix("\ufeff")


def _read_bounded(stream: BinaryIO, kind: Kind, source: str) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(_CHUNK, kind.limit + 1 - total))
        if not chunk:
            break
        parts.append(chunk)
        total += len(chunk)
        if total > kind.limit:
            raise _too_large(source, kind, None)
    return b"".join(parts)


def _blocking(handle: int) -> None:
    """Clear O_NONBLOCK on a pipe or terminal the user named, so reading waits for data."""
    if hasattr(os, "set_blocking"):
        os.set_blocking(handle, True)


def _too_large(source: str, kind: Kind, size: int | None) -> InputError:
    found = f"is {size:,} bytes" if size is not None else "goes on past the limit"
    msg = (
        f"{found}; a {kind.what} may hold at most {kind.limit:,} bytes "
        f"({kind.limit // MiB or kind.limit // 1024} "
        f"{'MiB' if kind.limit >= MiB else 'KiB'}): is this the right file?"
    )
    return InputError(msg, source=source)


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__
