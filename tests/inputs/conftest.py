"""Fixtures for the input-layer tests: a small valid fleet and a runner that captures output."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from gpuslice.cli import main

FLEET = """\
release: "2025.1"
strategy: placement
slice: {vcpus: 2, memory_mb: 4096, disk_gb: 40}
controllers: [ctl1]
hosts:
  - name: hyper18
    cpus: 24
    memory_mb: 131072
    disk_gb: 2000
    gpus: [{address: "0000:86:00.0", vendor_id: "10de", product_id: "1024"}]
"""

CAPTURE = (
    "86:00.0 3D controller [0302]: NVIDIA Corporation GK110BGL [Tesla K40c] [10de:1024] (rev a1)\n"
)


@dataclass(frozen=True)
class Run:
    """What one `gpuslice` run gave: exit code and both streams."""

    code: int
    out: str
    err: str


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Run gpuslice with these arguments; never raises (a traceback fails the test)."""

    def go(*args: str | Path) -> Run:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return go


@pytest.fixture
def fleet_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a fleet (the default one, or `text`) to tmp_path/fleet.yaml, as text or bytes."""

    def write(text: str | bytes = FLEET, name: str = "fleet.yaml") -> Path:
        path = tmp_path / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return write
