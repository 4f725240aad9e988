"""§7: notices of the desk's changed hours, told in acknowledgements in their window.

`[[notice]]` entries (from, to, text) say what a client should know when writing
in that time: a holiday schedule, changed hours, a planned break. `from` and `to`
are a date ('2026-12-30': the whole day) or a date and time ('2026-12-30T15:00'),
in the desk's timezone (`[service] timezone`); both ends are included.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from daemon.config.schema import Config, ConfigError, Notice


def _moment(text: str, tz: tzinfo, *, end: bool) -> datetime:
    """A notice's end as an aware moment; a bare date is its first or last instant."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            if end:
                return datetime.combine(day + timedelta(days=1), time(), tz) - \
                    timedelta(microseconds=1)
            return datetime.combine(day, time(), tz)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (2026-12-30) or a date and time "
                         "(2026-12-30T15:00)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def window(notice: Notice, tz: tzinfo) -> tuple[datetime, datetime]:
    return _moment(notice.from_, tz, end=False), _moment(notice.to, tz, end=True)


def check(notice: Notice, key: str, tz: tzinfo) -> None:
    """ConfigError naming the key when a notice is incomplete or its window backwards."""
    for name, value in (("from", notice.from_), ("to", notice.to), ("text", notice.text)):
        if not value.strip():
            raise ConfigError(f"{key}.{name}", "is required")
    for name, value, end in (("from", notice.from_, False), ("to", notice.to, True)):
        try:
            _moment(value, tz, end=end)
        except ValueError as exc:
            raise ConfigError(f"{key}.{name}", str(exc)) from None
    start, stop = window(notice, tz)
    if stop < start:
        raise ConfigError(f"{key}.to", f"{notice.to} is before from = {notice.from_}")


def active_notices(config: Config, moment: datetime) -> list[str]:
    """The texts of the notices whose window holds `moment`, in config order."""
    return [n.text.strip() for n in config.notice
            if (w := window(n, config.tz))[0] <= moment <= w[1]]
