"""The facts of the machine a figure was taken on, written beside the figures: CPU
model and cores, Python, SQLite and PostgreSQL versions, the kernel, the load, the
date, and the commit measured (with the files of daemon/ changed on top of it)."""

from __future__ import annotations

import contextlib
import os
import platform
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness.paths import PROJECT
from bench.harness.postgres import pg_version


def cpu_model() -> str:
    """The first `model name` of /proc/cpuinfo, "" when there is none."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return ""


def _git(*a: str) -> str:
    p = subprocess.run(["git", *a], capture_output=True, cwd=PROJECT)
    return p.stdout.decode().strip()


def bench_facts(pg: str | None) -> dict[str, Any]:
    """What bench/run.py records in results.json and RESULTS.md."""
    load = os.getloadavg()
    dirty = _git("status", "--short", "--", "daemon").splitlines()
    return {"commit": _git("rev-parse", "--short", "HEAD"), "dirty": dirty,
            "cores": os.cpu_count(), "cpu": cpu_model(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "postgresql": pg_version(pg) if pg else "not run",
            "kernel": platform.release(), "load_before": round(load[0], 2),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def soak_facts() -> dict[str, str]:
    """What bench/soak.py writes under its table (Postfix's version among them)."""
    def out(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
        except OSError:
            return "?"

    return {"postfix": out("postconf", "-d", "-h", "mail_version"),
            "python": platform.python_version(), "nproc": out("nproc"),
            "cpu": cpu_model() or "?", "date": out("date", "-u"),
            "load": " ".join(out("cat", "/proc/loadavg").split()[:3])}
