"""Working time on the Russian production calendar (regulation §2.1, SPEC "The working calendar").

A `WorkingCalendar` answers two kinds of question: what a given date is (working, weekend,
holiday, a day off moved by decree, a weekend made working, a shortened pre-holiday day)
and how working time flows (the next working moment, a working-time clock, whole working
days, working time elapsed). Public holidays and moved days off come from the `holidays`
package (country RU) plus the decree table below; admins' per-date overrides win over both.

The arithmetic is table-driven: for every day of the tabulated years we keep its working
hours and the cumulative working microseconds and working-day counts up to its end, so a
deadline is two bisects whatever its length. Working time is counted on the local wall
clock of the calendar's zone (Moscow has had no DST since 2014). The table is made on first
use, for the year asked about and one either side, and grows when a date near it is asked
about: `supportd ingest`, a process per letter, tabulates three years, not twenty (and
imports the `holidays` package only then).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import MAXYEAR, MINYEAR, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from itertools import accumulate
from types import MappingProxyType
from zoneinfo import ZoneInfo

MOSCOW = ZoneInfo("Europe/Moscow")
KEPT_YEARS = 50  # a calendar's table grows to this many years, then starts anew

# Non-working public holidays, Labour Code art. 112 part 1 (as amended in 2012).
_ART112 = frozenset({(1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 6), (1, 7), (1, 8),
                     (2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4)})

# Government decrees "О переносе выходных дней": (weekend day whose rest is moved, the weekday
# that becomes a day off instead). A moved-from day that is not itself a holiday becomes a
# working day. The package carries the same data; this table guards against it changing and
# records which weekday a working weekend stands in for (see the art. 95 rule in `_build`).
# 2027 is left to the package: its decree could not be checked independently.
DECREE_TRANSFERS: Mapping[int, tuple[tuple[date, date], ...]] = MappingProxyType({
    # Decree No. 875 of 10.07.2019.
    2020: ((date(2020, 1, 4), date(2020, 5, 4)), (date(2020, 1, 5), date(2020, 5, 5))),
    # Decree No. 1648 of 10.10.2020.
    2021: ((date(2021, 1, 2), date(2021, 11, 5)), (date(2021, 1, 3), date(2021, 12, 31)),
           (date(2021, 2, 20), date(2021, 2, 22))),
    # Decree No. 1564 of 16.09.2021.
    2022: ((date(2022, 1, 1), date(2022, 5, 3)), (date(2022, 1, 2), date(2022, 5, 10)),
           (date(2022, 3, 5), date(2022, 3, 7))),
    # Decree No. 1505 of 29.08.2022.
    2023: ((date(2023, 1, 1), date(2023, 2, 24)), (date(2023, 1, 8), date(2023, 5, 8))),
    # Decree No. 1314 of 10.08.2023.
    2024: ((date(2024, 1, 6), date(2024, 5, 10)), (date(2024, 1, 7), date(2024, 12, 31)),
           (date(2024, 4, 27), date(2024, 4, 29)), (date(2024, 11, 2), date(2024, 4, 30)),
           (date(2024, 12, 28), date(2024, 12, 30))),
    # Decree No. 1335 of 04.10.2024.
    2025: ((date(2025, 1, 4), date(2025, 5, 2)), (date(2025, 1, 5), date(2025, 12, 31)),
           (date(2025, 2, 23), date(2025, 5, 8)), (date(2025, 3, 8), date(2025, 6, 13)),
           (date(2025, 11, 1), date(2025, 11, 3))),
    # Decree of 24.09.2025 on the days off of 2026.
    2026: ((date(2026, 1, 3), date(2026, 1, 9)), (date(2026, 1, 4), date(2026, 12, 31))),
})

_MOVED_FROM = re.compile(r"(\d{2})\.(\d{2})\.(\d{4})")  # "Выходной (перенесено с 20.02.2021)"
_US = 1_000_000
_HOUR_US = 3600 * _US


class DayKind(StrEnum):
    """Why a date has the hours it has; shown by `supportd calendar show`."""

    WORKING = "working"
    PREHOLIDAY = "preholiday"  # a working day before a public holiday, an hour shorter
    TRANSFER = "transfer"  # a weekend day made working by decree
    TRANSFER_PREHOLIDAY = "transfer-preholiday"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"  # a non-working public holiday (art. 112)
    DAYOFF = "dayoff"  # a weekday off: moved by decree, or a holiday that fell on a weekend
    OVERRIDE = "override"  # set by the admin in config


@dataclass(frozen=True)
class DayOverride:
    """An admin's word on one date: off (`hours=None`) or working `(start, end)`."""

    hours: tuple[time, time] | None = None

    def __post_init__(self) -> None:
        if self.hours is not None and not _to_us(self.hours[0]) < _to_us(self.hours[1]):
            raise ValueError(f"override hours {self.hours[0]}-{self.hours[1]}: start must be "
                             "before end")

    @classmethod
    def off(cls) -> DayOverride:
        return cls(None)

    @classmethod
    def working(cls, start: time, end: time) -> DayOverride:
        return cls((start, end))


@dataclass(frozen=True, slots=True)
class _Span:
    """Per-day tables for whole years `first`..`stop - 1`; index 0 is 1 January of `first`."""

    first: int
    stop: int
    lo: int  # ordinal of the first day
    start: list[int]  # working hours as wall-clock microseconds since midnight (0, 0 if off)
    end: list[int]
    cum_end: list[int]  # working microseconds from `lo` to the end of each day
    cnt_end: list[int]  # working days from `lo` up to and including each day
    kinds: list[DayKind]

    def position(self, i: int, wall: int) -> int:
        """Working microseconds from the span's start to the moment `wall` on day `i`."""
        s, e = self.start[i], self.end[i]
        if wall >= e:
            return self.cum_end[i]
        return self.cum_end[i] - (e - max(wall, s))


@dataclass(frozen=True, eq=False)
class WorkingCalendar:
    """Working hours on the Russian production calendar; immutable (only its table of days
    grows, as dates are asked about)."""

    tz: tzinfo = MOSCOW
    day_start: time = time(10)
    day_end: time = time(18)
    shorten_preholiday: bool = True
    overrides: Mapping[date, DayOverride] = field(default_factory=dict)
    years: range | None = None  # tabulated at once; None: on first use (see the docstring)
    _span: _Span | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        if self.day_start.tzinfo is not None or self.day_end.tzinfo is not None:
            raise ValueError("day_start and day_end are wall-clock times without a zone")
        length = _to_us(self.day_end) - _to_us(self.day_start)
        if length <= (_HOUR_US if self.shorten_preholiday else 0):
            raise ValueError(f"working day {self.day_start}-{self.day_end} is too short")
        years = self.years
        if years is not None and (years.step != 1 or len(years) == 0):
            raise ValueError(f"years must be a non-empty range with step 1, not {years}")
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))
        if years is not None:
            object.__setattr__(self, "_span", self._build(years.start, years.stop))

    # -- what a date is ---------------------------------------------------------------

    def hours_of(self, d: date) -> tuple[time, time] | None:
        """The working hours of `d`, or None if it is not a working day."""
        span, i = self._day(d)
        if span.start[i] == span.end[i]:
            return None
        return _to_time(span.start[i]), _to_time(span.end[i])

    def day_kind(self, d: date) -> str:
        """A short reason for `d`'s hours: one of the `DayKind` values."""
        span, i = self._day(d)
        return span.kinds[i]

    # -- working-time arithmetic --------------------------------------------------------

    def next_working_moment(self, dt: datetime) -> datetime:
        """`dt` if it is inside working time, else the start of the next working interval.

        A moment exactly at a day's end is not working time.
        """
        return self._seek(dt, 0, closed=False)

    def add_working(self, dt: datetime, delta: timedelta) -> datetime:
        """The moment `delta` of working time after `dt` (the clock starts at the next working
        moment). Ending exactly at a day's end gives that end (18:00), not the next morning."""
        us = delta // timedelta(microseconds=1)
        if us < 0:
            raise ValueError(f"negative working time {delta}")
        if us == 0:
            return self.next_working_moment(dt)
        return self._seek(dt, us, closed=True)

    def add_working_days(self, dt: datetime, n: int) -> datetime:
        """The same time of day on the `n`-th working day after the clock starts.

        The clock starts at `next_working_moment(dt)`; its day counts as day 0. If that time of
        day lies outside the target day's hours (a shortened or overridden day), the result is
        clamped into them: past the end gives the end, before the start gives the start.
        """
        if n < 0:
            raise ValueError(f"negative number of working days {n}")
        start = self.next_working_moment(dt)
        wall = _wall_us(start)
        span = self._covering(start.year, start.year + 1)
        while True:
            i = start.toordinal() - span.lo
            j = bisect_left(span.cnt_end, span.cnt_end[i] + n)
            if j < len(span.cnt_end):
                return self._at(span, j, min(max(wall, span.start[j]), span.end[j]))
            span = self._longer(span)

    def working_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time elapsed from `a` to `b`; zero if `b` is not after `a`."""
        la, lb = _aware(a).astimezone(self.tz), _aware(b).astimezone(self.tz)
        if lb <= la:
            return timedelta(0)
        span = self._covering(la.year, lb.year + 1)
        pa = span.position(la.toordinal() - span.lo, _wall_us(la))
        pb = span.position(lb.toordinal() - span.lo, _wall_us(lb))
        return timedelta(microseconds=pb - pa)

    def knows_year(self, year: int) -> bool:
        """Is there decree data for `year` (the days off moved by the government)? The
        `holidays` package or our table knows the decree, or the config names a day of
        the year; otherwise only the fixed public holidays are known, and a moved day
        off would be counted as working."""
        if year in DECREE_TRANSFERS or any(d.year == year for d in self.overrides):
            return True
        import holidays

        known = holidays.country_holidays("RU", years=year, language="ru")
        return bool(known.weekend_workdays) or any(
            (d.month, d.day) not in _ART112 for d in known if d.year == year)

    # -- internals ----------------------------------------------------------------------

    def _seek(self, dt: datetime, advance: int, *, closed: bool) -> datetime:
        """The moment `advance` working microseconds after `dt`'s position.

        `closed` lets the result sit at a day's end (a deadline); otherwise a position at a
        day's end means the next day's start (the next working moment).
        """
        local = _aware(dt).astimezone(self.tz)
        o, wall = local.toordinal(), _wall_us(local)
        span = self._covering(local.year, local.year + 1)
        while True:
            i = o - span.lo
            s, e = span.start[i], span.end[i]
            if advance == 0 and s <= wall < e:
                return local  # already working time
            target = span.position(i, wall) + advance
            cum = span.cum_end
            j = bisect_left(cum, target) if closed else bisect_right(cum, target)
            if j < len(cum):
                offset = target - (cum[j] - (span.end[j] - span.start[j]))
                return self._at(span, j, span.start[j] + offset)
            span = self._longer(span)

    def _at(self, span: _Span, j: int, wall: int) -> datetime:
        d = date.fromordinal(span.lo + j)
        return datetime(d.year, d.month, d.day, tzinfo=self.tz) + timedelta(microseconds=wall)

    def _day(self, d: date) -> tuple[_Span, int]:
        span = self._covering(d.year, d.year + 1)
        return span, d.toordinal() - span.lo

    def _covering(self, first: int, stop: int) -> _Span:
        """A span that covers years `first`..`stop - 1`: the kept one if it does."""
        span = self._span
        if span is not None and span.first <= first and stop <= span.stop:
            return span
        return self._tabulate(first, stop)

    def _longer(self, span: _Span) -> _Span:
        """`span` extended forward: a clock ran past its last day."""
        return self._tabulate(span.first, span.stop + max(2, span.stop - span.first))

    def _tabulate(self, first: int, stop: int) -> _Span:
        """A span for years `first`..`stop - 1` and a year either side, kept for next time;
        it takes in the years kept before unless the table would pass `KEPT_YEARS`."""
        lo, hi = first - 1, stop + 1
        kept = self._span
        if kept is not None and max(hi, kept.stop) - min(lo, kept.first) <= KEPT_YEARS:
            lo, hi = min(lo, kept.first), max(hi, kept.stop)
        if lo < MINYEAR or hi > MAXYEAR:
            return self._build(first, stop)  # at the ends of `date`'s range, not kept
        span = self._build(lo, hi)
        # The calendar answers the same from the old span and the new one, so a thread
        # still reading the old one is not disturbed.
        object.__setattr__(self, "_span", span)
        return span

    def _build(self, first: int, stop: int) -> _Span:
        """Tabulate the years `first`..`stop - 1`."""
        import holidays  # here: it loads every country's module, ~50 ms (see the docstring)

        # A year either side: decree data for one year can name days of the next.
        known = holidays.country_holidays("RU", years=range(first - 1, stop + 1), language="ru")
        public = {d for d in known if (d.month, d.day) in _ART112}
        day_off = {d for d in known if d not in public}
        working_weekend = set(known.weekend_workdays)
        # The weekday whose work a working weekend takes over: read from the package's labels
        # for years the decree table lacks.
        stands_for: dict[date, date] = {}
        for d in day_off:
            for m in _MOVED_FROM.finditer(str(known.get(d))):
                moved = date(int(m[3]), int(m[2]), int(m[1]))
                if moved not in public:
                    stands_for[moved] = d
        for pairs in DECREE_TRANSFERS.values():
            for moved, off in pairs:
                day_off.add(off)
                if moved not in public:
                    working_weekend.add(moved)
                    stands_for[moved] = off

        day_us, shorter = (_to_us(self.day_start), _to_us(self.day_end)), _HOUR_US
        lo = date(first, 1, 1).toordinal()
        starts: list[int] = []
        ends: list[int] = []
        kinds: list[DayKind] = []
        one = timedelta(days=1)
        for o in range(lo, date(stop, 1, 1).toordinal()):
            d = date.fromordinal(o)
            s, e = day_us
            override = self.overrides.get(d)
            if override is not None:
                kind = DayKind.OVERRIDE
                hours = override.hours
                s, e = (_to_us(hours[0]), _to_us(hours[1])) if hours else (0, 0)
            elif d in public:
                kind, s, e = DayKind.HOLIDAY, 0, 0
            elif d in day_off:
                kind, s, e = DayKind.DAYOFF, 0, 0
            elif d.weekday() >= 5 and d not in working_weekend:
                kind, s, e = DayKind.WEEKEND, 0, 0
            else:
                transfer = d.weekday() >= 5
                # Labour Code art. 95: the day before a holiday is an hour shorter. A working
                # weekend inherits this from the weekday it stands in for (2021-02-20 for
                # 2021-02-22, 2024-11-02 for 2024-04-30, not 2024-04-27 for 2024-04-29), as in
                # the published production calendars.
                stand_in = stands_for.get(d, d)
                pre = self.shorten_preholiday and (d + one in public or stand_in + one in public)
                if pre:
                    e -= shorter
                if transfer:
                    kind = DayKind.TRANSFER_PREHOLIDAY if pre else DayKind.TRANSFER
                else:
                    kind = DayKind.PREHOLIDAY if pre else DayKind.WORKING
            starts.append(s)
            ends.append(e)
            kinds.append(kind)
        cum_end = list(accumulate(e - s for s, e in zip(starts, ends, strict=True)))
        cnt_end = list(accumulate(int(e > s) for s, e in zip(starts, ends, strict=True)))
        return _Span(first, stop, lo, starts, ends, cum_end, cnt_end, kinds)


def _aware(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{dt} has no time zone")
    return dt


def _to_us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US + t.microsecond


def _to_time(us: int) -> time:
    seconds, micro = divmod(us, _US)
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60, micro)


def _wall_us(dt: datetime) -> int:
    return ((dt.hour * 60 + dt.minute) * 60 + dt.second) * _US + dt.microsecond
