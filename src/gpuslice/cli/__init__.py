"""The command line: the only place that prints or exits.

Each command lives in a module of its own below this package and is registered in `COMMANDS`.
Library code raises `GpusliceError`; `main` turns it into a message and the exit code that
DESIGN.md's contract names (0 done, 1 promise/check failed, 2 bad input, 3 unreachable).
Every message goes through `cli.common.safe_text`: secrets redacted, control characters
stripped.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence

import click
from rich.text import Text

from gpuslice import __version__
from gpuslice.cli.common import SafeStream, console_err, safe_text
from gpuslice.errors import GpusliceError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gpuslice")
def cli() -> None:
    """Keep a GPU slice free on OpenStack GPU hypervisors, so GPU VMs always boot."""


def _register_commands() -> None:
    from gpuslice.cli import commands

    for command in commands.ALL:
        cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run gpuslice with `argv` (without the program name) and return the exit code.

    While the command runs, the garbage collector's first threshold is raised (its setting is
    put back after): a plan of thousands of hosts allocates millions of objects that all live
    to the end, and collecting them again and again took half of `plan`'s time
    (bench/bench_plan.py).
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], _GC_THRESHOLD), *thresholds[1:])
    try:
        return _main(argv)
    finally:
        gc.set_threshold(*thresholds)


_GC_THRESHOLD = 100_000


def _main(argv: Sequence[str] | None) -> int:
    _register_commands()
    try:
        cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="gpuslice",
            standalone_mode=False,
        )
    except GpusliceError as error:
        message = safe_text(str(error))
        console_err.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
        return error.exit_code
    except click.exceptions.Abort:
        console_err.print("aborted")
        return 2
    except click.ClickException as error:
        error.show(file=SafeStream(sys.stderr))  # type: ignore[arg-type]
        return 2
    except click.exceptions.Exit as error:
        return int(error.exit_code)
    return 0


def entry_point() -> None:
    """Console script entry point."""
    sys.exit(main())
