"""What every command shares: the consoles and JSON output."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

console = Console(highlight=False)
console_err = Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    """Print `data` as indented, key-sorted JSON on standard output."""
    click_echo(json.dumps(data, indent=2, sort_keys=True))


def click_echo(text: str) -> None:
    """Write `text` and a newline to standard output, unstyled."""
    import click

    click.echo(text)
