"""Percentiles of samples, and medians with min-max over repetitions."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["percentile", "spread", "summarize_latency"]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` (0-100) percentile of ``values`` by nearest rank; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def summarize_latency(samples_ns: Sequence[int], prefix: str) -> dict[str, float | None]:
    """p50 and p99 of nanosecond samples, in microseconds, keyed ``{prefix}_p50_us``…"""
    ordered = sorted(samples_ns)
    out: dict[str, float | None] = {}
    for q in (50, 99):
        value = percentile(ordered, q)
        out[f"{prefix}_p{q}_us"] = None if value is None else round(value / 1000, 1)
    out[f"{prefix}_n"] = len(ordered)
    return out


def spread(values: Iterable[Any]) -> dict[str, float] | None:
    """Median, min and max of the numeric values among ``values``; None if there are none."""
    numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if not numbers:
        return None
    return {
        "median": statistics.median(numbers),
        "min": min(numbers),
        "max": max(numbers),
        "n": len(numbers),
    }
