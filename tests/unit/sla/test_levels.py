"""Service levels and reaction deadlines (regulation §3, SPEC "SLA levels")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from daemon.sla.business_hours import MOSCOW, WorkingCalendar
from daemon.sla.levels import (
    DEFAULT_LEVELS,
    MAX_WORKING_REACTION,
    Clock,
    SlaLevel,
    clock_start,
    format_msk,
    is_outside_working_time,
    parse_duration,
    parse_reaction,
    reaction_due,
    validate_levels,
)

CAL = WorkingCalendar(years=range(2024, 2028))
H = timedelta(hours=1)


def msk(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=MOSCOW)


def level(code: str = "custom", reaction: timedelta | int = H,
          clock: Clock = Clock.WORKING) -> SlaLevel:
    return SlaLevel(code, "3.x", "Проверка", reaction, clock)


# -- the table ---------------------------------------------------------------------------------

def test_default_table_is_the_regulations() -> None:
    table = {code: (lv.clause, lv.reaction, lv.clock) for code, lv in DEFAULT_LEVELS.items()}
    assert table == {
        "partner-operational": ("3.1", 3 * H, Clock.WORKING),
        "partner-standard": ("3.2", 5 * H, Clock.WORKING),
        "licensee-operational": ("3.3", 4 * H, Clock.WORKING),
        "licensee-standard": ("3.4", 6 * H, Clock.WORKING),
        "licensee-vip": ("3.5", 2 * H, Clock.WORKING),
        "special": ("3.6", H, Clock.CALENDAR),
        "noncommercial": ("3.7", 24 * H, Clock.WORKING),
        "consultation": ("3.8", 40 * H, Clock.WORKING),
        "development": ("3.9", 24, Clock.WORKING_DAYS),
    }
    for code, lv in DEFAULT_LEVELS.items():
        assert lv.code == code
        assert re.search("[А-Яа-яЁё]", lv.title_ru), code
    assert DEFAULT_LEVELS["licensee-standard"].title_ru == "Лицензиаты — стандартная поддержка"


def test_default_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        DEFAULT_LEVELS["special"] = level()  # type: ignore[index]


def test_default_levels_pass_validation() -> None:
    assert validate_levels(DEFAULT_LEVELS) == []


@pytest.mark.parametrize(("changed", "message"), [
    (level("consultation", 41 * H), "consultation: 41h of working time may exceed"),
    (level("special", 48 * H, Clock.CALENDAR), "special: 48h of calendar time may exceed"),
    (level("noncommercial", 6, Clock.WORKING_DAYS), "noncommercial: 6 working days exceed"),
])
def test_the_40_hour_cap_is_checked(changed: SlaLevel, message: str) -> None:
    levels = {**DEFAULT_LEVELS, changed.code: changed}
    errors = validate_levels(levels)
    assert len(errors) == 1 and errors[0].startswith(message)


def test_development_may_exceed_the_cap() -> None:
    levels = {**DEFAULT_LEVELS, "development": level("development", 30, Clock.WORKING_DAYS)}
    assert validate_levels(levels) == []


def test_missing_and_misfiled_levels_are_named() -> None:
    levels = {code: lv for code, lv in DEFAULT_LEVELS.items() if code != "licensee-vip"}
    levels["vip"] = DEFAULT_LEVELS["licensee-vip"]
    assert validate_levels(levels) == [
        "licensee-vip: level is missing",
        "vip: level is filed under another code (licensee-vip)",
    ]


@pytest.mark.parametrize(("reaction", "clock"), [
    (H, Clock.WORKING_DAYS), (0, Clock.WORKING_DAYS), (3, Clock.WORKING),
    (timedelta(0), Clock.WORKING), (-H, Clock.CALENDAR),
])
def test_inconsistent_levels_are_refused(reaction: timedelta | int, clock: Clock) -> None:
    with pytest.raises(ValueError, match="custom"):
        level("custom", reaction, clock)


# -- durations in config -----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "parsed"), [
    ("90m", (90, "m")), ("6h", (6, "h")), ("24d", (24, "d")), ("45s", (45, "s")),
    (" 40h ", (40, "h")), ("0s", (0, "s")),
])
def test_parse_duration(text: str, parsed: tuple[int, str]) -> None:
    assert parse_duration(text) == parsed


@pytest.mark.parametrize("text", ["", "6", "h6", "6 hours", "-1h", "1.5h", "6H", "6w", "6h30m"])
def test_parse_duration_names_the_bad_value(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_duration(text)


@pytest.mark.parametrize(("text", "clock", "reaction"), [
    ("24d", Clock.WORKING_DAYS, 24), ("6h", Clock.WORKING, 6 * H),
    ("90m", Clock.WORKING, timedelta(minutes=90)), ("2d", Clock.CALENDAR, 48 * H),
])
def test_parse_reaction(text: str, clock: Clock, reaction: timedelta | int) -> None:
    assert parse_reaction(text, clock) == reaction


@pytest.mark.parametrize(("text", "clock"), [
    ("24d", Clock.WORKING), ("6h", Clock.WORKING_DAYS), ("0h", Clock.WORKING), ("x", Clock.WORKING),
])
def test_parse_reaction_refuses(text: str, clock: Clock) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_reaction(text, clock)


def test_clock_values_match_config() -> None:
    assert [c.value for c in Clock] == ["working", "calendar", "working_days"]


# -- deadlines ----------------------------------------------------------------------------------

TUESDAY = msk(2025, 11, 25, 15, 30)


@pytest.mark.parametrize(("code", "due"), [
    ("partner-operational", msk(2025, 11, 26, 10, 30)),
    ("partner-standard", msk(2025, 11, 26, 12, 30)),
    ("licensee-operational", msk(2025, 11, 26, 11, 30)),
    ("licensee-standard", msk(2025, 11, 26, 13, 30)),
    ("licensee-vip", msk(2025, 11, 25, 17, 30)),
    ("special", msk(2025, 11, 25, 16, 30)),
    ("noncommercial", msk(2025, 11, 28, 15, 30)),
    ("consultation", msk(2025, 12, 2, 15, 30)),
    ("development", msk(2025, 12, 29, 15, 30)),
])
def test_reaction_due_on_a_tuesday_afternoon(code: str, due: datetime) -> None:
    got = reaction_due(DEFAULT_LEVELS[code], TUESDAY, CAL)
    assert got == due and got.tzinfo is MOSCOW


@pytest.mark.parametrize(("code", "due"), [
    ("licensee-standard", msk(2025, 12, 30, 14)),
    ("consultation", msk(2026, 1, 15, 16)),  # 10 h before New Year, 30 h from 12 January
    ("noncommercial", msk(2026, 1, 13, 16)),
    ("development", msk(2026, 2, 11, 16)),
    ("special", msk(2025, 12, 29, 17)),
])
def test_reaction_due_before_new_year(code: str, due: datetime) -> None:
    assert reaction_due(DEFAULT_LEVELS[code], msk(2025, 12, 29, 16), CAL) == due


def test_special_runs_round_the_clock_until_developers_join() -> None:
    special = DEFAULT_LEVELS["special"]
    saturday_night = msk(2025, 11, 29, 3, 0)
    assert reaction_due(special, saturday_night, CAL) == msk(2025, 11, 29, 4, 0)
    assert reaction_due(special, saturday_night, CAL, developers_involved=True) == \
        msk(2025, 12, 1, 11, 0)
    assert reaction_due(special, msk(2025, 12, 31, 23, 30), CAL) == msk(2026, 1, 1, 0, 30)
    assert clock_start(special, saturday_night, CAL) == saturday_night
    assert clock_start(special, saturday_night, CAL, developers_involved=True) == \
        msk(2025, 12, 1, 10)


def test_letters_at_the_edge_of_the_day() -> None:
    standard = DEFAULT_LEVELS["licensee-standard"]
    assert reaction_due(standard, msk(2025, 11, 28, 17, 59), CAL) == msk(2025, 12, 1, 15, 59)
    assert reaction_due(standard, msk(2025, 11, 28, 18, 0), CAL) == msk(2025, 12, 1, 16, 0)
    assert reaction_due(standard, msk(2025, 11, 29, 12, 0), CAL) == msk(2025, 12, 1, 16, 0)


def test_received_in_utc_answered_in_moscow_time() -> None:
    got = reaction_due(DEFAULT_LEVELS["licensee-vip"], datetime(2025, 11, 25, 12, 30, tzinfo=UTC),
                       CAL)
    assert got == msk(2025, 11, 25, 17, 30)
    assert format_msk(got) == "25.11.2025 17:30 (МСК)"


def test_naive_receipt_is_refused() -> None:
    with pytest.raises(ValueError, match="zone"):
        reaction_due(DEFAULT_LEVELS["consultation"], datetime(2025, 11, 25, 12), CAL)


@pytest.mark.parametrize("bad", [
    level("custom", 60 * H),
    level("custom", 200 * H, Clock.CALENDAR),
    level("custom", 10, Clock.WORKING_DAYS),
])
def test_deadlines_are_clamped_to_40_working_hours(bad: SlaLevel) -> None:
    capped = CAL.add_working(TUESDAY, MAX_WORKING_REACTION)
    assert reaction_due(bad, TUESDAY, CAL) == capped == msk(2025, 12, 2, 15, 30)


def test_development_is_not_clamped() -> None:
    got = reaction_due(level("development", 60 * H), TUESDAY, CAL)
    assert CAL.working_between(TUESDAY, got) == 60 * H


def test_clock_start_and_outside_working_time() -> None:
    standard = DEFAULT_LEVELS["licensee-standard"]
    assert clock_start(standard, msk(2025, 11, 29, 12), CAL) == msk(2025, 12, 1, 10)
    assert clock_start(standard, TUESDAY, CAL) == TUESDAY
    assert clock_start(DEFAULT_LEVELS["development"], msk(2025, 12, 31, 9), CAL) == \
        msk(2026, 1, 12, 10)
    assert not is_outside_working_time(TUESDAY, CAL)
    assert not is_outside_working_time(msk(2025, 11, 28, 17, 59), CAL)
    assert is_outside_working_time(msk(2025, 11, 28, 18), CAL)
    assert is_outside_working_time(msk(2025, 11, 29, 12), CAL)
    assert is_outside_working_time(msk(2025, 4, 30, 17), CAL)  # shortened pre-holiday day
    assert not is_outside_working_time(msk(2024, 4, 27, 12), CAL)  # working Saturday


def test_format_msk() -> None:
    assert format_msk(msk(2026, 11, 25, 15, 30)) == "25.11.2026 15:30 (МСК)"
    assert format_msk(datetime(2026, 1, 1, 5, 7, 59, tzinfo=UTC)) == "01.01.2026 08:07 (МСК)"
    with pytest.raises(ValueError, match="zone"):
        format_msk(datetime(2026, 11, 25, 15, 30))
