"""The days that are not ordinary in a stretch of the working calendar (§2.1, §7).

An acknowledgement names a deadline counted on the production calendar; when a
shortened day before a holiday, a holiday on a weekday or an admin's override lies
between the clock's start and the deadline, the letter says so with the real hours
(`days_that_differ`). `supportd calendar show YEAR` lists the same for a year
(`year_days`). Pure: a calendar and dates in, values out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from daemon.sla.business_hours import DayKind, WorkingCalendar

ORDINARY = frozenset({DayKind.WORKING, DayKind.WEEKEND})


@dataclass(frozen=True)
class Day:
    day: date
    kind: str  # a `DayKind` value
    hours: tuple[time, time] | None  # working hours; None: not a working day

    @property
    def working(self) -> bool:
        return self.hours is not None


def day_of(calendar: WorkingCalendar, d: date) -> Day:
    return Day(d, calendar.day_kind(d), calendar.hours_of(d))


def differs(calendar: WorkingCalendar, day: Day) -> bool:
    """A day whose hours are not the usual ones for its weekday (a holiday on a
    Sunday changes nothing)."""
    usual = (calendar.day_start, calendar.day_end) if day.day.weekday() < 5 else None
    return day.hours != usual


def _dates(first: date, last: date) -> Iterator[date]:
    d = first
    while d <= last:
        yield d
        d += timedelta(days=1)


def days_that_differ(calendar: WorkingCalendar, start: datetime, due: datetime) -> list[Day]:
    """The unusual days from the clock's start to the deadline, both included."""
    first, last = start.astimezone(calendar.tz).date(), due.astimezone(calendar.tz).date()
    if (last - first).days > 400:  # a development deadline is weeks, never years
        last = first + timedelta(days=400)
    return [day for d in _dates(first, last) if differs(calendar, day := day_of(calendar, d))]


def year_days(calendar: WorkingCalendar, year: int) -> list[Day]:
    """Every day of `year`."""
    return [day_of(calendar, d) for d in _dates(date(year, 1, 1), date(year, 12, 31))]


def working_hours(days: list[Day]) -> float:
    """The working hours of these days."""
    total = timedelta()
    for day in days:
        if day.hours is not None:
            start, end = day.hours
            total += datetime.combine(day.day, end) - datetime.combine(day.day, start)
    return total.total_seconds() / 3600
