"""The list of commands the CLI offers; each command module adds itself here."""

from __future__ import annotations

import click

ALL: list[click.Command] = []

from gpuslice.cli.apply import apply_command  # noqa: E402
from gpuslice.cli.audit import audit_command  # noqa: E402

ALL.append(apply_command)
ALL.append(audit_command)
