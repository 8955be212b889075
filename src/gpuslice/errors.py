"""The exceptions gpuslice raises. The CLI alone maps them to messages and exit codes."""

from __future__ import annotations


class GpusliceError(Exception):
    """Base of every error gpuslice raises on purpose; carries the exit code the CLI uses."""

    exit_code = 2


class InputError(GpusliceError):
    """Bad input: a file, a field, a line or an option the user must fix (exit 2).

    The message names where the problem is (file, line, field) and what to do.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.source = source
        self.line = line
        self.field = field
        self.detail = message
        where = ""
        if source is not None:
            where = source if line is None else f"{source}:{line}"
        if field:
            where = f"{where}: {field}" if where else field
        super().__init__(f"{where}: {message}" if where else message)


class PromiseBrokenError(GpusliceError):
    """A check found the promise broken (exit 1)."""

    exit_code = 1


class ServiceUnreachableError(GpusliceError):
    """A cloud or service could not be reached or refused us (exit 3)."""

    exit_code = 3
