"""The list of commands the CLI offers; each command module adds itself here."""

from __future__ import annotations

import click

from gpuslice.cli.discover import discover

ALL: list[click.Command] = []
ALL.append(discover)
