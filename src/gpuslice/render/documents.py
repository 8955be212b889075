"""Structured files: provider.yaml (YAML) and modprobe options."""

from __future__ import annotations

import yaml

from gpuslice.plan.types import VFIO_MODPROBE, Document

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def render_document(document: Document) -> str:
    """The text of `document`, chosen by its path: modprobe options or YAML."""
    header = f"# Managed by gpuslice: {document.rule}.\n"
    if document.path == VFIO_MODPROBE:
        lines = [f"{key}={value}" for key, value in document.content.items()]
        return header + "\n".join(lines) + "\n"
    body = yaml.dump(  # libyaml's emitter where present: the same text, many times faster
        dict(document.content), Dumper=_DUMPER, sort_keys=False, default_flow_style=False
    )
    return header + body
