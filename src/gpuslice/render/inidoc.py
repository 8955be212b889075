"""An INI file as oslo.config reads it, kept as blocks of the file's own lines.

Rules (those of oslo.config's parser): a line starting with `[` opens a section; a line starting
with `#` or `;` is a comment; a line starting with a space or tab continues the assignment above
it (a blank line or a comment ends one); a key ends at the first `=` or `:`. Every block keeps its
lines byte for byte, line ends included (LF or CRLF), so a block nobody changes is written back as
it was read. A UTF-8 byte order mark is kept apart and put back in front.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BOM = "\ufeff"

BlockKind = Literal["other", "section", "entry"]


@dataclass
class Block:
    """One section header, one assignment with its continuation lines, or any other line.

    `section` is the section the block belongs to (None before the first header); `key` and
    `value` are set for assignments (the value as oslo.config sees it: continuation lines joined
    by newlines, one pair of surrounding quotes removed). `before` holds lines to write in front
    of the block (gpuslice's marker comments).
    """

    kind: BlockKind
    lines: list[str]
    section: str | None = None
    key: str | None = None
    value: str | None = None
    before: list[str] = field(default_factory=list)


@dataclass
class IniDoc:
    """The blocks of one file, its line end (for new lines) and whether it had a BOM."""

    blocks: list[Block]
    eol: str = "\n"
    bom: bool = False

    def text(self) -> str:
        """The file's text: every block's lines in order, new lines ending as the file does."""
        out: list[str] = []
        for block in self.blocks:
            out.extend(block.before)
            out.extend(block.lines)
        for index, line in enumerate(out[:-1]):
            if not line.endswith("\n"):
                out[index] = line + self.eol
        if out and not out[-1].endswith("\n"):
            out[-1] += self.eol
        return (BOM if self.bom else "") + "".join(out)

    def line(self, body: str) -> str:
        """`body` as a new line of this file (with its line end)."""
        return body + self.eol

    def entries(self, section: str, key: str) -> list[Block]:
        """The assignments of `key` in every occurrence of `section`, in file order."""
        return [
            b for b in self.blocks if b.kind == "entry" and b.section == section and b.key == key
        ]

    def has_section(self, section: str) -> bool:
        """Whether the file has a header for `section`."""
        return any(b.kind == "section" and b.section == section for b in self.blocks)

    def section_end(self, section: str) -> int:
        """Where a new option of `section` goes: at the end of its last occurrence, before
        trailing blank lines and before comments that sit directly on the next section's header
        (they speak of that section). The section must exist."""
        last_header = max(
            i for i, b in enumerate(self.blocks) if b.kind == "section" and b.section == section
        )
        end = last_header + 1
        while end < len(self.blocks) and self.blocks[end].kind != "section":
            end += 1
        if end < len(self.blocks):
            while end > last_header + 1 and _is_comment(self.blocks[end - 1]):
                end -= 1
            if end > last_header + 1 and not _is_blank(self.blocks[end - 1]):
                while _is_comment(self.blocks[end]):
                    end += 1
        while end > last_header + 1 and _is_blank(self.blocks[end - 1]):
            end -= 1
        return end

    def append_section(self, section: str) -> int:
        """Add `[section]` at the end (after one blank line); returns where its options go."""
        if self.blocks and any(_body(line).strip() for line in self.blocks[-1].lines):
            self.blocks.append(Block("other", [self.line("")]))
        self.blocks.append(Block("section", [self.line(f"[{section}]")], section))
        return len(self.blocks)


def _body(line: str) -> str:
    return line.rstrip("\r\n")


def _is_blank(block: Block) -> bool:
    return block.kind == "other" and not _body(block.lines[0]).strip()


def _is_comment(block: Block) -> bool:
    return block.kind == "other" and _body(block.lines[0]).lstrip()[:1] in ("#", ";")


def split_key_value(body: str) -> tuple[str, str] | None:
    """oslo.config's split of an assignment line: key and value at the first `=` or `:`."""
    colon, equal = body.find(":"), body.find("=")
    if colon < 0 and equal < 0:
        return None
    cut = equal if colon < 0 or (0 <= equal < colon) else colon
    key, value = body[:cut].strip(), body[cut + 1 :].strip()
    if value and value[0] == value[-1] and value.startswith(('"', "'")) and len(value) > 1:
        value = value[1:-1]
    return key, value


def parse_ini(text: str) -> IniDoc:
    """Read `text` into blocks (see the module's rules); never fails: a line oslo.config would
    refuse is kept as an `other` block, untouched."""
    bom = text.startswith(BOM)
    if bom:
        text = text[1:]
    lines = text.splitlines(keepends=True)
    crlf = sum(1 for line in lines if line.endswith("\r\n"))
    eol = "\r\n" if crlf and crlf * 2 >= len(lines) else "\n"
    blocks: list[Block] = []
    section: str | None = None
    current: Block | None = None
    for line in lines:
        body = _body(line).rstrip()
        if current is not None and body and body[0] in " \t":
            current.lines.append(line)
            current.value = f"{current.value}\n{body.lstrip()}"
            continue
        current = None
        if not body or body[0] in "#;" or body[0] in " \t":
            blocks.append(Block("other", [line], section))
        elif body.startswith("["):
            section = body[1:-1] if body.endswith("]") else section
            blocks.append(Block("section" if body.endswith("]") else "other", [line], section))
        else:
            split = split_key_value(body)
            if split is None or not split[0]:
                blocks.append(Block("other", [line], section))
                continue
            current = Block("entry", [line], section, split[0], split[1])
            blocks.append(current)
    return IniDoc(blocks, eol, bom)
