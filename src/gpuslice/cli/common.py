"""What every command shares: the consoles, JSON output, and the one place output is made safe.

Everything gpuslice prints goes through `safe_text` (the consoles, `print_json`, `click_echo`,
error messages): secrets are redacted and control characters stripped, so a capture or a cloud
answer cannot hide a password in the output or drive the terminal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final, TextIO

from rich.console import Console
from rich.segment import Segment
from rich.text import Text

from gpuslice.jsonout import dumps_indented

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and
# isolates that can reorder what a terminal shows.
_CONTROL: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# A control character as json.dumps escapes it (\u001b); a false match only costs a second dump.
_ESCAPED_CONTROL: Final = re.compile(
    r"\\u(?:00[01][0-9a-fA-F]|007[fF]|00[89][0-9a-fA-F]|202[a-eA-E]|206[6-9])"
)
# The user info of a URL (`https://admin:s3cret@keystone/`): everything between :// and @.
_URL_USERINFO: Final = re.compile(r"://[^/\s@]{1,1024}@")
# `password=...`, `token: ...`, `"password": "..."` (and passwd, secret, api_key, ...).
_SECRET_VALUE: Final = re.compile(
    r"(?i)(password|passwd|token|secret|api[_-]?key|credential)"
    r"(\"?\s{0,8}[=:]\s{0,8}\"?)"
    r"((?!\*\*\*)[^\s\"'&,;}]+)"
)
_SECRET_WORDS: Final = (
    "password",
    "passwd",
    "token",
    "secret",
    "api_key",
    "api-key",
    "apikey",
    "credential",
)
_LONGEST: Final = max(map(len, _SECRET_WORDS))
_CHUNK: Final = 1 << 20
REDACTED: Final = "***"


def redact(text: str) -> str:
    """`text` with secrets replaced by `***`.

    Rules: the user info of every URL (`scheme://user:password@host` becomes
    `scheme://***@host`), and the value after `password`, `passwd`, `token`, `secret`,
    `api_key` and `credential` followed by `=` or `:` (a JSON key in quotes too).
    """
    if "://" in text:
        text = _URL_USERINFO.sub(f"://{REDACTED}@", text)
    # Find each secret word with str.find (C speed) and try the pattern only there: a pattern
    # that scans every position of a 40 MB plan takes seconds.
    spans: list[tuple[int, int]] = []
    for offset in range(0, len(text), _CHUNK):
        # chunks overlap by the longest word, so a word across a border is found once whole
        lowered = text[offset : offset + _CHUNK + _LONGEST].lower()
        for word in _SECRET_WORDS:
            start = lowered.find(word)
            while 0 <= start < _CHUNK:
                match = _SECRET_VALUE.match(text, offset + start)
                if match:
                    spans.append(match.span(3))
                start = lowered.find(word, start + 1)
    if not spans:
        return text
    parts: list[str] = []
    done = 0
    for begin, end in sorted(spans):
        if begin >= done:
            parts += [text[done:begin], REDACTED]
            done = end
    parts.append(text[done:])
    return "".join(parts)


def strip_control(text: str) -> str:
    """`text` without control characters (tab and newline kept) and bidi overrides."""
    if all(_plain(text[i : i + _CHUNK]) for i in range(0, len(text), _CHUNK)):
        return text  # the common case, checked in C, a chunk at a time to spare memory
    return _CONTROL.sub("", text)


def _plain(chunk: str) -> bool:
    return chunk.isascii() and chunk.replace("\n", "").replace("\t", "").isprintable()


def safe_text(text: str) -> str:
    """`text` as gpuslice may print it: control characters stripped, secrets redacted."""
    return redact(strip_control(text))


class SafeConsole(Console):
    """A rich Console that prints only `safe_text`: strings and table cells are made safe
    before markup is read, and every rendered segment once more before it is written."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(safe_text(text), **kwargs)

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        safe = (
            segment if segment.control else Segment(safe_text(segment.text), segment.style)
            for segment in buffer
        )
        return super()._render_buffer(safe)


class SafeStream:
    """A text stream that writes `safe_text` to `stream` (for click's own error output)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(safe_text(text))

    def flush(self) -> None:
        self.stream.flush()


console = SafeConsole(highlight=False)
console_err = SafeConsole(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    """Print `data` as indented, key-sorted JSON on standard output: control characters
    stripped from every string in it (keys too), secrets redacted."""
    text = dumps_indented(data)
    if _ESCAPED_CONTROL.search(text):  # JSON escapes control characters: strip them, dump again
        text = dumps_indented(_stripped(data))
    click_echo(text)


def _stripped(data: Any) -> Any:
    if isinstance(data, str):
        return strip_control(data)
    if isinstance(data, dict):
        return {_stripped(k): _stripped(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_stripped(v) for v in data]
    return data


def click_echo(text: str) -> None:
    """Write `safe_text(text)` and a newline to standard output, unstyled."""
    import click

    click.echo(safe_text(text))
