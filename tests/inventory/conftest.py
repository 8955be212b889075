"""Fixtures for discovery tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from tests.inventory.inventory_helpers import FakeFunction, build_sysfs


@pytest.fixture
def make_sysfs(tmp_path: Path) -> Callable[[Iterable[FakeFunction]], Path]:
    """Build a fake sysfs tree in a fresh temporary directory and return its root."""
    count = 0

    def make(functions: Iterable[FakeFunction]) -> Path:
        nonlocal count
        count += 1
        return build_sysfs(tmp_path / f"host{count}", functions)

    return make
