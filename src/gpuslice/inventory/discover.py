"""Discovery end to end: a source in, a Discovery out. What the CLI and the fleet loader call."""

from __future__ import annotations

from pathlib import Path

from gpuslice.inventory.classify import Discovery, classify
from gpuslice.inventory.lspci import parse_lspci
from gpuslice.inventory.sysfs import read_sysfs


def discover_from_lspci(text: str, source: str = "<stdin>") -> Discovery:
    """Find the passthrough GPUs in lspci `text`; `source` names the text in errors and warnings.

    Raises InputError for a line that cannot be read (with its line number) or a text without
    any device line.
    """
    capture = parse_lspci(text, source)
    return classify(capture.functions, capture.warnings)


def discover_from_sysfs(root: Path) -> Discovery:
    """Find the passthrough GPUs of the host whose sysfs lies below `root` (`/` for this host)."""
    return classify(read_sysfs(root))
