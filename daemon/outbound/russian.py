"""Russian words that depend on numbers, and Moscow-time formatting for letters."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def plural(n: int, one: str, few: str, many: str) -> str:
    """The form for n: 1 час, 2 часа, 5 часов, 21 час, 11 часов."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def duration_words(amount: timedelta | int, clock: str) -> str:
    """'6 рабочих часов', '1 час', '24 рабочих дня', '90 рабочих минут'."""
    if clock == "working_days":
        n = amount if isinstance(amount, int) else amount.days
        return f"{n} {plural(n, 'рабочий день', 'рабочих дня', 'рабочих дней')}"
    assert isinstance(amount, timedelta)
    seconds = int(amount.total_seconds())
    working = clock == "working"
    if seconds % 3600 == 0:
        n = seconds // 3600
        words = (plural(n, "рабочий час", "рабочих часа", "рабочих часов") if working
                 else plural(n, "час", "часа", "часов"))
    else:
        n = seconds // 60
        words = (plural(n, "рабочая минута", "рабочие минуты", "рабочих минут") if working
                 else plural(n, "минута", "минуты", "минут"))
    return f"{n} {words}"


_WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
_DAY_KINDS = {
    "preholiday": "сокращённый предпраздничный день",
    "transfer": "рабочий день (перенос выходного)",
    "transfer-preholiday": "рабочий день (перенос выходного), сокращённый предпраздничный",
    "holiday": "нерабочий праздничный день",
    "dayoff": "выходной день (перенос)",
    "override": "изменённый график службы поддержки",
    "working": "рабочий день",
    "weekend": "выходной день",
}


def day_words(day: date, kind: str, hours: tuple[time, time] | None) -> str:
    """'30.04.2026 (чт): сокращённый предпраздничный день, с 10:00 до 17:00'."""
    what = _DAY_KINDS.get(kind, kind)
    if hours is None:
        when = "нерабочий день" if kind == "override" else ""
    else:
        when = f"с {hours[0]:%H:%M} до {hours[1]:%H:%M}"
    return f"{day:%d.%m.%Y} ({_WEEKDAYS[day.weekday()]}): " + ", ".join(x for x in (what, when)
                                                                      if x)


def msk(dt: datetime, tz: ZoneInfo) -> str:
    """'25.11.2026 15:30 (МСК)' for Moscow; the zone's abbreviation elsewhere."""
    local = dt.astimezone(tz)
    label = "МСК" if tz.key == "Europe/Moscow" else (local.tzname() or tz.key)
    return f"{local:%d.%m.%Y %H:%M} ({label})"
