"""Merge a plan into existing files (an operator's own nova.conf), all or nothing per run.

Every file's new text is computed first (`merged_files`, reading only); `write_merged` then
writes the files that change through `gpuslice.render.atomic` (staged, journaled, swapped), and
`diff_merged` shows what would change without writing anything.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from gpuslice import inputs
from gpuslice.plan.types import Plan
from gpuslice.render.atomic import recover, write_all
from gpuslice.render.cloud import render_cloud_objects
from gpuslice.render.documents import render_document
from gpuslice.render.inidoc import BOM
from gpuslice.render.merge import merge_ini
from gpuslice.render.tree import CLOUD_OBJECTS


def merged_files(plan: Plan, root: Path, node: str | None = None) -> dict[Path, str]:
    """The new text of every file below `root` after merging.

    Without `node`, `root` holds one directory per node (`root/hyper18/etc/nova/nova.conf`);
    with `node`, `root` is that node's own root (`/`). INI files are merged; documents gpuslice
    owns are written whole.
    """
    nodes = [plan.node(node)] if node else list(plan.nodes)
    exclusive = plan.release.fact("dedicated_cpus") is not None
    result: dict[Path, str] = {}
    for each in nodes:
        base = root if node else root / each.name
        for path in sorted({o.path for o in each.options}):
            target = base / path
            options = [o for o in each.options if o.path == path]
            result[target] = merge_ini(
                read_text(target),
                options,
                systemd=path.endswith(".service"),
                cpu_sets_exclude_reserved=exclusive,
                source=str(target),
            )
        for document in each.documents:
            result[base / document.path] = render_document(document)
    if node is None:
        result[root / CLOUD_OBJECTS] = render_cloud_objects(plan.cloud)
    return result


def read_text(path: Path) -> str:
    """A file's text as written (line ends and BOM kept; undecodable bytes kept as escapes);
    an empty string when it does not exist."""
    data = inputs.read_bytes(path, inputs.CONFIG)  # bounded: at most 16 MiB
    return "" if data is None else data.decode("utf-8", "surrogateescape")


def changes(files: dict[Path, str]) -> dict[Path, str]:
    """The files whose new text differs from what is on disk."""
    return {path: text for path, text in files.items() if read_text(path) != text}


def write_merged(files: dict[Path, str], root: Path | None = None) -> list[Path]:
    """Write the files that change, all or nothing; returns their paths.

    `root` (default: the common parent of the files) holds the journal that lets a rerun finish
    a write a kill interrupted; such a rerun first completes that write.
    """
    base = root if root is not None else _common_root(list(files))
    recover(base, list(files))
    changed = changes(files)
    if changed:
        write_all(base, changed)
    return list(changed)


def diff_merged(files: dict[Path, str]) -> str:
    """A unified diff of every file that would change (empty when none would)."""
    out: list[str] = []
    for path, text in changes(files).items():
        old = read_text(path)
        out.extend(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=str(path) if old else "/dev/null",
                tofile=str(path),
            )
        )
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
    return "".join(out)


def bom_warnings(files: dict[Path, str]) -> list[str]:
    """A warning per INI file that starts with a UTF-8 byte order mark, which oslo.config
    (nova, neutron) cannot parse; the merge keeps it, as it keeps every byte of the operator's."""
    return [
        f"{path}: starts with a UTF-8 byte order mark; oslo.config reads it as part of the first "
        "line and refuses the file: remove the first 3 bytes"
        for path, text in files.items()
        if text.startswith(BOM) and path.suffix in {".conf", ".ini"}
    ]


def _common_root(paths: list[Path]) -> Path:
    if not paths:
        return Path()
    parents = [p.parent.absolute() for p in paths]
    common = parents[0]
    while not all(common == p or common in p.parents for p in parents):
        common = common.parent
    return common
