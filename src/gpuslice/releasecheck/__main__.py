"""`python -m gpuslice.releasecheck [RELEASE ...]`."""

from __future__ import annotations

import sys

from gpuslice.releasecheck.run import main

sys.exit(main())
