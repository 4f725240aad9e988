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


def pairs_summary(offs: list[tuple[float, ...]], ons: list[tuple[float, ...]]) -> list[str]:
    """Lines of a measure that alternates "off" and "on" runs, each run giving (letters
    a second by the wall clock, by CPU time, ...): both medians and the median ratio."""
    lines = []
    for k, what in ((0, "wall clock"), (1, "CPU time")):
        off, on = [x[k] for x in offs], [x[k] for x in ons]
        ratios = [b / a for a, b in zip(off, on, strict=True)]
        lines.append(f"{what}: off median {median(off):.1f} letters/s, on median "
                     f"{median(on):.1f}; on/off median {median(ratios):.3f} "
                     f"{[round(x, 3) for x in ratios]}")
    return lines
