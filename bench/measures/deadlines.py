"""Measurement 7, deadlines: how many reaction deadlines one core computes per second,
per SLA level; bench/deadlines.py run as a script, the median of the repetitions."""

from __future__ import annotations

import subprocess
from typing import Any

from bench.harness.paths import BENCH, PROJECT, PY
from bench.harness.stats import median


def measure(sz: dict[str, Any], seed: int, pg: str | None) -> dict[str, Any]:
    per: dict[str, list[float]] = {}
    for _ in range(sz["reps"]):
        p = subprocess.run([PY, str(BENCH / "deadlines.py"), "--n", str(sz["deadlines_n"])],
                           capture_output=True, timeout=300, cwd=PROJECT)
        for line in p.stdout.decode().splitlines():
            if line.endswith("deadlines/s"):
                code = line.split()[0]
                per.setdefault(code, []).append(float(line.split()[-2].replace(",", "")))
    levels = {k: median(v) for k, v in per.items()}
    return {"levels": levels, "min": min(levels.values()) if levels else float("nan"),
            "n": sz["deadlines_n"]}
