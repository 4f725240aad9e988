"""From config keys to the working calendar and the SLA levels, naming the key at fault.

`[calendar]` and `[sla.levels.CODE]` are validated here so that `check-config`
refuses an end before a start, a bad override or an unknown level before the
daemon ever starts.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date, time
from types import MappingProxyType

from daemon.config.schema import Config, ConfigError, Problems, parse_hhmm
from daemon.sla.business_hours import DayOverride, WorkingCalendar
from daemon.sla.levels import DEFAULT_LEVELS, Clock, SlaLevel, parse_reaction, validate_levels
from daemon.sla.policy import SlaPolicy

_RANGE = re.compile(r"^\s*(\d\d:\d\d)\s*-\s*(\d\d:\d\d)\s*$")


def _override(key: str, text: str, usual: tuple[time, time]) -> DayOverride:
    value = text.strip().lower()
    if value == "off":
        return DayOverride.off()
    if value == "working":
        return DayOverride.working(*usual)
    m = _RANGE.match(value)
    if not m:
        raise ConfigError(key, f"{text!r}: use 'off', 'working' or 'HH:MM-HH:MM'")
    start, end = parse_hhmm(key, m.group(1)), parse_hhmm(key, m.group(2))
    if not start < end:
        raise ConfigError(key, f"{text!r}: the end is not after the start")
    return DayOverride.working(start, end)


_built: list[tuple[object, WorkingCalendar]] = []  # the last one: validation builds it too


def build_calendar(config: Config) -> WorkingCalendar:
    c = config.calendar
    if _built and _built[0][0] == c:
        return _built[0][1]
    calendar = _build_calendar(config)
    _built[:] = [(c, calendar)]
    return calendar


def _build_calendar(config: Config) -> WorkingCalendar:
    c = config.calendar
    start = parse_hhmm("calendar.day_start", c.day_start)
    end = parse_hhmm("calendar.day_end", c.day_end)
    if not start < end:
        raise ConfigError("calendar.day_end", f"{c.day_end} is not after day_start {c.day_start}")
    overrides: dict[date, DayOverride] = {}
    for raw_key, text in c.overrides.items():
        key = f"calendar.overrides.{raw_key}"
        try:
            day = date.fromisoformat(raw_key)
        except ValueError:
            raise ConfigError(key, f"{raw_key!r} is not a date like 2026-12-31") from None
        if day in overrides:
            raise ConfigError(key, f"{day.isoformat()} is overridden twice")
        overrides[day] = _override(key, text, (start, end))
    try:
        return WorkingCalendar(tz=config.tz, day_start=start, day_end=end,
                               shorten_preholiday=c.shorten_preholiday, overrides=overrides)
    except ValueError as exc:
        raise ConfigError("calendar", str(exc)) from None


def build_levels(config: Config) -> dict[str, SlaLevel]:
    levels = dict(DEFAULT_LEVELS)
    for code, lc in config.sla.levels.items():
        key = f"sla.levels.{code}"
        if code not in DEFAULT_LEVELS:
            raise ConfigError(key, f"unknown level; known: {', '.join(DEFAULT_LEVELS)}")
        default = DEFAULT_LEVELS[code]
        try:
            clock = Clock(lc.clock) if lc.clock else default.clock
        except ValueError:
            raise ConfigError(f"{key}.clock",
                              f"{lc.clock!r}: use working, calendar or working_days") from None
        try:
            reaction = (parse_reaction(lc.reaction, clock) if lc.reaction
                        else default.reaction)
        except ValueError as exc:
            raise ConfigError(f"{key}.reaction", str(exc)) from None
        try:
            levels[code] = dataclasses.replace(default, reaction=reaction, clock=clock)
        except ValueError as exc:
            raise ConfigError(f"{key}.reaction", f"does not fit clock {clock}: {exc}") from None
    errors = validate_levels(levels)
    if errors:
        code = errors[0].split(":", 1)[0]
        raise ConfigError(f"sla.levels.{code}", errors[0].split(":", 1)[1].strip())
    return levels


def validate(config: Config) -> None:
    """The calendar and the levels, each checked whatever the other says."""
    problems = Problems()
    with problems.check():
        build_calendar(config)
    with problems.check():
        levels = build_levels(config)
        if config.sla.default_level not in levels:
            raise ConfigError("sla.default_level",
                              f"unknown level {config.sla.default_level!r}")
    problems.raise_any()


def build_policy(config: Config) -> SlaPolicy:
    """The desk's levels on its calendar, with the warning share: what deadlines need."""
    return SlaPolicy(levels=MappingProxyType(build_levels(config)),
                     calendar=build_calendar(config), warn_at=config.scheduler.warn_at)
