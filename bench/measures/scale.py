"""Measurement 6, scale: the ingest rate and the threading lookups on a desk that
already holds 1,000,000 tickets (bulk-loaded, bench/bulkload.py) against one that
holds 1,000, on SQLite and PostgreSQL; and the query plans at the big size.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from typing import Any

from bench import corpus
from bench.harness.children import run_child
from bench.harness.desks import configure_logs, make_desk
from bench.harness.paths import WORK
from bench.harness.postgres import url_factory
from bench.harness.stats import median


def child_scale(a: dict[str, Any]) -> dict[str, Any]:
    from bench.bulkload import bulk_load, lookups, plans
    from daemon.intake.ingest import ingest_now
    from daemon.storage.spool import Envelope

    url_for, pg = url_factory(a)
    root = WORK / f"scale-{a['label']}"
    out: dict[str, Any] = {}
    try:
        url, drop = url_for()
        app = make_desk(root, url)
        configure_logs(app)
        started = time.perf_counter()
        bulk_load(app.engine, a["tickets"])
        out["load_seconds"] = time.perf_counter() - started
        letters = corpus.generate(a["letters"] * (a["reps"] + 1), a["seed"],
                                  ticket_base=a["tickets"])
        chunks = [letters[i * a["letters"]:(i + 1) * a["letters"]] for i in range(a["reps"] + 1)]
        for x in chunks[0]:  # warm-up, and the tickets later replies name
            ingest_now(app, x.raw, Envelope(source="ingest", mail_from=x.sender))
        rates, outcomes = [], Counter()
        for chunk in chunks[1:]:
            t0 = time.perf_counter()
            for x in chunk:
                r = ingest_now(app, x.raw, Envelope(source="ingest", mail_from=x.sender))
                outcomes[r.outcome] += 1
            rates.append(len(chunk) / (time.perf_counter() - t0))
        out.update(rates=rates, rate=median(rates), outcomes=dict(outcomes))
        out["lookups"] = lookups(app, a["tickets"], a["lookups"], a["seed"])
        out["plans"] = plans(app)
        app.close()
        drop()
    finally:
        if pg:
            pg.drop_all()
        shutil.rmtree(root, ignore_errors=True)
    return out


def measure(sz: dict[str, Any], seed: int, pg: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for db_name, pg_url in (("sqlite", None), ("postgresql", pg)):
        if db_name == "postgresql" and not pg:
            continue
        for label, tickets in (("small", sz["scale_small"]), ("big", sz["scale_big"])):
            try:
                out[f"{db_name}_{label}"] = run_child("scale", {
                    "tickets": tickets, "letters": sz["scale_letters"], "reps": sz["reps"],
                    "seed": seed, "lookups": sz["lookups"], "label": f"{db_name}-{label}",
                    "pg": pg_url}, timeout=1800)
            except Exception as exc:  # noqa: BLE001 - keep the other sizes' figures
                out[f"{db_name}_{label}"] = {"error": f"{type(exc).__name__}: "
                                                      f"{str(exc)[-1500:]}"}
    return out
