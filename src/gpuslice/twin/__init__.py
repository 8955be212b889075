"""Real Nova in-process: boot a rendered plan on nova's own code (the `nova` extra).

Importing this package does not import nova; `gpuslice.twin.verify` does, when it runs.
"""

from __future__ import annotations
