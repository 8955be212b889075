"""Run `gpuslice.twin` (real nova) in a child process and read its report back.

The caller never imports nova; the child does, first thing (see `gpuslice.twin.__main__`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from gpuslice.errors import GpusliceError, InputError, PromiseBrokenError, ServiceUnreachableError
from gpuslice.twin.report import Report, Row

_ERRORS: dict[int, type[GpusliceError]] = {
    1: PromiseBrokenError,
    2: InputError,
    3: ServiceUnreachableError,
}


def verify_in_child(
    fleet: Path,
    *,
    strategy: str | None = None,
    rendered: Path | None = None,
    hosts: Sequence[str] = (),
    compare: int = 0,
    seed: int = 1,
    multi: int = 0,
    mix: bool = False,
    timeout_s: float = 3600,
) -> Report:
    """Verify `fleet` on real nova in a child process; raises what the child raised."""
    with tempfile.TemporaryDirectory(prefix="gpuslice-twin-") as tmp:
        request = Path(tmp) / "request.json"
        result = Path(tmp) / "result.json"
        log = Path(tmp) / "nova.log"
        request.write_text(
            json.dumps(
                {
                    "fleet": str(fleet.resolve()),
                    "strategy": strategy,
                    "rendered": str(rendered.resolve()) if rendered else None,
                    "hosts": list(hosts),
                    "compare": compare,
                    "seed": seed,
                    "multi": multi,
                    "mix": mix,
                }
            ),
            encoding="utf-8",
        )
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        command = [sys.executable, "-m", "gpuslice.twin", str(request), str(result)]
        with log.open("w", encoding="utf-8") as out:
            try:
                code = subprocess.run(
                    command,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    timeout=timeout_s,
                    check=False,
                ).returncode
            except subprocess.TimeoutExpired:
                code = None
        if not result.exists():
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            how = "timed out" if code is None else f"exited with {code}"
            msg = f"the real-nova process {how} without a result; its output ends:\n{tail}"
            raise ServiceUnreachableError(msg)
        data = json.loads(result.read_text(encoding="utf-8"))
    if "error" in data:
        error = data["error"]
        raise _ERRORS.get(int(error["exit_code"]), GpusliceError)(error["message"])
    return report_from_dict(data["report"])


def report_from_dict(data: dict[str, object]) -> Report:
    """The Report that `Report.as_dict` wrote."""
    rows = data.get("rows", [])
    notes = data.get("notes", [])
    seconds = data.get("run_seconds", {})
    comparisons = data.get("comparisons", {})
    if not (
        isinstance(rows, list)
        and isinstance(notes, list)
        and isinstance(seconds, dict)
        and isinstance(comparisons, dict)
    ):
        msg = "the real-nova process wrote a report of the wrong shape"
        raise ServiceUnreachableError(msg)
    return Report(
        rows=[
            Row(
                str(r["host"]),
                str(r["strategy"]),
                str(r["step"]),
                str(r["expected"]),
                str(r["seen"]),
                bool(r["ok"]),
            )
            for r in rows
        ],
        notes=[str(n) for n in notes],
        run_seconds={str(k): float(v) for k, v in seconds.items()},
        comparisons={str(k): list(v) for k, v in comparisons.items()},
    )
