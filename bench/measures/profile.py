"""Where the time goes: py-spy (bench/.tools-venv, from PyPI) over the in-process
ingest (wall clock, I/O waits included), by pipeline stage; and, when measurement 3
ran, over `supportd run` during its first paced run (samples of whichever thread
holds the GIL), by thread. `collapse` turns py-spy's raw stacks into shares.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from bench.harness.children import run_child
from bench.harness.paths import BENCH, WORK

TOOLS_VENV = BENCH / ".tools-venv"
SMTP_RAW = WORK / "profile-smtp.txt"  # written by measures/smtp.py
SPY_RATE = 250
ROLES = (("drain (daemon/pipeline/runner.py)", "pipeline thread (runner.drain)"),
         ("flush (daemon/outbound/outbox.py)", "outbox thread (outbox.flush)"),
         ("sweep (daemon/service/sweep.py)", "outbox thread (sweep)"),
         ("accept (daemon/intake/ingest.py)", "spool writes (default executor, ingest.accept)"),
         ("_run_once (asyncio/base_events.py)", "event loop (SMTP sessions)"))


STAGES = tuple((f"run (daemon/pipeline/steps/{st}.py)", f"step {st}") for st in (
    "parse", "screen", "thread", "reply_loop", "identify", "classify", "attachments", "store",
    "answer")) + (
    ("_account (daemon/pipeline/runner.py)", "Inbound row"),
    ("Spool.accept (daemon/storage/spool.py)", "spool write (fsync'd)"),
    ("Spool.read (daemon/storage/spool.py)", "spool read"),
    ("already_done (daemon/pipeline/runner.py)", "already-done check"),
    ("_finish (daemon/pipeline/runner.py)", "move to the store (fsync'd)"),
    ("unit_of_work (daemon/storage/db.py)", "begin / commit (SQLite fsync)"))


def _frame_names(frames: list[str]) -> list[str]:
    """`function (path)` of each frame, the line number dropped."""
    names = []
    for f in frames:
        name = f.split(" (")[0]
        where = f[f.find("(") + 1:f.rfind(":")] if "(" in f else ""
        names.append(f"{name} ({where})" if where else name)
    return names


def collapse(raw: Path, scope: str | None = None,
             exclude: tuple[str, ...] = ("warm_desk", "make_desk"),
             markers: tuple[tuple[str, str], ...] = ROLES) -> dict[str, Any]:
    """py-spy raw (collapsed) stacks → shares of samples by function.

    `scope`: keep only stacks through a frame containing this text; stacks through
    an `exclude` frame (the untimed warm-up and desk set-up) are dropped."""
    incl: Counter[str] = Counter()
    self_: Counter[str] = Counter()
    roles: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith(("thread (", "process "))]
        if scope and not any(scope in f for f in frames):
            continue
        if any(x in f for f in frames for x in exclude):
            continue
        n = int(count)
        total += n
        names = _frame_names(frames)
        for name in set(names):
            incl[name] += n
        roles[next((role for mark, role in markers if any(mark in f for f in names)),
                   "other")] += n
        if names:
            self_[names[-1]] += n
    return {"samples": total, "roles": {k: v / total for k, v in roles.most_common()}
            if total else {},
            "inclusive": [(k, v / total) for k, v in incl.most_common(60)] if total else [],
            "self": [(k, v / total) for k, v in self_.most_common(25)] if total else []}


def ensure_pyspy() -> Path | None:
    spy = TOOLS_VENV / "bin" / "py-spy"
    if spy.exists():
        return spy
    subprocess.run(["python3", "-m", "venv", str(TOOLS_VENV)], capture_output=True)
    p = subprocess.run([str(TOOLS_VENV / "bin" / "pip"), "install", "--quiet", "py-spy"],
                       capture_output=True, timeout=600)
    return spy if p.returncode == 0 and spy.exists() else None


def measure(sz: dict[str, Any], seed: int, pg: str | None) -> dict[str, Any]:
    spy = ensure_pyspy()
    if spy is None:
        return {"error": "py-spy could not be installed"}
    out = {}
    raw = WORK / "profile-ingest.txt"
    run_child("ingest", {"n": sz["profile_n"], "seed": seed, "reps": 1, "label": "profile"},
              wrap=[str(spy), "record", "--idle", "--format", "raw", "-r", str(SPY_RATE), "-o",
                    str(raw), "--"])
    out["ingest"] = collapse(raw, scope="ingest_now", markers=STAGES)
    return out


def add_smtp_profile(res: dict[str, Any], sz: dict[str, Any]) -> None:
    """Put the profile of the paced SMTP run (if taken) into the results."""
    if not SMTP_RAW.exists():
        return
    res.setdefault("profile", {})
    if isinstance(res["profile"], dict):
        prof = collapse(SMTP_RAW)
        # --gil: a sample only when some thread holds the GIL
        prof["gil_busy"] = prof["samples"] / (SPY_RATE * (sz["smtp_seconds"] + 2))
        res["profile"]["smtp_daemon"] = prof
