"""Measurement 2, as an MTA pipe runs supportd: `supportd ingest` as a subprocess per
letter (interpreter, imports, config, then one letter), and the cost of starting
alone (`supportd check-config`, no letter).

`thin`: the same with `supportd run` up on the desk (issue 14): each `ingest` only
spools its letter and wakes the daemon (daemon/intake/thin_pipe.py). Timed: the
hand-over (one process at a time, and two at once as Postfix's pipe runs them with
maxproc 2), the CPU time those processes used (the machine is shared: CPU time is
the figure that load does not inflate), and the drain, until the daemon has
committed the last letter.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.harness.daemon import SUPPORTD
from bench.harness.desks import DeskDaemon, letters_for, make_desk, warm_desk
from bench.harness.paths import PROJECT, WORK
from bench.harness.stats import median


def measure(sz: dict[str, Any], seed: int, pg: str | None) -> dict[str, Any]:
    letters = letters_for(sz["pipe_n"], seed)
    root = WORK / "pipe"
    rates, startup, cpu = [], [], []
    outcomes: Counter[str] = Counter()
    for rep in range(sz["reps"]):
        app = make_desk(root)
        warm_desk(app)
        cfg = str(root / "supportd.toml")
        app.close()
        t0, cpu0 = time.perf_counter(), _children_cpu()
        for x in letters:
            p = subprocess.run([*SUPPORTD, "--config", cfg, "ingest", "--sender", x.sender],
                               input=x.raw, capture_output=True, timeout=120, cwd=PROJECT)
            if rep == 0:
                outcomes[f"exit {p.returncode}"] += 1
        rates.append(len(letters) / (time.perf_counter() - t0))
        cpu.append(1000 * (_children_cpu() - cpu0) / len(letters))
        # the cost of starting: interpreter, imports, config (no letter)
        s0 = time.perf_counter()
        subprocess.run([*SUPPORTD, "--config", cfg, "check-config"], capture_output=True,
                       timeout=60, cwd=PROJECT)
        startup.append(time.perf_counter() - s0)
        shutil.rmtree(root, ignore_errors=True)
    return {"rates": rates, "rate": median(rates), "letters": len(letters),
            "ms_per_letter": 1000 / median(rates),
            "check_config_ms": 1000 * median(startup), "outcomes": dict(outcomes),
            "cpu_ms": median(cpu), "cpu_mss": cpu}


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's children that have ended."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _proc_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) so far of running processes."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _thin_run(d: DeskDaemon, letters: list[Any], procs: int,
              outcomes: Counter[str]) -> dict[str, float]:
    cfg = str(d.config)
    done_before = d.processed()
    daemon_pids = [d.pid, *d.workers()]
    cpu0, dcpu0 = _children_cpu(), _proc_cpu(daemon_pids)

    def one(x: Any) -> None:
        p = subprocess.run([*SUPPORTD, "--config", cfg, "ingest", "--sender", x.sender],
                           input=x.raw, capture_output=True, timeout=120, cwd=PROJECT)
        outcomes[f"exit {p.returncode} {p.stdout.split(b' ')[0].decode()}"] += 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(procs) as pool:
        list(pool.map(one, letters))
    handed = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    d.wait_for(lambda: d.processed() - done_before >= len(letters), timeout=300)
    drained = time.perf_counter() - t0
    return {"rate": len(letters) / handed, "cpu_ms": 1000 * cpu / len(letters),
            "drain_rate": len(letters) / drained,
            "daemon_cpu_ms": 1000 * (_proc_cpu(daemon_pids) - dcpu0) / len(letters)}


def measure_thin(sz: dict[str, Any], seed: int, pg: str | None) -> dict[str, Any]:
    """`supportd ingest` beside a running daemon (SQLite desk)."""
    n = sz.get("pipe_thin_n", 60)
    letters = letters_for(2 * n, seed)
    root = WORK / "pipe-thin"
    runs: dict[str, list[dict[str, float]]] = {"one": [], "two": []}
    outcomes: Counter[str] = Counter()
    for _ in range(sz["reps"]):
        d = DeskDaemon(root)
        try:
            d.start_logged(root / "daemon.log")
            d.wait_for((root / "spool" / "supportd.sock").exists)
            runs["one"].append(_thin_run(d, letters[:n], 1, outcomes))
            runs["two"].append(_thin_run(d, letters[n:], 2, outcomes))
        finally:
            d.shut()
            shutil.rmtree(root, ignore_errors=True)
    out: dict[str, Any] = {"letters": n, "outcomes": dict(outcomes),
                           "load_after": os.getloadavg()[0]}
    for mode, rs in runs.items():
        for key in ("rate", "cpu_ms", "drain_rate", "daemon_cpu_ms"):
            out[f"{mode}_{key}s"] = [r[key] for r in rs]
            out[f"{mode}_{key}"] = median([r[key] for r in rs])
    return out
