"""The periodic work of `supportd run`, on APScheduler: one line in `JOBS` a job.

A job is a name, when it runs (a trigger built from the config, or None: off), what
it runs (a function of the App), and one line saying what it is for. APScheduler
runs them in one background thread of the listener's process, one at a time,
each at most once at a time; a run missed while the daemon was busy or stopped is
run once, not once per missed time (coalesce). A job does not run while the
database is away (the workers report it), and one that fails is logged and runs
again at its next time. SIGHUP reschedules every job from the new config.
`supportd config show` prints the schedules (`describe`).

Adding a job: a function `(App) -> object` and one `Job(...)` line in `JOBS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from daemon.config.schema import Config, parse_duration

if TYPE_CHECKING:
    from daemon.app import App

log = structlog.get_logger("supportd.schedule")


def every(key: str) -> Callable[[Config], BaseTrigger | None]:
    """A trigger every `section.key` (a Duration key); "0s" switches the job off."""
    section, name = key.split(".")

    def trigger(config: Config) -> BaseTrigger | None:
        seconds = parse_duration(getattr(getattr(config, section), name)).total_seconds()
        return IntervalTrigger(seconds=seconds, timezone=config.tz) if seconds > 0 else None

    trigger.__doc__ = f"every {key}"
    return trigger


def _sweep(app: App) -> object:
    from daemon.service import sweep

    return sweep.sweep(app)


def _spool_retention(app: App) -> object:
    s = app.config.storage
    removed = app.spool.expire(app.now(), shunted=parse_duration(s.keep_shunted),
                               tmp=parse_duration(s.keep_tmp))
    if any(removed.values()):
        log.info("spool.expired", **removed)
    return removed


def _reports(app: App) -> object:
    from daemon.service import reports_job

    return reports_job.send_due(app)


@dataclass(frozen=True)
class Job:
    name: str
    trigger: Callable[[Config], BaseTrigger | None]
    run: Callable[[App], object]
    doc: str
    at_start: bool = False  # also run once right after the start


JOBS: tuple[Job, ...] = (
    Job("deadline_sweep", every("scheduler.sweep_interval"), _sweep,
        "warn assignees before reaction deadlines, the head after", at_start=True),
    Job("spool_retention", every("scheduler.retention_interval"), _spool_retention,
        "delete shunted letters past storage.keep_shunted, half-written files past "
        "storage.keep_tmp"),
    Job("reports", every("scheduler.sweep_interval"), _reports,
        "the report to the head and the agents' digests when due (reports.weekly/monthly/digest)"),
)


def describe(config: Config) -> str:
    """The schedules under `config`, one line each (for `config show`)."""
    lines = ["jobs run by `supportd run` (daemon/service/schedule.py):"]
    for job in JOBS:
        trigger = job.trigger(config)
        when = "off" if trigger is None else str(trigger)
        lines.append(f"  {job.name}: {when} ({job.trigger.__doc__}): {job.doc}")
    return "\n".join(lines)


class Schedule:
    """The jobs of one `supportd run`, in one background thread."""

    def __init__(self, app: App, db_healthy: Callable[[], bool],
                 jobs: tuple[Job, ...] = JOBS, woken: Callable[[], None] = lambda: None
                 ) -> None:
        self.app = app
        self.db_healthy = db_healthy
        self.woken = woken  # the outbox: a job may have queued letters
        self.jobs = jobs
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=app.config.tz)

    def start(self) -> None:
        now = datetime.now(self.app.config.tz)
        for job in self.jobs:
            trigger = job.trigger(self.app.config)
            if trigger is None:
                continue
            first: dict[str, Any] = {"next_run_time": now} if job.at_start else {}
            self.scheduler.add_job(self._run, trigger, args=(job,), id=job.name, name=job.name,
                                   **first)
        self.scheduler.start()
        log.info("schedule.started", jobs=[j.id for j in self.scheduler.get_jobs()])

    def reload(self) -> None:
        """Triggers from the new config (SIGHUP): changed ones restart their count."""
        for job in self.jobs:
            trigger = job.trigger(self.app.config)
            present = self.scheduler.get_job(job.name) is not None
            if trigger is None:
                if present:
                    self.scheduler.remove_job(job.name)
            elif present:
                old = self.scheduler.get_job(job.name)
                if str(old.trigger) != str(trigger):
                    self.scheduler.reschedule_job(job.name, trigger=trigger)
            else:
                self.scheduler.add_job(self._run, trigger, args=(job,), id=job.name,
                                       name=job.name)

    def run_now(self, name: str) -> None:
        """Run a job at once (in its thread), as at its time."""
        self.scheduler.modify_job(name, next_run_time=datetime.now(self.app.config.tz))

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)

    def _run(self, job: Job) -> None:
        if not self.db_healthy():
            log.info("job.skipped", job=job.name, why="database unavailable")
            return
        started = datetime.now(self.app.config.tz)
        try:
            result = job.run(self.app)
        except Exception as exc:
            log.warning("job.failed", job=job.name, error=str(exc).splitlines()[0][:300]
                        if str(exc) else repr(exc))
            return
        self.woken()
        took = (datetime.now(self.app.config.tz) - started) / timedelta(milliseconds=1)
        log.debug("job.done", job=job.name, result=repr(result)[:200], ms=round(took))
