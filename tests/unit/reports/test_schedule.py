"""When the reports and digests fall due (daemon/reports/schedule.py)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.config.schedules import Schedules
from daemon.reports.schedule import due_runs, monthly_run, weekly_run

MSK = ZoneInfo("Europe/Moscow")
DEFAULT = Schedules((0, time(10)), (1, time(10)), time(10))
HOLIDAYS = {date(2027, 1, 1), date(2027, 1, 4)}


def working(d: date) -> bool:
    return d.weekday() < 5 and d not in HOLIDAYS


def due(now: datetime, catch_up: timedelta = timedelta(hours=12)) -> list[tuple[str, str]]:
    return [(r.job, r.key) for r in due_runs(now, DEFAULT, MSK, working, catch_up)]


def test_monday_ten_oclock_sends_last_weeks_report_and_the_digest() -> None:
    assert due(datetime(2026, 11, 30, 9, 59, tzinfo=MSK)) == []
    runs = due_runs(datetime(2026, 11, 30, 10, 0, tzinfo=MSK), DEFAULT, MSK, working,
                    timedelta(hours=12))
    weekly = next(r for r in runs if r.job == "weekly")
    assert (weekly.first, weekly.last) == (date(2026, 11, 23), date(2026, 11, 29))
    assert {r.job for r in runs} == {"weekly", "digest"}


def test_the_first_of_the_month_sends_the_past_month() -> None:
    runs = due_runs(datetime(2026, 12, 1, 10, 5, tzinfo=MSK), DEFAULT, MSK, working,
                    timedelta(hours=12))
    monthly = next(r for r in runs if r.job == "monthly")
    assert (monthly.key, monthly.first, monthly.last) == (
        "2026-11", date(2026, 11, 1), date(2026, 11, 30))


def test_no_digest_on_a_day_off_of_the_production_calendar() -> None:
    assert ("digest", "2027-01-04") not in due(datetime(2027, 1, 4, 10, 30, tzinfo=MSK))
    assert ("digest", "2026-12-05") not in due(datetime(2026, 12, 5, 10, 30, tzinfo=MSK))
    assert ("digest", "2026-12-07") in due(datetime(2026, 12, 7, 10, 30, tzinfo=MSK))


def test_a_run_missed_by_more_than_catch_up_is_skipped() -> None:
    assert due(datetime(2026, 11, 30, 22, 1, tzinfo=MSK)) == []
    assert ("weekly", "2026-11-30") in due(datetime(2026, 11, 30, 21, 59, tzinfo=MSK))


def test_the_clock_is_moscow_time_whatever_the_zone_of_now() -> None:
    utc_7 = datetime(2026, 11, 30, 7, 0, tzinfo=ZoneInfo("UTC"))  # 10:00 MSK
    assert ("weekly", "2026-11-30") in due(utc_7)


def test_switched_off() -> None:
    none = Schedules(None, None, None)
    assert due_runs(datetime(2026, 11, 30, 10, 0, tzinfo=MSK), none, MSK, working,
                    timedelta(hours=12)) == []


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)),
       st.integers(0, 6), st.integers(1, 28))
def test_the_latest_run_is_at_or_before_now_and_within_its_period(
        naive: datetime, weekday: int, mday: int) -> None:
    now = naive.replace(tzinfo=MSK)
    w = weekly_run(now, weekday, time(10))
    assert w.at <= now < w.at + timedelta(days=7, hours=1)
    assert w.at.weekday() == weekday and (w.last - w.first).days == 6
    assert w.last == w.at.date() - timedelta(days=1)
    m = monthly_run(now, mday, time(10))
    assert m.at <= now and m.at.day == mday
    assert m.first.day == 1 and (m.last + timedelta(days=1)).day == 1
    assert (m.last + timedelta(days=1)).month == m.at.month


@pytest.mark.parametrize(("text", "ok"), [("mon 10:00", True), ("Friday 17:30", True),
                                          ("10:00", False), ("mon 25:00", False)])
def test_weekly_times_are_read_or_named(text: str, ok: bool) -> None:
    from daemon.config.schedules import weekly
    from daemon.config.schema import ConfigError

    if ok:
        assert weekly("reports.weekly", text) is not None
    else:
        with pytest.raises(ConfigError, match="reports.weekly"):
            weekly("reports.weekly", text)
