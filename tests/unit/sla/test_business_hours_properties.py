"""Properties of the working-time clock that must hold for any letter at any moment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.sla.business_hours import MOSCOW, WorkingCalendar
from daemon.sla.levels import DEFAULT_LEVELS, MAX_WORKING_REACTION, Clock, SlaLevel, reaction_due

CAL = WorkingCalendar(years=range(2019, 2030))
NARROW = WorkingCalendar(years=range(2025, 2026))
ZONES = [MOSCOW, UTC, ZoneInfo("Asia/Vladivostok"), ZoneInfo("America/New_York")]

moments = st.builds(
    lambda t, zone: t.astimezone(zone),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2027, 12, 31),
                 timezones=st.just(MOSCOW)),
    st.sampled_from(ZONES),
)
working_time = st.integers(min_value=1, max_value=200 * 3600 * 10**6).map(
    lambda us: timedelta(microseconds=us))
short_time = st.integers(min_value=0, max_value=60 * 3600).map(lambda s: timedelta(seconds=s))


def is_working_moment(dt: datetime) -> bool:
    local = dt.astimezone(MOSCOW)
    hours = CAL.hours_of(local.date())
    return hours is not None and hours[0] <= local.time() < hours[1]


@given(moments)
def test_next_working_moment_is_working_and_not_earlier(dt: datetime) -> None:
    start = CAL.next_working_moment(dt)
    assert start >= dt
    assert is_working_moment(start)
    assert CAL.next_working_moment(start) == start
    assert CAL.working_between(dt, start) == timedelta(0)


@given(moments, working_time)
def test_deadline_never_earlier_than_receipt(dt: datetime, delta: timedelta) -> None:
    assert CAL.add_working(dt, delta) > dt


@given(moments, working_time)
def test_add_then_measure_round_trips(dt: datetime, delta: timedelta) -> None:
    start = CAL.next_working_moment(dt)
    assert CAL.working_between(start, CAL.add_working(start, delta)) == delta
    assert CAL.working_between(dt, CAL.add_working(dt, delta)) == delta


@given(moments, working_time, working_time)
def test_monotone_in_working_time(dt: datetime, x: timedelta, y: timedelta) -> None:
    small, large = sorted((x, y))
    assert CAL.add_working(dt, small) <= CAL.add_working(dt, large)


@given(moments, moments, working_time)
def test_monotone_in_receipt(a: datetime, b: datetime, delta: timedelta) -> None:
    early, late = sorted((a, b))
    assert CAL.add_working(early, delta) <= CAL.add_working(late, delta)


@given(moments, short_time, short_time)
def test_adding_in_two_steps_is_adding_once(dt: datetime, x: timedelta, y: timedelta) -> None:
    assert CAL.add_working(dt, x + y) == CAL.add_working(CAL.add_working(dt, x), y)


@given(moments, moments, moments)
def test_working_between_adds_up(a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    assert CAL.working_between(a, b) + CAL.working_between(b, c) == CAL.working_between(a, c)
    assert CAL.working_between(a, c) <= c - a


@given(moments, st.integers(min_value=0, max_value=60))
def test_working_days_land_on_the_nth_working_day(dt: datetime, n: int) -> None:
    due = CAL.add_working_days(dt, n).astimezone(MOSCOW)
    start = CAL.next_working_moment(dt)
    assert due >= start >= dt
    assert CAL.hours_of(due.date()) is not None
    worked = [d for d in _dates(start.date(), due.date()) if CAL.hours_of(d)]
    assert len(worked) == n + 1


@given(moments, st.sampled_from(sorted(DEFAULT_LEVELS)), st.booleans())
def test_default_levels_respect_the_cap(dt: datetime, code: str, developers: bool) -> None:
    level = DEFAULT_LEVELS[code]
    due = reaction_due(level, dt, CAL, developers_involved=developers)
    assert due >= dt
    if code != "development":
        assert CAL.working_between(dt, due) <= MAX_WORKING_REACTION


@given(moments, st.sampled_from(list(Clock)), st.integers(min_value=1, max_value=500))
def test_any_configured_level_is_clamped(dt: datetime, clock: Clock, amount: int) -> None:
    reaction: timedelta | int = amount if clock is Clock.WORKING_DAYS else timedelta(hours=amount)
    due = reaction_due(SlaLevel("custom", "3.x", "Проверка", reaction, clock), dt, CAL)
    assert dt <= due
    assert CAL.working_between(dt, due) <= MAX_WORKING_REACTION


@settings(max_examples=50)
@given(st.datetimes(min_value=datetime(2024, 6, 1), max_value=datetime(2026, 6, 1),
                    timezones=st.just(MOSCOW)), working_time)
def test_answers_do_not_depend_on_the_precomputed_years(dt: datetime, delta: timedelta) -> None:
    assert NARROW.add_working(dt, delta) == CAL.add_working(dt, delta)
    assert NARROW.add_working_days(dt, 24) == CAL.add_working_days(dt, 24)


def _dates(first: date, last: date) -> Iterator[date]:
    d = first
    while d <= last:
        yield d
        d += timedelta(days=1)
