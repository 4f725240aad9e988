"""Russian words that depend on numbers, and Moscow-time formatting for letters."""

from __future__ import annotations

from datetime import datetime, timedelta
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


def msk(dt: datetime, tz: ZoneInfo) -> str:
    """'25.11.2026 15:30 (МСК)' for Moscow; the zone's abbreviation elsewhere."""
    local = dt.astimezone(tz)
    label = "МСК" if tz.key == "Europe/Moscow" else (local.tzname() or tz.key)
    return f"{local:%d.%m.%Y %H:%M} ({label})"
