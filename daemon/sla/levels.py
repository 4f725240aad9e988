"""Service levels and reaction deadlines (regulation §3, SPEC "SLA levels").

A level says how long the desk has to react to a client letter and on which clock the time
runs: working hours, calendar time (special requests while staff alone handle them) or whole
working days (tickets with the development department). Regulation §2.3 caps every reaction
at 40 working hours except `development`; `validate_levels` reports configured levels that
break the cap and `reaction_due` clamps to it anyway. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from daemon.sla.business_hours import MOSCOW, WorkingCalendar

MAX_WORKING_REACTION = timedelta(hours=40)  # regulation §2.3
# Whole working days that fit in the cap: 5 days of 8 hours (regulation: "up to five days").
MAX_WORKING_DAYS = 5
UNCAPPED = frozenset({"development"})  # SPEC: the only level allowed past the cap
CONSULTATION = "consultation"  # §3.8: also the level of a question out of scope

_DURATION = re.compile(r"\s*(\d+)\s*([smhd])\s*")
_UNIT = {"s": timedelta(seconds=1), "m": timedelta(minutes=1), "h": timedelta(hours=1),
         "d": timedelta(days=1)}


class Clock(StrEnum):
    WORKING = "working"  # working hours of the calendar
    CALENDAR = "calendar"  # round the clock, 24/7
    WORKING_DAYS = "working_days"  # the same time of day n working days later


@dataclass(frozen=True)
class SlaLevel:
    """One service level: `reaction` is a timedelta, or whole days for `Clock.WORKING_DAYS`."""

    code: str
    clause: str  # the regulation's clause, e.g. "3.4"
    title_ru: str  # as a client reads it in the acknowledgement
    reaction: timedelta | int
    clock: Clock

    def __post_init__(self) -> None:
        if self.clock is Clock.WORKING_DAYS:
            if isinstance(self.reaction, timedelta) or self.reaction <= 0:
                raise ValueError(f"{self.code}: a working_days reaction is a positive number "
                                 f"of days, not {self.reaction!r}")
        elif not isinstance(self.reaction, timedelta) or self.reaction <= timedelta(0):
            raise ValueError(f"{self.code}: a {self.clock} reaction is a positive duration, "
                             f"not {self.reaction!r}")


def _level(code: str, clause: str, title: str, reaction: timedelta | int,
           clock: Clock = Clock.WORKING) -> tuple[str, SlaLevel]:
    return code, SlaLevel(code, clause, title, reaction, clock)


DEFAULT_LEVELS: Mapping[str, SlaLevel] = MappingProxyType(dict([
    _level("partner-operational", "3.1", "Партнёры — оперативная поддержка",
           timedelta(hours=3)),
    _level("partner-standard", "3.2", "Партнёры — стандартная поддержка", timedelta(hours=5)),
    _level("licensee-operational", "3.3", "Лицензиаты — оперативная поддержка",
           timedelta(hours=4)),
    _level("licensee-standard", "3.4", "Лицензиаты — стандартная поддержка",
           timedelta(hours=6)),
    _level("licensee-vip", "3.5", "Лицензиаты — VIP-поддержка", timedelta(hours=2)),
    _level("special", "3.6", "Спецобращение", timedelta(hours=1), Clock.CALENDAR),
    _level("noncommercial", "3.7", "Некоммерческая поддержка", timedelta(hours=24)),
    _level("consultation", "3.8", "Консультирование по общим вопросам", timedelta(hours=40)),
    _level("development", "3.9", "Передано в отдел разработки", 24, Clock.WORKING_DAYS),
]))


def parse_duration(text: str) -> tuple[int, str]:
    """A config duration ("45s", "90m", "6h", "24d") as (amount, unit letter)."""
    m = _DURATION.fullmatch(text)
    if m is None:
        raise ValueError(f"{text!r} is not a duration like '45s', '90m', '6h' or '24d'")
    return int(m[1]), m[2]


def parse_reaction(text: str, clock: Clock) -> timedelta | int:
    """A configured reaction for `clock`: whole days for working_days, else a timedelta.

    Days on the working clock are refused: "24d" there could mean 24 working days or
    24 × 24 hours, and the config must say which by choosing the clock.
    """
    amount, unit = parse_duration(text)
    if amount == 0:
        raise ValueError(f"reaction {text!r} must be longer than zero")
    if clock is Clock.WORKING_DAYS:
        if unit != "d":
            raise ValueError(f"reaction {text!r}: the working_days clock counts days ('24d')")
        return amount
    if clock is Clock.WORKING and unit == "d":
        raise ValueError(f"reaction {text!r}: give working hours ('40h') or use the "
                         "working_days clock")
    return amount * _UNIT[unit]


def validate_levels(levels: Mapping[str, SlaLevel]) -> list[str]:
    """Problems with configured levels, each naming the level's code; empty if all is well."""
    errors = []
    for code in DEFAULT_LEVELS:
        if code not in levels:
            errors.append(f"{code}: level is missing")
    for key, level in levels.items():
        if key != level.code:
            errors.append(f"{key}: level is filed under another code ({level.code})")
        if level.code in UNCAPPED:
            continue
        if isinstance(level.reaction, int):
            if level.reaction > MAX_WORKING_DAYS:
                errors.append(f"{level.code}: {level.reaction} working days exceed the cap of "
                              "40 working hours (regulation §2.3)")
        elif level.reaction > MAX_WORKING_REACTION:
            # Calendar time never holds more working time than its own length, so 40h of
            # calendar time is the longest that is sure to respect the cap.
            errors.append(f"{level.code}: {_hours(level.reaction)} of {level.clock} time may "
                          "exceed the cap of 40 working hours (regulation §2.3)")
    return errors


def clock_start(level: SlaLevel, received: datetime, calendar: WorkingCalendar, *,
                developers_involved: bool = False) -> datetime:
    """When the reaction clock starts: at once on calendar time, else the next working moment."""
    if level.clock is Clock.CALENDAR and not developers_involved:
        return received.astimezone(calendar.tz)
    return calendar.next_working_moment(received)


def reaction_due(level: SlaLevel, received: datetime, calendar: WorkingCalendar,
                 developers_involved: bool = False) -> datetime:
    """The reaction deadline for a letter of `level` received at `received`.

    A calendar-clock level (special requests, §3.6) runs 24/7 while staff alone handle it and
    on working hours once developers are involved (§2.1). Every level but `development` is
    clamped to 40 working hours.
    """
    if received.tzinfo is None or received.utcoffset() is None:
        raise ValueError(f"{received} has no time zone")
    capped = level.code not in UNCAPPED
    if isinstance(level.reaction, int):
        due = calendar.add_working_days(received, level.reaction)
    elif level.clock is Clock.CALENDAR and not developers_involved:
        due = (received + level.reaction).astimezone(calendar.tz)
    else:
        reaction = min(level.reaction, MAX_WORKING_REACTION) if capped else level.reaction
        return calendar.add_working(received, reaction)
    return min(due, calendar.add_working(received, MAX_WORKING_REACTION)) if capped else due


def is_outside_working_time(received: datetime, calendar: WorkingCalendar) -> bool:
    """True if a letter received now waits for the working day to start its clock."""
    return calendar.next_working_moment(received) != received


def format_msk(dt: datetime) -> str:
    """A moment as clients read it in letters: "25.11.2026 15:30 (МСК)"."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{dt} has no time zone")
    return dt.astimezone(MOSCOW).strftime("%d.%m.%Y %H:%M") + " (МСК)"


def _hours(delta: timedelta) -> str:
    return f"{delta / timedelta(hours=1):g}h"
