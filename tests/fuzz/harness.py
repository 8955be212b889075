"""What every fuzz test shares: the hypothesis profiles, and a run that checks the bounds.

Profiles: `gpuslice-fuzz-fast` (the default, in the README's test command) and
`gpuslice-fuzz-long` (CI: `GPUSLICE_FUZZ=long`), selected by the environment variable so
that only the fuzz tests change, not the rest of the suite.

`run_cli` runs gpuslice in this process and asserts what issue 11 asks of every input: exit 0
or 2 (never a traceback), an exit-2 message that starts with the file it is about, and each run
within `SECONDS` of wall time and `PEAK_BYTES` of memory allocated by Python.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
import tracemalloc
from dataclasses import dataclass

from hypothesis import HealthCheck, settings

from gpuslice.cli import main

settings.register_profile(
    "gpuslice-fuzz-fast",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "gpuslice-fuzz-long",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile(
    "gpuslice-fuzz-long" if os.environ.get("GPUSLICE_FUZZ", "") == "long" else "gpuslice-fuzz-fast"
)

SECONDS = 10.0
PEAK_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    """One run: exit code, both streams, wall seconds and the peak of Python's allocations."""

    code: int
    out: str
    err: str
    seconds: float
    peak: int


def run_cli(*args: str, allowed: tuple[int, ...] = (0, 2), about: str | None = None) -> Outcome:
    """Run gpuslice with `args`; assert the exit code is `allowed`, the bounds hold, and an
    exit-2 message names `about` (a file) first."""
    out, err = io.StringIO(), io.StringIO()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    outcome = Outcome(code, out.getvalue(), err.getvalue(), seconds, peak)
    assert code in allowed, outcome
    assert seconds < SECONDS, outcome
    assert peak < PEAK_BYTES, outcome
    assert "Traceback" not in outcome.err
    if code == 2 and about is not None:
        assert outcome.err.startswith(f"error: {about}"), outcome.err
    return outcome
