"""Pausing Python's cyclic garbage collector around a long simulation: for callers only.

A simulation's loop makes no reference cycles (what it drops, reference counting frees), but
the cyclic collector would walk the model and every live VM's entry again and again: about a
fifth of the time at 10,000 hosts. The collector is process-wide state, so the library never
pauses it for its caller; the CLI, the benchmarks and the sweep's own worker processes do.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_collector() -> Iterator[None]:
    """Turn the cyclic collector off for the block and back on after, if it was on before."""
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
