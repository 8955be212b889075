"""The render tree: `<node>/<path>` for every file of every node, plus cloud-objects.json.

Writing is atomic: the tree is built in a temporary directory beside the target and moved into
place at the end, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import glob
import json
import shutil
import tempfile
from pathlib import Path

from gpuslice import inputs
from gpuslice.errors import InputError
from gpuslice.plan.types import Document, Plan
from gpuslice.render.cloud import render_cloud_objects
from gpuslice.render.documents import render_document
from gpuslice.render.ini import render_ini

CLOUD_OBJECTS = "cloud-objects.json"
RENDER_MARKER = ".gpuslice-render"
"""The marker file that makes a directory recognisable as an earlier render."""


def render_files(plan: Plan) -> dict[str, str]:
    """Every file of the plan as text, keyed by `<node>/<path>`, in a stable order."""
    files: dict[str, str] = {}
    documents: dict[str, str] = {}
    for node in plan.nodes:
        what = f"{node.name} ({node.role}), strategy {plan.strategy}, {plan.release}"
        for path in sorted({o.path for o in node.options}):
            options = [o for o in node.options if o.path == path]
            files[f"{node.name}/{path}"] = render_ini(
                options, what, systemd=path.endswith(".service")
            )
        for document in node.documents:
            files[f"{node.name}/{document.path}"] = _rendered(document, documents)
    files[CLOUD_OBJECTS] = render_cloud_objects(plan.cloud)
    return dict(sorted(files.items()))


def _rendered(document: Document, seen: dict[str, str]) -> str:
    """`render_document(document)`, rendered once for documents alike (identical hosts' provider
    files differ in nothing): the same path, rule and content give the same text."""
    try:
        key = json.dumps([document.path, document.rule, document.content])
    except (TypeError, ValueError):
        return render_document(document)
    text = seen.get(key)
    if text is None:
        text = seen[key] = render_document(document)
    return text


def write_tree(plan: Plan, out_dir: str | Path) -> list[Path]:
    """Write the plan's files below `out_dir`, replacing what a previous render left there.

    Rule: all or nothing. Files go to a temporary sibling directory first; only when every file
    is written does it replace `out_dir`. Returns the paths written.
    """
    return write_files(render_files(plan), out_dir)


def write_files(files: dict[str, str], out_dir: str | Path) -> list[Path]:
    """Write `files` (relative path -> text) as a new tree at `out_dir`, atomically.

    Rules: `out_dir` may not be the current directory or above it; it may be missing, empty, or
    an earlier render (it holds the marker file
    RENDER_MARKER, listing what that render wrote, and nothing else); anything else is refused
    (InputError naming it), so a render never deletes a file it did not write. The tree is built
    in a staging directory `.NAME.XXXX` beside it (holding the marker from the start) and swapped
    in; staging directories of earlier killed renders (recognised by the marker) are removed.
    """
    target = Path(out_dir)
    if target.exists() and not target.is_dir():
        raise InputError("exists and is not a directory", source=str(target), field="--out")
    if target.resolve() in (Path.cwd().resolve(), *Path.cwd().resolve().parents):
        msg = (
            "is the current directory or one above it, which a render cannot replace whole; "
            "name a new directory (e.g. --out out)"
        )
        raise InputError(msg, source=str(target), field="--out")
    check_replaceable(target)
    parent = target.parent if str(target.parent) else Path()
    try:
        parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(target)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
        staging.chmod(0o755)
        (staging / RENDER_MARKER).write_text(marker_text(files), encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot write here: {error.strerror}", source=str(target)) from None
    try:
        made = {staging}
        for relative, text in files.items():
            path = staging / relative
            # Each directory is made once, top down: no failed attempts (8,000 hosts make
            # 40,000 directories, and each system call counts).
            for directory in reversed(path.relative_to(staging).parents[:-1]):
                if (full := staging / directory) not in made:
                    full.mkdir(exist_ok=True)
                    made.add(full)
            path.write_text(text, encoding="utf-8")
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [target / relative for relative in files]


def marker_text(files: dict[str, str]) -> str:
    """The marker file: what it is, then every file the render wrote, one per line."""
    lines = [
        "# Written by `gpuslice render --out`: the next render replaces this directory whole.",
        "# Files of this render (a directory holding anything else is not replaced):",
        *sorted(files),
    ]
    return "\n".join(lines) + "\n"


def _listed(marker: Path) -> set[str] | None:
    """The files a marker lists, or None when `marker` is not a readable render marker."""
    try:
        data = inputs.read_bytes(marker, inputs.CONFIG)  # bounded, regular files only
        text = "" if data is None else data.decode("utf-8")
    except (InputError, UnicodeDecodeError):
        return None
    if not text.startswith("# Written by `gpuslice render --out`"):
        return None
    return {line for line in text.splitlines() if line and not line.startswith("#")}


def check_replaceable(target: Path) -> None:
    """Refuse to replace `target` unless it is missing, empty or exactly an earlier render."""
    if not target.is_dir() or not any(target.iterdir()):
        return
    listed = _listed(target / RENDER_MARKER)
    if listed is None:
        msg = (
            "is not empty and is not an earlier gpuslice render (no "
            f"{RENDER_MARKER}); a render replaces its directory whole: choose a new or empty "
            "directory"
        )
        raise InputError(msg, source=str(target), field="--out")
    for path in sorted(target.rglob("*")):
        relative = path.relative_to(target).as_posix()
        if path.is_dir() and not path.is_symlink():
            continue
        if relative != RENDER_MARKER and relative not in listed:
            msg = (
                f"holds {relative}, which the earlier render there did not write; move it "
                "away (the render replaces the directory whole) or choose another directory"
            )
            raise InputError(msg, source=str(target), field="--out")


def remove_stale_staging(target: Path) -> None:
    """Remove `.NAME.*` directories beside `target` that earlier renders left (killed midway):
    only those holding a render marker, so nothing gpuslice did not make is touched."""
    parent = target.parent if str(target.parent) else Path()
    for candidate in parent.glob(f".{glob.escape(target.name)}.*"):
        if candidate.is_dir() and not candidate.is_symlink():
            ours = _listed(candidate / RENDER_MARKER) is not None
            if ours or (candidate.name == f".{target.name}.old" and not any(candidate.iterdir())):
                shutil.rmtree(candidate)


def _swap_in(staging: Path, target: Path) -> None:
    if not target.exists():
        staging.replace(target)
        return
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    target.replace(old)
    staging.replace(target)
    shutil.rmtree(old, ignore_errors=True)
