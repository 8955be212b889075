"""The bounded reader's rules, one by one (gpuslice.inputs)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gpuslice import inputs
from gpuslice.errors import InputError

TINY = inputs.Kind("test file", 10)


def test_a_file_over_the_limit_is_refused_by_its_size(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_text("x" * 11)
    with pytest.raises(InputError, match="is 11 bytes; a test file may hold at most 10"):
        inputs.read_text(path, TINY)
    path.write_text("x" * 10)
    assert inputs.read_text(path, TINY) == "x" * 10


def test_a_fifo_is_refused_where_only_regular_files_may_be_named(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        inputs.read_text(fifo, TINY, regular_only=True)
    with pytest.raises(InputError, match="not a regular file"):
        inputs.read_bytes(fifo, TINY)


def test_a_directory_and_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        inputs.read_text(tmp_path, TINY)
    with pytest.raises(InputError, match="cannot read the test file"):
        inputs.read_text(tmp_path / "none", TINY)
    assert inputs.read_bytes(tmp_path / "none", TINY) is None
    assert inputs.read_optional(tmp_path / "none", TINY) is None


def test_utf8_errors_name_offset_and_line_and_a_bom_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"ab\ncd\xff")
    with pytest.raises(InputError, match=r"byte 0xff at byte offset 5 \(line 2\)"):
        inputs.read_text(path, TINY)
    path.write_bytes(b"\xef\xbb\xbfok")
    assert inputs.read_text(path, TINY) == "ok"
    path.write_bytes(b"a\0b")
    with pytest.raises(InputError, match="NUL byte at byte offset 1"):
        inputs.read_text(path, TINY)


def test_merge_targets_keep_their_bytes(tmp_path: Path) -> None:
    path = tmp_path / "nova.conf"
    path.write_bytes(b"\xef\xbb\xbf[pci]\r\n\xff\n")
    assert inputs.read_bytes(path, inputs.CONFIG) == b"\xef\xbb\xbf[pci]\r\n\xff\n"


def test_tokens_are_quoted_only_when_short_and_plain() -> None:
    assert inputs.quote_token("86:00.0") == "'86:00.0'"
    assert inputs.quote_token("root:$6$salt$hash") == "a 17-character token"
    assert inputs.quote_token("x" * 33) == "a 33-character token"
