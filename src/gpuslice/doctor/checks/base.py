"""What every check is: an id, a one-line rule, the modes it applies to, and `run`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from gpuslice.doctor.snapshot import HostSnapshot
from gpuslice.doctor.verdict import MODES, CheckContext, Finding, Fix, Mode, Status


class Check(ABC):
    """One rule a GPU host must meet. `run` returns findings and never raises on bad data."""

    id: ClassVar[str]
    modes: ClassVar[frozenset[Mode]] = frozenset(MODES)

    @abstractmethod
    def run(self, host: HostSnapshot, context: CheckContext) -> list[Finding]:
        """The findings of this check on `host` (empty when it has nothing to say)."""

    def finding(
        self,
        status: Status,
        message: str,
        *,
        subject: str | None = None,
        evidence: tuple[str, ...] | list[str] = (),
        fix: Fix | None = None,
    ) -> Finding:
        """A finding of this check."""
        return Finding(self.id, status, message, subject, tuple(evidence), fix)
