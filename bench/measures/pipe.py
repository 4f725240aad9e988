"""Measurement 2, as an MTA pipe runs supportd: `supportd ingest` as a subprocess per
letter (interpreter, imports, config, then one letter), and the cost of starting
alone (`supportd check-config`, no letter).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import Counter
from typing import Any

from bench.harness.daemon import SUPPORTD
from bench.harness.desks import letters_for, make_desk, warm_desk
from bench.harness.paths import PROJECT, WORK
from bench.harness.stats import median


def measure(sz: dict[str, Any], seed: int, pg: str | None) -> dict[str, Any]:
    letters = letters_for(sz["pipe_n"], seed)
    root = WORK / "pipe"
    rates, startup = [], []
    outcomes: Counter[str] = Counter()
    for rep in range(sz["reps"]):
        app = make_desk(root)
        warm_desk(app)
        cfg = str(root / "supportd.toml")
        app.close()
        t0 = time.perf_counter()
        for x in letters:
            p = subprocess.run([*SUPPORTD, "--config", cfg, "ingest", "--sender", x.sender],
                               input=x.raw, capture_output=True, timeout=120, cwd=PROJECT)
            if rep == 0:
                outcomes[f"exit {p.returncode}"] += 1
        rates.append(len(letters) / (time.perf_counter() - t0))
        # the cost of starting: interpreter, imports, config (no letter)
        s0 = time.perf_counter()
        subprocess.run([*SUPPORTD, "--config", cfg, "check-config"], capture_output=True,
                       timeout=60, cwd=PROJECT)
        startup.append(time.perf_counter() - s0)
        shutil.rmtree(root, ignore_errors=True)
    return {"rates": rates, "rate": median(rates), "letters": len(letters),
            "ms_per_letter": 1000 / median(rates),
            "check_config_ms": 1000 * median(startup), "outcomes": dict(outcomes)}
