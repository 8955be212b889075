"""What verify saw: one row per step, expected against seen. Pure data."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Row:
    """One step on one host: what the promise (or the plan) expects and what real Nova did."""

    host: str
    strategy: str
    step: str
    expected: str
    seen: str
    ok: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "host": self.host,
            "strategy": self.strategy,
            "step": self.step,
            "expected": self.expected,
            "seen": self.seen,
            "ok": self.ok,
        }


@dataclass
class Report:
    """Every row of a verify run, with notes and how long each real-nova run took."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    run_seconds: dict[str, float] = field(default_factory=dict)
    # host -> per-request agreement of nova and the embedded model (--compare-model)
    comparisons: dict[str, list[dict[str, object]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every row saw what it expected."""
        return all(row.ok for row in self.rows)

    @property
    def mismatches(self) -> list[Row]:
        return [row for row in self.rows if not row.ok]

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "rows": [row.as_dict() for row in self.rows],
            "notes": list(self.notes),
            "run_seconds": dict(self.run_seconds),
            "comparisons": {host: list(rows) for host, rows in self.comparisons.items()},
        }
