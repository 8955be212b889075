"""The render tree: `<node>/<path>` for every file of every node, plus cloud-objects.json.

Writing is atomic: the tree is built in a temporary directory beside the target and moved into
place at the end, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from gpuslice.errors import InputError
from gpuslice.plan.types import Plan
from gpuslice.render.cloud import render_cloud_objects
from gpuslice.render.documents import render_document
from gpuslice.render.ini import render_ini

CLOUD_OBJECTS = "cloud-objects.json"


def render_files(plan: Plan) -> dict[str, str]:
    """Every file of the plan as text, keyed by `<node>/<path>`, in a stable order."""
    files: dict[str, str] = {}
    for node in plan.nodes:
        what = f"{node.name} ({node.role}), strategy {plan.strategy}, {plan.release}"
        for path in sorted({o.path for o in node.options}):
            options = [o for o in node.options if o.path == path]
            files[f"{node.name}/{path}"] = render_ini(
                options, what, systemd=path.endswith(".service")
            )
        for document in node.documents:
            files[f"{node.name}/{document.path}"] = render_document(document)
    files[CLOUD_OBJECTS] = render_cloud_objects(plan.cloud)
    return dict(sorted(files.items()))


def write_tree(plan: Plan, out_dir: str | Path) -> list[Path]:
    """Write the plan's files below `out_dir`, replacing what a previous render left there.

    Rule: all or nothing. Files go to a temporary sibling directory first; only when every file
    is written does it replace `out_dir`. Returns the paths written.
    """
    return write_files(render_files(plan), out_dir)


def write_files(files: dict[str, str], out_dir: str | Path) -> list[Path]:
    """Write `files` (relative path -> text) as a new tree at `out_dir`, atomically."""
    target = Path(out_dir)
    if target.exists() and not target.is_dir():
        raise InputError("exists and is not a directory", source=str(target), field="--out")
    parent = target.parent if str(target.parent) else Path()
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    except OSError as error:
        raise InputError(f"cannot write here: {error.strerror}", source=str(target)) from None
    try:
        for relative, text in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [target / relative for relative in files]


def _swap_in(staging: Path, target: Path) -> None:
    if not target.exists():
        staging.replace(target)
        return
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    target.replace(old)
    staging.replace(target)
    shutil.rmtree(old, ignore_errors=True)
