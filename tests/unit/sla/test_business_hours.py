"""The working calendar against the official Russian production calendars 2020-2027.

Expected values are written from the government decrees on moved days off and the published
production calendars (norms of working time for a 40-hour week), not from the `holidays`
package. 2020 is the calendar as decreed in 2019: the 2020 pandemic "non-working days" were
presidential decrees outside the production calendar and are not included (admins can add
such days as overrides). For 2027 only the art. 112 holidays are certain; its decree on moved
days off could not be checked, so those days are not asserted here.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from daemon.sla.business_hours import (
    DECREE_TRANSFERS,
    MOSCOW,
    DayKind,
    DayOverride,
    WorkingCalendar,
)

CAL = WorkingCalendar()
H = timedelta(hours=1)
SHORT = (time(10), time(17))
FULL = (time(10), time(18))


def msk(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=MOSCOW)


def days(year: int, spec: dict[int, tuple[int, ...]]) -> set[date]:
    return {date(year, m, d) for m, ds in spec.items() for d in ds}


# Weekdays that are not worked: art. 112 holidays, holidays moved off a weekend, decree moves.
OFF_WEEKDAYS = {
    2020: days(2020, {1: (1, 2, 3, 6, 7, 8), 2: (24,), 3: (9,), 5: (1, 4, 5, 11), 6: (12,),
                      11: (4,)}),
    2021: days(2021, {1: (1, 4, 5, 6, 7, 8), 2: (22, 23), 3: (8,), 5: (3, 10), 6: (14,),
                      11: (4, 5), 12: (31,)}),
    2022: days(2022, {1: (3, 4, 5, 6, 7), 2: (23,), 3: (7, 8), 5: (2, 3, 9, 10), 6: (13,),
                      11: (4,)}),
    2023: days(2023, {1: (2, 3, 4, 5, 6), 2: (23, 24), 3: (8,), 5: (1, 8, 9), 6: (12,),
                      11: (6,)}),
    2024: days(2024, {1: (1, 2, 3, 4, 5, 8), 2: (23,), 3: (8,), 4: (29, 30), 5: (1, 9, 10),
                      6: (12,), 11: (4,), 12: (30, 31)}),
    2025: days(2025, {1: (1, 2, 3, 6, 7, 8), 5: (1, 2, 8, 9), 6: (12, 13), 11: (3, 4),
                      12: (31,)}),
    2026: days(2026, {1: (1, 2, 5, 6, 7, 8, 9), 2: (23,), 3: (9,), 5: (1, 11), 6: (12,),
                      11: (4,), 12: (31,)}),
}
WORKING_WEEKENDS = {
    2020: set(), 2021: {date(2021, 2, 20)}, 2022: {date(2022, 3, 5)}, 2023: set(),
    2024: {date(2024, 4, 27), date(2024, 11, 2), date(2024, 12, 28)},
    2025: {date(2025, 11, 1)}, 2026: set(),
}
# Days an hour shorter (art. 95). A working Saturday is shortened when the weekday it stands
# in for precedes a holiday: 2024-11-02 (for 30 April) is, 2024-04-27 and 2024-12-28 are not.
SHORTENED = {
    2020: days(2020, {4: (30,), 5: (8,), 6: (11,), 11: (3,), 12: (31,)}),
    2021: days(2021, {2: (20,), 4: (30,), 6: (11,), 11: (3,)}),
    2022: days(2022, {2: (22,), 3: (5,), 11: (3,)}),
    2023: days(2023, {2: (22,), 3: (7,), 11: (3,)}),
    2024: days(2024, {2: (22,), 3: (7,), 5: (8,), 6: (11,), 11: (2,)}),
    2025: days(2025, {3: (7,), 4: (30,), 6: (11,), 11: (1,)}),
    2026: days(2026, {4: (30,), 5: (8,), 6: (11,), 11: (3,)}),
}
# Working days and hours of the official norm for a 40-hour week; 2026 is derived from its
# decree and art. 95 rather than remembered from the published table.
NORMS = {2020: (248, 1979), 2021: (247, 1972), 2022: (247, 1973), 2023: (247, 1973),
         2024: (248, 1979), 2025: (247, 1972), 2026: (247, 1972)}
MONTHLY_HOURS = {
    2024: (136, 159, 159, 168, 159, 151, 184, 176, 168, 184, 167, 168),
    2025: (136, 160, 167, 175, 144, 151, 184, 168, 176, 184, 151, 176),
}


def year_days(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(i) for i in range((date(year + 1, 1, 1) - first).days)]


def hours(d: date, cal: WorkingCalendar = CAL) -> float:
    span = cal.hours_of(d)
    if span is None:
        return 0
    return (datetime.combine(d, span[1]) - datetime.combine(d, span[0])) / H


# -- the calendar of days -------------------------------------------------------------------

@pytest.mark.parametrize("year", sorted(OFF_WEEKDAYS))
def test_every_day_of_the_year_matches_the_production_calendar(year: int) -> None:
    for d in year_days(year):
        expected = (d.weekday() < 5 and d not in OFF_WEEKDAYS[year]) or d in WORKING_WEEKENDS[year]
        assert (CAL.hours_of(d) is not None) == expected, d
        if expected:
            assert CAL.hours_of(d) == (SHORT if d in SHORTENED[year] else FULL), d


@pytest.mark.parametrize("year", sorted(NORMS))
def test_yearly_norm_of_working_days_and_hours(year: int) -> None:
    worked = [d for d in year_days(year) if CAL.hours_of(d)]
    assert (len(worked), sum(hours(d) for d in worked)) == NORMS[year]


@pytest.mark.parametrize("year", sorted(MONTHLY_HOURS))
def test_monthly_norm_of_hours(year: int) -> None:
    got = tuple(sum(hours(d) for d in year_days(year) if d.month == m) for m in range(1, 13))
    assert got == MONTHLY_HOURS[year]


def test_2027_public_holidays_are_off() -> None:
    for d in days(2027, {1: (1, 2, 3, 4, 5, 6, 7, 8), 2: (23,), 3: (8,), 11: (4,)}):
        assert CAL.hours_of(d) is None, d
        assert CAL.day_kind(d) == "holiday"
    assert CAL.hours_of(date(2027, 11, 3)) == SHORT  # Wednesday before Unity Day
    assert CAL.hours_of(date(2027, 4, 30)) == SHORT  # Friday before 1 May


@pytest.mark.parametrize(("d", "kind"), [
    (date(2025, 11, 25), "working"),
    (date(2025, 11, 29), "weekend"),
    (date(2025, 5, 9), "holiday"),
    (date(2025, 1, 4), "holiday"),  # a New Year holiday on a Saturday stays a holiday
    (date(2025, 5, 8), "dayoff"),  # 23 February 2025 (Sunday) moved here
    (date(2023, 11, 6), "dayoff"),  # Unity Day fell on Saturday
    (date(2025, 12, 31), "dayoff"),
    (date(2025, 4, 30), "preholiday"),
    (date(2024, 4, 27), "transfer"),
    (date(2024, 12, 28), "transfer"),
    (date(2024, 11, 2), "transfer-preholiday"),
    (date(2021, 2, 20), "transfer-preholiday"),
    (date(2025, 12, 30), "working"),  # before a moved day off, not a holiday: full day
    (date(2024, 5, 7), "working"),
])
def test_day_kind(d: date, kind: str) -> None:
    assert CAL.day_kind(d) == kind
    assert isinstance(CAL.day_kind(d), str)


def test_decree_table_agrees_with_the_package() -> None:
    known = holidays.country_holidays("RU", years=range(2020, 2028))
    for pairs in DECREE_TRANSFERS.values():
        for moved, off in pairs:
            assert off in known
            assert moved in known or moved in known.weekend_workdays


# -- next working moment --------------------------------------------------------------------

@pytest.mark.parametrize(("at", "expected"), [
    (msk(2025, 11, 28, 17, 59), msk(2025, 11, 28, 17, 59)),  # Friday, a minute left
    (msk(2025, 11, 28, 18, 0), msk(2025, 12, 1, 10)),  # 18:00 is already after hours
    (msk(2025, 11, 28, 23, 30), msk(2025, 12, 1, 10)),  # Friday night
    (msk(2025, 11, 29, 12), msk(2025, 12, 1, 10)),  # a letter on a Saturday
    (msk(2025, 11, 25, 9, 59, 59), msk(2025, 11, 25, 10)),
    (msk(2025, 11, 25, 10), msk(2025, 11, 25, 10)),
    (msk(2025, 4, 30, 16, 59), msk(2025, 4, 30, 16, 59)),
    (msk(2025, 4, 30, 17), msk(2025, 5, 5, 10)),  # shortened day, then 1-4 May off
    (msk(2025, 12, 31, 12), msk(2026, 1, 12, 10)),  # 31 December 2025 and New Year off
    (msk(2024, 4, 27, 9), msk(2024, 4, 27, 10)),  # working Saturday
    (msk(2024, 12, 28, 18), msk(2025, 1, 9, 10)),
    (msk(2020, 12, 31, 17), msk(2021, 1, 11, 10)),
    (msk(2026, 1, 9, 11), msk(2026, 1, 12, 10)),  # 3 January 2026 moved to 9 January
])
def test_next_working_moment(at: datetime, expected: datetime) -> None:
    got = CAL.next_working_moment(at)
    assert got == expected
    assert got.utcoffset() == timedelta(hours=3)


def test_any_zone_in_calendar_zone_out() -> None:
    got = CAL.next_working_moment(datetime(2025, 11, 25, 7, 0, tzinfo=UTC))
    assert got == msk(2025, 11, 25, 10) and got.tzinfo is MOSCOW
    vladivostok = datetime(2025, 11, 29, 1, 0, tzinfo=ZoneInfo("Asia/Vladivostok"))  # Fri 18:00
    assert CAL.next_working_moment(vladivostok) == msk(2025, 12, 1, 10)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="zone"):
        CAL.next_working_moment(datetime(2025, 11, 25, 12))
    with pytest.raises(ValueError, match="zone"):
        CAL.add_working(datetime(2025, 11, 25, 12), H)
    with pytest.raises(ValueError, match="zone"):
        CAL.working_between(datetime(2025, 11, 25, 12), msk(2025, 11, 26))


# -- the working-hour clock -----------------------------------------------------------------

@pytest.mark.parametrize(("received", "delta", "due"), [
    (msk(2025, 11, 24, 15, 30), 6 * H, msk(2025, 11, 25, 13, 30)),
    (msk(2025, 11, 28, 17, 59), 6 * H, msk(2025, 12, 1, 15, 59)),
    (msk(2025, 11, 28, 18), 6 * H, msk(2025, 12, 1, 16)),
    (msk(2025, 11, 29, 12), 2 * H, msk(2025, 12, 1, 12)),  # Saturday
    (msk(2025, 11, 24, 10), 8 * H, msk(2025, 11, 24, 18)),  # ends at 18:00, not next morning
    (msk(2025, 11, 24, 10), 40 * H, msk(2025, 11, 28, 18)),
    (msk(2025, 3, 7, 15), 3 * H, msk(2025, 3, 10, 11)),  # shortened Friday, Mar 8 Saturday
    (msk(2025, 12, 30, 16), 4 * H, msk(2026, 1, 12, 12)),  # New Year 2026
    (msk(2025, 12, 30, 17, 59), 6 * H, msk(2026, 1, 12, 15, 59)),
    (msk(2020, 12, 31, 16), 2 * H, msk(2021, 1, 11, 11)),  # shortened 31 December
    (msk(2023, 12, 29, 17), 5 * H, msk(2024, 1, 9, 14)),
    (msk(2024, 12, 27, 17), 3 * H, msk(2024, 12, 28, 12)),  # working Saturday, full day
    (msk(2024, 11, 1, 17), 2 * H, msk(2024, 11, 2, 11)),
    (msk(2024, 11, 2, 16, 30), H, msk(2024, 11, 5, 10, 30)),  # shortened Saturday
    (msk(2024, 4, 26, 12), 24 * H, msk(2024, 5, 3, 12)),  # 27 Apr worked, 29 Apr-1 May off
    (msk(2025, 4, 30, 10), 40 * H, msk(2025, 5, 13, 11)),
    (msk(2021, 2, 19, 17, 30), 3 * H, msk(2021, 2, 20, 12, 30)),
    (msk(2022, 3, 4, 17), 8 * H, msk(2022, 3, 5, 17)),  # ends with the shortened Saturday
    (msk(2026, 5, 7, 16), 4 * H, msk(2026, 5, 8, 12)),
    (msk(2026, 5, 8, 16), 2 * H, msk(2026, 5, 12, 11)),  # 8 May shortened, 9-11 May off
    (datetime(2025, 11, 24, 12, 30, tzinfo=UTC), 6 * H, msk(2025, 11, 25, 13, 30)),
])
def test_add_working(received: datetime, delta: timedelta, due: datetime) -> None:
    got = CAL.add_working(received, delta)
    assert got == due
    assert got.tzinfo is MOSCOW


def test_add_working_zero_is_the_next_working_moment() -> None:
    assert CAL.add_working(msk(2025, 11, 29, 3), timedelta(0)) == msk(2025, 12, 1, 10)
    with pytest.raises(ValueError, match="negative"):
        CAL.add_working(msk(2025, 11, 25, 12), -H)


@pytest.mark.parametrize(("received", "n", "due"), [
    (msk(2025, 11, 24, 12), 24, msk(2025, 12, 26, 12)),
    (msk(2025, 11, 25, 15, 30), 24, msk(2025, 12, 29, 15, 30)),
    (msk(2025, 11, 22, 12), 24, msk(2025, 12, 26, 10)),  # Saturday: clock starts Monday 10:00
    (msk(2025, 11, 28, 18), 1, msk(2025, 12, 2, 10)),
    (msk(2025, 12, 30, 15), 1, msk(2026, 1, 12, 15)),
    (msk(2025, 12, 30, 15), 24, msk(2026, 2, 12, 15)),
    (msk(2025, 4, 29, 17, 30), 1, msk(2025, 4, 30, 17)),  # clamped to the shortened day's end
    (msk(2025, 11, 25, 12), 0, msk(2025, 11, 25, 12)),
])
def test_add_working_days(received: datetime, n: int, due: datetime) -> None:
    assert CAL.add_working_days(received, n) == due


def test_add_working_days_refuses_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        CAL.add_working_days(msk(2025, 11, 25, 12), -1)


@pytest.mark.parametrize(("a", "b", "elapsed"), [
    (msk(2025, 11, 28, 17), msk(2025, 12, 1, 11), 2 * H),
    (msk(2025, 11, 24, 0), msk(2025, 11, 29, 0), 40 * H),
    (msk(2025, 12, 30, 0), msk(2026, 1, 13, 0), 16 * H),
    (msk(2024, 12, 27, 0), msk(2025, 1, 10, 0), 24 * H),  # Fri, working Sat, 9 Jan
    (msk(2025, 11, 25, 12), msk(2025, 11, 25, 12), timedelta(0)),
    (msk(2025, 11, 26, 12), msk(2025, 11, 25, 12), timedelta(0)),
    (msk(2025, 1, 1), msk(2026, 1, 1), 1972 * H),
])
def test_working_between(a: datetime, b: datetime, elapsed: timedelta) -> None:
    assert CAL.working_between(a, b) == elapsed


# -- configuration ----------------------------------------------------------------------------

def test_overrides_win_over_everything() -> None:
    cal = WorkingCalendar(overrides={
        date(2025, 12, 1): DayOverride.off(),  # a Monday the company takes off
        date(2025, 11, 30): DayOverride.working(time(12), time(16)),  # a Sunday on duty
        date(2025, 4, 30): DayOverride.working(time(10), time(18)),  # no shortening
        date(2025, 5, 9): DayOverride.working(time(11), time(13)),  # a holiday on duty
    }, years=range(2025, 2027))
    assert cal.hours_of(date(2025, 12, 1)) is None
    assert cal.day_kind(date(2025, 12, 1)) == "override"
    assert cal.hours_of(date(2025, 11, 30)) == (time(12), time(16))
    assert cal.hours_of(date(2025, 4, 30)) == FULL
    assert cal.hours_of(date(2025, 5, 9)) == (time(11), time(13))
    assert cal.add_working(msk(2025, 11, 29, 9), 5 * H) == msk(2025, 12, 2, 11)
    assert cal.add_working(msk(2025, 11, 30, 9), 5 * H) == msk(2025, 12, 2, 11)
    assert cal.next_working_moment(msk(2025, 11, 30, 9)) == msk(2025, 11, 30, 12)
    assert cal.next_working_moment(msk(2025, 11, 30, 17)) == msk(2025, 12, 2, 10)
    assert cal.add_working_days(msk(2025, 11, 30, 15), 1) == msk(2025, 12, 2, 15)
    assert cal.add_working(msk(2025, 5, 8, 12), 3 * H) == msk(2025, 5, 12, 11)


def test_preholiday_shortening_can_be_switched_off() -> None:
    cal = WorkingCalendar(shorten_preholiday=False, years=range(2024, 2026))
    assert cal.hours_of(date(2025, 4, 30)) == FULL
    assert cal.day_kind(date(2025, 4, 30)) == "working"
    assert cal.day_kind(date(2024, 11, 2)) == "transfer"


def test_other_working_hours() -> None:
    cal = WorkingCalendar(day_start=time(9), day_end=time(18, 30), years=range(2025, 2026))
    assert cal.hours_of(date(2025, 11, 25)) == (time(9), time(18, 30))
    assert cal.hours_of(date(2025, 4, 30)) == (time(9), time(17, 30))
    assert cal.add_working(msk(2025, 11, 25, 18), 2 * H) == msk(2025, 11, 26, 10, 30)


def test_years_outside_the_table_still_work() -> None:
    narrow = WorkingCalendar(years=range(2025, 2026))
    for received in (msk(2025, 12, 30, 16), msk(2025, 12, 25, 12)):
        assert narrow.add_working(received, 40 * H) == CAL.add_working(received, 40 * H)
        assert narrow.add_working_days(received, 24) == CAL.add_working_days(received, 24)
    assert narrow.hours_of(date(2021, 2, 20)) == SHORT
    assert narrow.working_between(msk(2024, 1, 1), msk(2026, 1, 1)) == (1979 + 1972) * H
    # Far outside the default years: weekends and New Year still known.
    assert CAL.hours_of(date(2040, 1, 6)) is None
    assert CAL.add_working(msk(2040, 12, 28, 17), 2 * H) == msk(2040, 12, 31, 11)
    assert CAL.add_working(msk(2040, 12, 31, 16, 30), H) == msk(2041, 1, 9, 10, 30)
    assert CAL.add_working(msk(2035, 12, 31, 0), timedelta(hours=8 * 300)) > msk(2037, 1, 1)


def test_calendar_is_immutable() -> None:
    source = {date(2025, 11, 24): DayOverride.off()}
    cal = WorkingCalendar(overrides=source, years=range(2025, 2026))
    source[date(2025, 11, 25)] = DayOverride.off()
    assert cal.hours_of(date(2025, 11, 25)) == FULL
    with pytest.raises(dataclasses.FrozenInstanceError):
        cal.day_start = time(9)  # type: ignore[misc]
    with pytest.raises(TypeError):
        cal.overrides[date(2025, 11, 26)] = DayOverride.off()  # type: ignore[index]


@pytest.mark.parametrize("kwargs", [
    {"day_start": time(18), "day_end": time(10)},
    {"day_start": time(10), "day_end": time(10, 30)},  # no room to shorten by an hour
    {"years": range(2025, 2025)},
])
def test_bad_calendars_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        WorkingCalendar(**kwargs)  # type: ignore[arg-type]


def test_bad_override_is_refused() -> None:
    with pytest.raises(ValueError, match="start must be before end"):
        DayOverride.working(time(16), time(12))


def test_day_kinds_are_strings() -> None:
    assert DayKind.TRANSFER == "transfer" and DayKind("dayoff") is DayKind.DAYOFF


# ---------------------------------------------------------------- tabulated on first use

EAGER = WorkingCalendar(years=range(2013, 2036))  # as every calendar was before: all at once


def year_ends(first: int, stop: int) -> list[datetime]:
    """Moments around each New Year, where a table's years meet."""
    return [msk(y, 12, d, hh) for y in range(first, stop) for d in (28, 30, 31)
            for hh in (0, 9, 17, 18, 23)] + [msk(y, 1, 1, 12) for y in range(first, stop)]


def test_a_calendar_tabulated_on_first_use_answers_as_one_tabulated_at_once() -> None:
    lazy = WorkingCalendar()
    # First asked about a day in the middle, then years that make its table grow both ways.
    for year in (2026, 2027, 2024, 2031, 2013, 2035):
        day = date(year, 1, 1)
        while day.year == year:
            assert lazy.hours_of(day) == EAGER.hours_of(day), day
            assert lazy.day_kind(day) == EAGER.day_kind(day), day
            day += timedelta(days=1)


@pytest.mark.parametrize("at", year_ends(2013, 2035))
def test_clocks_across_a_new_year_on_a_fresh_lazy_calendar(at: datetime) -> None:
    # A fresh calendar each time: its first table is made for the moment asked about, and a
    # clock runs past that table's end.
    assert WorkingCalendar().add_working(at, 40 * H) == EAGER.add_working(at, 40 * H)
    assert WorkingCalendar().add_working_days(at, 24) == EAGER.add_working_days(at, 24)
    assert WorkingCalendar().add_working_days(at, 600) == EAGER.add_working_days(at, 600)
    assert WorkingCalendar().next_working_moment(at) == EAGER.next_working_moment(at)
    later = at + timedelta(days=400)
    assert WorkingCalendar().working_between(at, later) == EAGER.working_between(at, later)


def test_overrides_and_far_dates_on_a_lazy_calendar() -> None:
    overrides = {date(2026, 12, 31): DayOverride.off(),
                 date(2027, 1, 9): DayOverride.working(time(11), time(15))}
    lazy = WorkingCalendar(overrides=overrides)
    eager = WorkingCalendar(overrides=overrides, years=range(2013, 2036))
    for at in year_ends(2025, 2028):
        assert lazy.add_working(at, 40 * H) == eager.add_working(at, 40 * H)
        assert lazy.hours_of(at.date()) == eager.hours_of(at.date())
    # Far from its table (a table of its own), then back: the same answers as before.
    for far in (date(1990, 1, 2), date(1990, 1, 6), date(2090, 1, 1), date(2090, 1, 9)):
        assert lazy.hours_of(far) == eager.hours_of(far)
    assert lazy.hours_of(date(2027, 1, 9)) == (time(11), time(15))
    assert lazy.working_between(msk(2026, 12, 30), msk(2027, 1, 12)) == \
        eager.working_between(msk(2026, 12, 30), msk(2027, 1, 12))


def test_a_year_without_decree_data_is_known_as_such() -> None:
    from daemon.sla.business_hours import DayOverride, WorkingCalendar

    assert WorkingCalendar().knows_year(2026)
    assert not WorkingCalendar().knows_year(2040)  # only the fixed public holidays
    told = WorkingCalendar(overrides={date(2040, 5, 4): DayOverride.off()})
    assert told.knows_year(2040)  # the admin wrote the decree's days in [calendar]
