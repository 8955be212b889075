"""Discovery end to end: a source in, a Discovery out. What the CLI and the fleet loader call."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gpuslice.inventory.classify import Discovery, classify
from gpuslice.inventory.lspci import parse_lspci
from gpuslice.inventory.sriov import settle_commands
from gpuslice.inventory.sysfs import read_sysfs


def discover_from_lspci(text: str, source: str = "<stdin>") -> Discovery:
    """Find the passthrough GPUs in lspci `text`; `source` names the text in errors and warnings.

    Raises InputError for a line that cannot be read (with its line number) or a text without
    any device line. GPUs whose nova device type the capture does not show get a warning that
    names the command that settles it.
    """
    capture = parse_lspci(text, source)
    return _type_warning(classify(capture.functions, capture.warnings))


def discover_from_sysfs(root: Path) -> Discovery:
    """Find the passthrough GPUs of the host whose sysfs lies below `root` (`/` for this host)."""
    return classify(read_sysfs(root))


def _type_warning(discovery: Discovery) -> Discovery:
    """Add one warning naming the GPUs whose device type (type-PCI or type-PF) is unknown."""
    unknown = [gpu.address for gpu in discovery.gpus if gpu.device_type is None]
    if not unknown:
        return discovery
    note = (
        f"the capture does not show whether {', '.join(unknown)} "
        f"{'is' if len(unknown) == 1 else 'are'} SR-IOV capable, which nova reports as "
        "type-PF (an alias for type-PCI never gets such a GPU); device_type is null. "
        f"Settle it on the host: {settle_commands(unknown[0])}"
        f"{', for each GPU' if len(unknown) > 1 else ''}."
    )
    return replace(discovery, warnings=(*discovery.warnings, note))
