"""The real-nova child process: `python -m gpuslice.twin REQUEST.json RESULT.json`.

`gpuslice verify` runs nova here, in a process of its own: nova switches eventlet on when it
is imported, which must happen before anything else (pydantic, logging locks) exists, and its
harness keeps global state (one CONF, one database) that must not leak into the caller.
"""

from __future__ import annotations

# First: nova's functional package switches eventlet on (see _nova34).
from gpuslice.twin import _nova34  # noqa: F401  # isort: skip

import json
import logging
import sys
from pathlib import Path

from gpuslice.errors import GpusliceError
from gpuslice.fleetfile import load_fleet
from gpuslice.twin.verify import read_tree, verify


def main(argv: list[str]) -> int:
    """Run the request in argv[0], write the result to argv[1]; 0 unless the files fail."""
    request = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    try:
        rendered = request.get("rendered")
        report = verify(
            load_fleet(request["fleet"]),
            strategy=request.get("strategy"),
            rendered=read_tree(Path(rendered)) if rendered else None,
            hosts=tuple(request.get("hosts", ())),
            compare=int(request.get("compare", 0)),
            seed=int(request.get("seed", 1)),
            multi=int(request.get("multi", 0)),
            mix=bool(request.get("mix", False)),
        )
        result: dict[str, object] = {"report": report.as_dict()}
    except GpusliceError as error:
        result = {"error": {"message": str(error), "exit_code": error.exit_code}}
    Path(argv[1]).write_text(json.dumps(result), encoding="utf-8")
    # nova's thread pools log their shutdown at exit; nobody needs that.
    logging.disable(logging.CRITICAL)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
