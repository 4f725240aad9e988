"""How bench/report.py writes a figure: numbers with thousands separators or "n/a",
repetitions in a row, a target met or missed, a value deep in the results (or None),
a failed measurement's error; and `Figures`, the parts of one run's results that the
sections of the block read.
"""

from __future__ import annotations

import math
from typing import Any


def f0(x: Any) -> str:
    return "n/a" if not isinstance(x, (int, float)) or math.isnan(x) else f"{x:,.0f}"


def f1(x: Any) -> str:
    return "n/a" if not isinstance(x, (int, float)) or math.isnan(x) else f"{x:,.1f}"


def workers_rss(rss: dict[str, Any]) -> str:
    """The daemon's peak split into the listener and its pipeline processes."""
    if not rss.get("daemon_workers_peak_kb"):
        return ""
    return (f": listener {f0(rss['daemon_listener_peak_kb'] / 1024)} + pipeline processes "
            f"{f0(rss['daemon_workers_peak_kb'] / 1024)}, each at its own peak")


def runs(xs: Any, fmt: Any = f1) -> str:
    return " / ".join(fmt(x) for x in xs) if isinstance(xs, list) else "n/a"


def mark(ok: bool | None) -> str:
    return "—" if ok is None else ("**met**" if ok else "**missed**")


def get(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def err(d: Any) -> str:
    return f"failed: {d['error']}" if isinstance(d, dict) and "error" in d else ""


def ratio(a: Any, b: Any) -> float:
    try:
        return a / b
    except (TypeError, ZeroDivisionError):
        return float("nan")


class Figures:
    """The parts of one run's results the sections read, each a dict even when absent."""

    def __init__(self, r: dict[str, Any]) -> None:
        self.r = r
        self.sz = r.get("sizes", {})
        self.ceil = get(r, "ceiling", "rate")
        self.ing = r.get("ingest") or {}
        self.q = r.get("queue") or {}
        self.sq = get(self.ing, "sqlite", "rate")
        self.pg = get(self.ing, "postgresql", "rate")
        self.nof = get(self.ing, "sqlite_nofsync", "rate")
        self.smtp = r.get("smtp") or {}
        self.peer = r.get("peer") or {}
        self.rss = r.get("rss") or {}
        self.scale = r.get("scale") or {}
        self.dl = r.get("deadlines") or {}
        self.pipe = r.get("pipe") or {}
        self.prate = self.peer.get("rate")
