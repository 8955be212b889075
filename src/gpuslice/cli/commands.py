"""The list of commands the CLI offers; each command module adds itself here."""

from __future__ import annotations

import click

from gpuslice.cli.apply import apply_command
from gpuslice.cli.audit import audit_command
from gpuslice.cli.demo import demo_command
from gpuslice.cli.discover import discover
from gpuslice.cli.doctor import doctor_command
from gpuslice.cli.plan import plan_command
from gpuslice.cli.render import render_command
from gpuslice.cli.simulate import simulate_command
from gpuslice.cli.sweep import sweep_command
from gpuslice.cli.verify import verify_command

ALL: list[click.Command] = [
    discover,
    plan_command,
    render_command,
    simulate_command,
    sweep_command,
    demo_command,
    apply_command,
    audit_command,
    verify_command,
    doctor_command,
]
