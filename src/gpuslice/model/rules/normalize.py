"""nova's weight normalisation (`nova.weights.normalize`), written once for every path.

Rules (nova 34 `weights.py`):
- a weigher's raw value is clamped at its `minval` when it has one (nova's weighers all have
  `minval = 0` or none; none sets a `maxval`);
- values are mapped to 0..1 between the lower bound (the `minval`, or the lowest value among
  the candidates when there is none) and the highest value among the candidates;
- when both bounds are equal every value maps to 0;
- a host's weight is the sum over weighers of multiplier x normalised value; the highest wins.

The fast paths never subtract the lower bound: `(w - low) / (high - low) * m` and
`w * (m / (high - low))` differ by a constant per weigher, the same for every candidate, so they
rank hosts alike. Every path (the per-host numpy path, the group path, the reference in the
tests) computes `scale(...) * w`, summed left to right, so all of them round alike.
"""

from __future__ import annotations

from collections.abc import Sequence


def clamp(value: float, minval: float | None) -> float:
    """`value`, raised to `minval` when it is below (no `minval`: unchanged)."""
    if minval is not None and value < minval:
        return minval
    return value


def lower_bound(values: Sequence[float], minval: float | None) -> float:
    """The lower bound of clamped `values`: the weigher's `minval` when it has one (clamped
    values never go below it), else the lowest value."""
    return min(values) if minval is None else minval


def bounds(values: Sequence[float], minval: float | None) -> tuple[float, float]:
    """(low, high) of clamped `values` (see `lower_bound`)."""
    return lower_bound(values, minval), max(values)


def scale(multiplier: float, low: float, high: float) -> float:
    """The factor a clamped raw value is multiplied by: `multiplier / (high - low)`, or 0.0
    when all candidates weigh alike (nova normalises them all to 0)."""
    return multiplier / (high - low) if high > low else 0.0


def normalize(values: Sequence[float], minval: float | None = None) -> list[float]:
    """nova's `normalize`: clamped values mapped to 0..1 between their bounds; all equal -> 0."""
    if not values:
        return []
    clamped = [clamp(v, minval) for v in values]
    low, high = bounds(clamped, minval)
    if high == low:
        return [0.0] * len(clamped)
    return [(v - low) / (high - low) for v in clamped]


def weighted_sum(coef: Sequence[float], weights: Sequence[float]) -> float:
    """`weights` times `coef`, summed left to right: one rounding per product and per sum."""
    total = 0.0
    for c, w in zip(coef, weights, strict=True):
        total += c * w
    return total
