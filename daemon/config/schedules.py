"""When the reports and digests go out: the `[reports]` times, read and checked.

Pure: text in, values out. "mon 10:00" (a weekday and a time), "1 10:00" (a day
of the month and a time), "10:00" (a time of day); an empty value switches that
letter off. The times are the desk's (`[service] timezone`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from daemon.config.schema import Config, ConfigError, parse_hhmm

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Schedules:
    weekly: tuple[int, time] | None  # (weekday 0=Monday, time)
    monthly: tuple[int, time] | None  # (day of the month 1..28, time)
    digest: time | None


def weekly(key: str, text: str) -> tuple[int, time] | None:
    if not text.strip():
        return None
    words = text.lower().split()
    if len(words) != 2 or words[0][:3] not in WEEKDAYS:
        raise ConfigError(key, f"{text!r}: write a weekday and a time, like 'mon 10:00'")
    return WEEKDAYS.index(words[0][:3]), parse_hhmm(key, words[1])


def monthly(key: str, text: str) -> tuple[int, time] | None:
    if not text.strip():
        return None
    words = text.split()
    if len(words) != 2 or not words[0].isdigit() or not 1 <= int(words[0]) <= 28:
        raise ConfigError(key, f"{text!r}: write a day of the month (1-28) and a time, "
                               "like '1 10:00'")
    return int(words[0]), parse_hhmm(key, words[1])


def daily(key: str, text: str) -> time | None:
    return parse_hhmm(key, text.strip()) if text.strip() else None


def of(config: Config) -> Schedules:
    """The schedules of `config`; ConfigError naming the key when one is wrong."""
    r = config.reports
    return Schedules(weekly("reports.weekly", r.weekly), monthly("reports.monthly", r.monthly),
                     daily("reports.digest", r.digest))
