"""Which scheduled letters are due now: the weekly and monthly reports, the digest.

Pure: the moment, the `[reports]` times and the production calendar in, the runs
out. A run is identified by its job and key (the week's Monday, the month, the
day): the service records each run it sent (`scheduled_runs`), so a run goes out
once, and one not sent (the daemon down, a rendering that failed) is tried on
every sweep until `catch_up` after its time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from daemon.config.schedules import Schedules


@dataclass(frozen=True)
class Run:
    job: str  # weekly | monthly | digest
    key: str
    at: datetime  # when it fell due
    first: date  # the report's period (the digest: its day)
    last: date


def _at(day: date, t: time, tz: tzinfo) -> datetime:
    return datetime.combine(day, t, tzinfo=tz)


def weekly_run(local: datetime, weekday: int, t: time) -> Run:
    """The latest weekly run at or before `local`: the seven days before its day."""
    day = local.date() - timedelta(days=(local.weekday() - weekday) % 7)
    if _at(day, t, local.tzinfo) > local:  # type: ignore[arg-type]
        day -= timedelta(days=7)
    last = day - timedelta(days=1)
    return Run("weekly", day.isoformat(), _at(day, t, local.tzinfo),  # type: ignore[arg-type]
               last - timedelta(days=6), last)


def monthly_run(local: datetime, mday: int, t: time) -> Run:
    """The latest monthly run at or before `local`: the whole month before its month."""
    month = local.date().replace(day=1)
    if _at(month.replace(day=mday), t, local.tzinfo) > local:  # type: ignore[arg-type]
        month = (month - timedelta(days=1)).replace(day=1)
    last = month - timedelta(days=1)
    first = last.replace(day=1)
    return Run("monthly", f"{first:%Y-%m}",
               _at(month.replace(day=mday), t, local.tzinfo),  # type: ignore[arg-type]
               first, last)


def due_runs(now: datetime, schedules: Schedules, tz: tzinfo,
             working_day: Callable[[date], bool], catch_up: timedelta) -> list[Run]:
    """The runs whose time has come and not passed by more than `catch_up`."""
    local = now.astimezone(tz)
    runs = []
    if schedules.weekly is not None:
        runs.append(weekly_run(local, *schedules.weekly))
    if schedules.monthly is not None:
        runs.append(monthly_run(local, *schedules.monthly))
    if schedules.digest is not None and working_day(local.date()):
        today = local.date()
        runs.append(Run("digest", today.isoformat(), _at(today, schedules.digest, tz),
                        today, today))
    return [r for r in runs if r.at <= local and local - r.at <= catch_up]
