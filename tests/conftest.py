"""Shared fixtures: the repository's examples and a writer for small fleet files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gpuslice.errors import InputError
from gpuslice.fleetfile import load_fleet
from gpuslice.plan import make_plan

Writer = Callable[[str], Path]

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
BRIGHT_LAB = EXAMPLES / "bright-lab"
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def write_fleet(tmp_path: Path) -> Callable[[str], Path]:
    """Write YAML text to a fleet file in a temporary directory and return its path."""

    def write(text: str, name: str = "fleet.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def error_of(write_fleet: Writer, text: str) -> InputError:
    """The `InputError` that loading and planning fleet `text` raises (the test fails if none)."""
    with pytest.raises(InputError) as caught:
        make_plan(load_fleet(write_fleet(text)))
    return caught.value
