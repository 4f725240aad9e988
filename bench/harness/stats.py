"""The two figures the benchmark reports of repeated runs and of latencies: the
median, and a percentile by rank (no interpolation: a latency that was measured)."""

from __future__ import annotations

import statistics


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]
