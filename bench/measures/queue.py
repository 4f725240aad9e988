"""Measurement 2, the daemon's own queue: `spool.accept` of every letter (fsync'd,
what the listener does), then `runner.drain` (pipeline, commit, acknowledgement
queued); on SQLite and PostgreSQL, and on PostgreSQL by 1 and 2 pipeline processes
as `[pipeline] workers` starts them.
"""

from __future__ import annotations

import resource
import shutil
import time
from collections import Counter
from typing import Any

from bench import corpus
from bench.harness.children import run_child
from bench.harness.desks import configure_logs, letters_for, make_desk, warm_desk
from bench.harness.paths import WORK
from bench.harness.postgres import url_factory
from bench.harness.stats import median


def child_queue(a: dict[str, Any]) -> dict[str, Any]:
    """The daemon's queue: accept into incoming/ (fsync'd), then one drain."""
    from daemon.intake.ingest import accept
    from daemon.pipeline import runner
    from daemon.storage.spool import Envelope

    letters = letters_for(a["n"], a["seed"])
    if a.get("procs"):
        # Processes finish letters out of order, so tickets get other numbers than
        # the corpus expects and its replies would name other people's tickets:
        # the process figures are taken on the letters that are not replies.
        letters = [x for x in letters if x.kind not in ("reply", "autoreply")]
    url_for, pg = url_factory(a)
    root = WORK / f"queue-{a['label']}"
    accept_rates, drain_rates, total_rates, outcomes = [], [], [], Counter()
    cpu: list[float] = []  # CPU ms a letter of the pipeline processes (with "procs")
    try:
        for rep in range(a["reps"]):
            url, drop = url_for()
            app = make_desk(root, url)
            if a.get("blobs"):  # `[storage] blobs`: the raw letters into the database
                _keep_blobs(app, a["blobs"])
            configure_logs(app)
            warm_desk(app)
            t0 = time.perf_counter()
            cpu0 = _children_cpu()
            for x in letters:
                accept(app, x.raw, Envelope(source="smtp", mail_from=x.sender,
                                            rcpt_to=(corpus.DESK,), peer="127.0.0.1"))
            t1 = time.perf_counter()
            # With "procs": pipeline processes, as `[pipeline] workers` starts them.
            results = (_drain_in_processes(app, a["procs"]) if a.get("procs")
                       else runner.drain(app))
            t2 = time.perf_counter()
            cpu.append(1000 * (_children_cpu() - cpu0) / len(letters))
            assert len(results) == len(letters), (len(results), len(letters))
            if rep == 0:
                outcomes.update(r.outcome for r in results)
            accept_rates.append(len(letters) / (t1 - t0))
            drain_rates.append(len(letters) / (t2 - t1))
            total_rates.append(len(letters) / (t2 - t0))
            app.close()
            drop()
            shutil.rmtree(root, ignore_errors=True)
    finally:
        if pg:
            pg.drop_all()
    return {"accept_rates": accept_rates, "drain_rates": drain_rates, "rates": total_rates,
            "accept_rate": median(accept_rates), "drain_rate": median(drain_rates),
            "rate": median(total_rates), "letters": len(letters), "outcomes": dict(outcomes),
            "procs_cpu_ms": median(cpu) if a.get("procs") else None}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _keep_blobs(app: Any, where: str) -> None:
    """Rewrite the desk's config with `[storage] blobs = WHERE` and take it on."""
    from pathlib import Path

    from daemon.config import loader as config_mod

    path = Path(app.config.source)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[storage]\n", f'[storage]\nblobs = "{where}"\n', 1),
                    encoding="utf-8")
    app.reconfigure(config_mod.load(path))


def _drain_in_processes(app: Any, procs: int) -> list[Any]:
    """What `supportd run` does with `[pipeline] workers = procs`: that many processes,
    each with its own App on the same config, draining the one spool. Started and
    connected first; the clock (the caller's) runs from the moment they are told to go."""
    import multiprocessing as mp

    from daemon.pipeline import runner

    ctx = mp.get_context("fork")
    ready, go, out = ctx.Barrier(procs + 1), ctx.Event(), ctx.Queue()
    source = app.config.source

    def work() -> None:
        from daemon.app import App
        from daemon.config import loader as config_mod
        from daemon.storage import db

        mine = App(config_mod.load(source))
        mine.spool.ensure()  # its own claim folder
        db.ping(mine.engine)
        ready.wait()
        go.wait()
        out.put([(r.spool_id, r.outcome, r.reason, r.tid) for r in runner.drain(mine)])
        mine.close()

    app.engine.dispose()  # no pooled connection crosses the fork
    kids = [ctx.Process(target=work) for _ in range(procs)]
    for k in kids:
        k.start()
    ready.wait()
    go.set()
    results = [runner.Result(*r) for _ in kids for r in out.get(timeout=600)]
    for k in kids:
        k.join(60)
    return results


def measure(sz: dict[str, Any], seed: int, pg: str | None) -> dict[str, Any]:
    base = {"n": sz["n"], "seed": seed, "reps": sz["reps"]}
    return {
        "sqlite": run_child("queue", {**base, "label": "sqlite"}),
        "postgresql": run_child("queue", {**base, "label": "pg", "pg": pg}) if pg else None,
        # Pipeline processes ([pipeline] workers, PostgreSQL only), new letters only:
        "postgresql_procs": {str(n): run_child("queue", {**base, "label": f"pg-{n}p", "pg": pg,
                                                    "procs": n}) for n in (1, 2)}
        if pg else None,
        # The same with the raw letters kept in the database (issue 14, several hosts).
        "postgresql_procs_blobs": {str(n): run_child("queue", {
            **base, "label": f"pg-{n}p-blobs", "pg": pg, "procs": n, "blobs": "database"})
            for n in (1, 2)} if pg else None,
    }
