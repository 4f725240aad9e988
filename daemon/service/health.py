"""Is the desk working? The checks of `supportd health` and the gauges of the metrics.

Each check says what is wrong in one line an admin can act on: the database does
not answer (or is not migrated), a received letter has waited in the spool past
`[health] spool_max_age` (no pipeline running, or it keeps failing), a letter due
to be sent has waited past `[health] outbox_max_age` (no sender running, or the
relay refuses), the production calendar has no decree data for this year.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, text

from daemon.app import App
from daemon.config.schema import parse_duration
from daemon.storage.models import Outgoing


@dataclass(frozen=True)
class SpoolState:
    depth: int  # letters received and not yet through the pipeline
    oldest_seconds: float  # 0 when empty


@dataclass(frozen=True)
class OutboxState:
    queued: int
    oldest_due_seconds: float  # how long the longest-waiting due letter has waited


@dataclass
class Health:
    problems: list[str] = field(default_factory=list)
    checks: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def spool_state(app: App) -> SpoolState:
    """The letters in incoming/ and in the workers' claims, by their files' age."""
    now = time.time()
    ages = []
    for folder in (app.spool.incoming, app.spool.processing):
        for root, _, files in os.walk(folder):
            for name in files:
                try:
                    ages.append(now - os.stat(os.path.join(root, name)).st_mtime)
                except FileNotFoundError:
                    continue  # processed meanwhile
    return SpoolState(len(ages), max(ages, default=0.0))


def outbox_state(app: App, now: datetime) -> OutboxState:
    with app.sessions() as session:
        queued = session.scalar(select(func.count()).where(Outgoing.status == "queued"))
        due = session.scalar(select(func.min(Outgoing.next_attempt_at)).where(
            Outgoing.status == "queued", Outgoing.next_attempt_at <= now))
    waited = (now - due).total_seconds() if due is not None else 0.0
    return OutboxState(int(queued or 0), max(0.0, waited))


def check(app: App) -> Health:
    h = Health()
    now = app.now()
    cfg = app.config
    try:
        with app.sessions() as session:
            session.execute(text("SELECT 1"))
        outbox = outbox_state(app, now)  # a table missing: not migrated
        h.checks["database"] = "ok"
    except Exception as exc:
        h.checks["database"] = "unreachable"
        h.problems.append(f"database: unreachable or not migrated "
                          f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})")
        outbox = None
    spool = spool_state(app)
    h.checks["spool"] = {"depth": spool.depth, "oldest_seconds": round(spool.oldest_seconds)}
    limit = parse_duration(cfg.health.spool_max_age)
    if spool.depth and spool.oldest_seconds > limit.total_seconds():
        h.problems.append(f"spool: a letter has waited {_words(spool.oldest_seconds)} "
                          f"(> [health] spool_max_age {cfg.health.spool_max_age}); is "
                          "`supportd run` running, are its workers failing?")
    if outbox is not None:
        h.checks["outbox"] = {"queued": outbox.queued,
                              "oldest_due_seconds": round(outbox.oldest_due_seconds)}
        limit = parse_duration(cfg.health.outbox_max_age)
        if outbox.oldest_due_seconds > limit.total_seconds():
            h.problems.append(
                f"outbox: a letter due to be sent has waited "
                f"{_words(outbox.oldest_due_seconds)} (> [health] outbox_max_age "
                f"{cfg.health.outbox_max_age}); is the relay refusing, is the daemon running?")
    year = now.astimezone(cfg.tz).year
    try:
        known = app.sla.calendar.knows_year(year)
    except Exception as exc:
        known = False
        h.problems.append(f"calendar: cannot be read ({type(exc).__name__}: {exc})")
    h.checks["calendar"] = {"year": year, "decree_data": known}
    if not known:
        h.problems.append(f"calendar: no data on the days off moved by decree in {year}; "
                          "update the holidays package or add [calendar] overrides")
    return h


def _words(seconds: float) -> str:
    return str(timedelta(seconds=int(seconds)))
