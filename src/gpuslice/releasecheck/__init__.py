"""Release facts checked against every release's real nova (scripts/test-releases).

For each nova on PyPI (15..34) the plan matrix is rendered and every option, provider.yaml and
flavor extra spec is checked against that release's own code, read from its cached wheel.
"""

from __future__ import annotations

from gpuslice.releasecheck.matrix import Check, ReleaseSource, check_release
from gpuslice.releasecheck.run import load_release, main

__all__ = ["Check", "ReleaseSource", "check_release", "load_release", "main"]
