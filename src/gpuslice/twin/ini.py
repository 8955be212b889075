"""Read rendered INI files (nova.conf) into entries that keep their file and line.

Pure: text in, entries out. oslo.config's own tokenizer does the reading, so a file that parses
here parses the same way in nova.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from oslo_config import iniparser

from gpuslice.errors import InputError


@dataclass(frozen=True)
class ConfEntry:
    """One `name = value` line of one section of one file (`line` is 1-based)."""

    path: str
    line: int
    section: str
    name: str
    value: str

    @property
    def where(self) -> str:
        """`path:line`, for messages."""
        return f"{self.path}:{self.line}"


class _Collector(iniparser.BaseParser):
    """Collects every assignment with the line it started on."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.section = ""
        self.entries: list[ConfEntry] = []
        self._start = 0

    def _split_key_value(self, line: str) -> tuple[str, list[str]]:
        # oslo.config reports an assignment only when the next line starts (a value may
        # continue on indented lines), so the line an option starts on is taken here.
        self._start = self.lineno
        key, value = super()._split_key_value(line)
        return key, value

    def new_section(self, section: str) -> None:
        self.section = section

    def assignment(self, key: str, value: list[str]) -> None:
        if not self.section:
            msg = f"option {key!r} comes before any [section]"
            raise InputError(msg, source=self.path, line=self._start)
        self.entries.append(ConfEntry(self.path, self._start, self.section, key, "\n".join(value)))

    def error_invalid_assignment(self, line: str) -> NoReturn:
        raise InputError(f"no '=' in {line!r}", source=self.path, line=self.lineno)

    def error_empty_key(self, line: str) -> NoReturn:
        raise InputError(f"empty option name in {line!r}", source=self.path, line=self.lineno)

    def error_unexpected_continuation(self, line: str) -> NoReturn:
        msg = f"indented line continues nothing: {line!r}"
        raise InputError(msg, source=self.path, line=self.lineno)

    def error_no_section_end_bracket(self, line: str) -> NoReturn:
        msg = f"section header must end with ']': {line!r}"
        raise InputError(msg, source=self.path, line=self.lineno)

    def error_no_section_name(self, line: str) -> NoReturn:
        raise InputError("empty section name", source=self.path, line=self.lineno)


def parse_ini(text: str, path: str) -> list[ConfEntry]:
    """Every assignment of `text` (an INI file called `path`), in file order.

    Raises InputError naming `path` and the line when the text is not valid INI.
    """
    collector = _Collector(path)
    collector.parse(text.splitlines())
    return collector.entries
