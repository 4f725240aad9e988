"""Measurement 2, in-process: `ingest_now` per letter (what `supportd ingest` runs
after its start-up) on SQLite and PostgreSQL, each repetition on a fresh warmed desk;
and what durability costs: the same with fsync switched off (a diagnostic, not a mode
of supportd), the spool's fsyncs counted, and one fsync of this disk timed alone.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from typing import Any

from bench.harness.children import run_child
from bench.harness.desks import configure_logs, letters_for, make_desk, warm_desk
from bench.harness.paths import WORK
from bench.harness.postgres import url_factory
from bench.harness.stats import median


def _no_fsync() -> None:
    """Diagnostic only: what the rate would be if durability were free."""
    os.fsync = lambda fd: None  # type: ignore[assignment]
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _off(dbapi_conn: Any, _record: Any) -> None:
        if type(dbapi_conn).__module__.startswith("sqlite3"):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA synchronous=OFF")
            cur.close()
        else:
            with dbapi_conn.cursor() as cur:
                cur.execute("SET synchronous_commit = off")
            dbapi_conn.commit()


def child_ingest(a: dict[str, Any]) -> dict[str, Any]:
    """In-process `ingest_now` per letter, as `supportd ingest` does after start-up."""
    from daemon.intake.ingest import ingest_now
    from daemon.storage.spool import Envelope

    if a.get("nofsync"):
        _no_fsync()
    real_fsync, fsyncs = os.fsync, [0]

    def counting_fsync(fd: int) -> None:
        fsyncs[0] += 1
        real_fsync(fd)

    os.fsync = counting_fsync  # type: ignore[assignment]
    letters = letters_for(a["n"], a["seed"])
    url_for, pg = url_factory(a)
    root = WORK / f"ingest-{a['label']}"
    rates, outcomes = [], Counter()
    per_letter_fsyncs = float("nan")
    try:
        for rep in range(a["reps"]):
            url, drop = url_for()
            app = make_desk(root, url)
            configure_logs(app)
            warm_desk(app)
            counted = fsyncs[0]
            started = time.perf_counter()
            for x in letters:
                r = ingest_now(app, x.raw, Envelope(source="ingest", mail_from=x.sender))
                if rep == 0:
                    outcomes[f"{x.kind}->{r.outcome}:{r.reason.split(';')[0].split(':')[0]}"] += 1
            elapsed = time.perf_counter() - started
            per_letter_fsyncs = (fsyncs[0] - counted) / len(letters)
            rates.append(len(letters) / elapsed)
            app.close()
            drop()
            shutil.rmtree(root, ignore_errors=True)
    finally:
        if pg:
            pg.drop_all()
    return {"rates": rates, "rate": median(rates), "letters": len(letters),
            "ms_per_letter": 1000 / median(rates), "outcomes": dict(outcomes),
            "spool_fsyncs_per_letter": per_letter_fsyncs}


def child_fsync(a: dict[str, Any]) -> dict[str, Any]:
    """What one fsync costs on the disk the spool is on: a 3 KB file, then its folder."""
    d = WORK / "fsync-probe"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    files, dirs = [], []
    for i in range(a.get("n", 60)):
        fd = os.open(d / f"f{i}", os.O_WRONLY | os.O_CREAT, 0o640)
        os.write(fd, b"x" * 3000)
        t0 = time.perf_counter()
        os.fsync(fd)
        files.append(time.perf_counter() - t0)
        os.close(fd)
        dfd = os.open(d, os.O_RDONLY)
        t0 = time.perf_counter()
        os.fsync(dfd)
        dirs.append(time.perf_counter() - t0)
        os.close(dfd)
    # Making an empty file (the spool's, the outbox journal's, a Maildir's): wall and
    # CPU (the kernel's, mostly), each one in a folder of its own kind.
    made, made_cpu = [], []
    for i in range(a.get("n", 60)):
        t0, c0 = time.perf_counter(), time.process_time()
        fd = os.open(d / f"new{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        made.append(time.perf_counter() - t0)
        made_cpu.append(time.process_time() - c0)
        os.close(fd)
    shutil.rmtree(d, ignore_errors=True)
    return {"file_ms": 1000 * median(files), "dir_ms": 1000 * median(dirs),
            "create_ms": 1000 * median(made), "create_cpu_ms": 1000 * median(made_cpu)}


def measure(sz: dict[str, Any], seed: int, pg: str | None) -> dict[str, Any]:
    base = {"n": sz["n"], "seed": seed, "reps": sz["reps"]}
    return {
        "fsync": run_child("fsync", {"label": ""}),
        "sqlite": run_child("ingest", {**base, "label": "sqlite"}),
        "postgresql": run_child("ingest", {**base, "label": "pg", "pg": pg}) if pg else None,
        "sqlite_nofsync": run_child("ingest", {**base, "label": "sqlite-nofsync",
                                               "nofsync": True}),
    }
