"""Structured files: provider.yaml (YAML) and modprobe options."""

from __future__ import annotations

import yaml

from gpuslice.plan.types import VFIO_MODPROBE, Document


def render_document(document: Document) -> str:
    """The text of `document`, chosen by its path: modprobe options or YAML."""
    header = f"# Managed by gpuslice: {document.rule}.\n"
    if document.path == VFIO_MODPROBE:
        lines = [f"{key}={value}" for key, value in document.content.items()]
        return header + "\n".join(lines) + "\n"
    body = yaml.safe_dump(dict(document.content), sort_keys=False, default_flow_style=False)
    return header + body
