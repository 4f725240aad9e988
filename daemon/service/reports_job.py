"""The scheduled letters: the report to the head of support, the agents' digests.

`send_due(app)` runs on every deadline sweep (daemon/service/mailer.py) and sends
what `reports.schedule` says is due and `scheduled_runs` says was not sent yet. A
run is one transaction: its `scheduled_runs` row and its letters, so it goes out
once even with several daemons (the row is unique), and a run that fails (a chart
that cannot be drawn, a template error) leaves no trace but a log line
(`report.failed`) and is tried again on the next sweep. It runs after the sweep's
warnings and apart from the pipeline, so nothing it does holds up an
acknowledgement.
"""

from __future__ import annotations

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daemon.app import App
from daemon.config import schedules
from daemon.config.schema import parse_duration
from daemon.reports import charts, digest, letters, queries, schedule
from daemon.reports.schedule import Run
from daemon.storage import db
from daemon.storage.models import ScheduledRun

log = structlog.get_logger("supportd.reports")


def send_due(app: App) -> list[str]:
    """Send the runs that are due; returns "job:key" of those sent now."""
    now = app.now()
    cfg = app.config
    runs = schedule.due_runs(now, schedules.of(cfg), cfg.tz,
                             lambda d: app.sla.calendar.hours_of(d) is not None,
                             parse_duration(cfg.reports.catch_up))
    sent = []
    for run in runs:
        if _done(app, run):
            continue
        try:
            count = _send(app, run)
        except IntegrityError:
            continue  # another daemon sent it a moment ago
        except Exception as exc:
            if db.is_temporary(exc):
                raise  # the database is away: the sweep says so
            log.error("report.failed", job=run.job, key=run.key,
                      error=f"{type(exc).__name__}: {exc}"[:300],
                      hint="tried again on the next sweep")
            continue
        log.info("report.sent", job=run.job, key=run.key, letters=count)
        sent.append(f"{run.job}:{run.key}")
    return sent


def _done(app: App, run: Run) -> bool:
    with app.sessions() as session:
        return session.scalar(select(ScheduledRun.id).where(
            ScheduledRun.job == run.job, ScheduledRun.run_key == run.key)) is not None


def _mark(session: Session, run: Run, app: App, count: int) -> None:
    db.insert_row(session, ScheduledRun.__table__, dict(  # type: ignore[arg-type]
        job=run.job, run_key=run.key, done_at=app.now(), letters=count))


def _send(app: App, run: Run) -> int:
    now = app.now()
    if run.job == "digest":
        with db.unit_of_work(app.sessions) as session:
            count = digest.queue_digests(session, app.notifier, now)
            _mark(session, run, app, count)
        return count
    with app.sessions() as session:
        report = queries.make(session, run.first, run.last, now, tz=app.config.tz,
                              working=app.sla.calendar.working_between)
    drawn: dict[str, bytes] = {}
    if app.config.reports.charts:
        why = charts.available()
        if why:  # check-config says so; the report still goes, without its charts
            log.warning("report.charts_unavailable", error=why)
        else:
            drawn = charts.draw(report)
    recipients = letters.head_addresses(app.config)
    if not recipients:
        log.warning("report.no_recipient", job=run.job, key=run.key,
                    hint="set [reports] to, or give a [[staff]] member role = \"head\"")
    with db.unit_of_work(app.sessions) as session:
        letters.queue_report(session, app.notifier, report, drawn, recipients)
        _mark(session, run, app, len(recipients))
    return len(recipients)
