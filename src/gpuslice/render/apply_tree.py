"""Merge a plan into existing files (an operator's own nova.conf), atomically per run.

Every file's new text is computed first; only when all are ready are they written, each by an
atomic replace, so a failure leaves the files as they were.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from gpuslice.errors import InputError
from gpuslice.plan.types import Plan
from gpuslice.render.cloud import render_cloud_objects
from gpuslice.render.documents import render_document
from gpuslice.render.merge import merge_ini
from gpuslice.render.tree import CLOUD_OBJECTS


def merged_files(plan: Plan, root: Path, node: str | None = None) -> dict[Path, str]:
    """The new text of every file below `root` after merging.

    Without `node`, `root` holds one directory per node (`root/hyper18/etc/nova/nova.conf`);
    with `node`, `root` is that node's own root (`/`). INI files are merged; documents gpuslice
    owns are written whole.
    """
    nodes = [plan.node(node)] if node else list(plan.nodes)
    result: dict[Path, str] = {}
    for each in nodes:
        base = root if node else root / each.name
        for path in sorted({o.path for o in each.options}):
            target = base / path
            existing = _read(target)
            options = [o for o in each.options if o.path == path]
            result[target] = merge_ini(existing, options, systemd=path.endswith(".service"))
        for document in each.documents:
            result[base / document.path] = render_document(document)
    if node is None:
        result[root / CLOUD_OBJECTS] = render_cloud_objects(plan.cloud)
    return result


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror}", source=str(path)) from None


def write_merged(files: dict[Path, str]) -> list[Path]:
    """Write each file by an atomic replace; returns the paths whose text changed."""
    changed: list[Path] = []
    for path, text in files.items():
        if _read(path) == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            if path.exists():
                Path(temporary).chmod(path.stat().st_mode & 0o7777)
            Path(temporary).replace(path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        changed.append(path)
    return changed
