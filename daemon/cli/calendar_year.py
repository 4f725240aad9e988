"""`supportd calendar show YEAR`: the working calendar of a year as the desk counts it.

What an admin checks before a holiday season or after editing `[calendar]
overrides`: how many working days and hours each month has, and every day that is
not an ordinary working day or weekend (public holidays, days off moved by decree,
weekends made working, shortened pre-holiday days, the admin's overrides), with
its hours. `--json` gives every day of the year.
"""

from __future__ import annotations

import argparse
from typing import Any

from daemon.cli.common import _app, _print_json

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def cmd_calendar_year(args: argparse.Namespace, year: int) -> int:
    from daemon.sla.schedule import ORDINARY, differs, working_hours, year_days

    app = _app(args, db=False)
    calendar = app.sla.calendar
    days = year_days(calendar, year)
    months = []
    for m in range(1, 13):
        of_month = [d for d in days if d.day.month == m]
        months.append({"month": m, "working_days": sum(d.working for d in of_month),
                       "working_hours": working_hours(of_month)})
    special = [d for d in days if d.kind not in ORDINARY or differs(calendar, d)]
    if args.json:
        _print_json({"year": year, "timezone": app.config.service.timezone,
                     "day_start": calendar.day_start.strftime("%H:%M"),
                     "day_end": calendar.day_end.strftime("%H:%M"),
                     "working_days": sum(d.working for d in days),
                     "working_hours": working_hours(days), "months": months,
                     "days": [_day(d) for d in days]})
        return 0
    print(f"{year}: {sum(d.working for d in days)} working days, "
          f"{working_hours(days):g} working hours "
          f"(usual day {calendar.day_start:%H:%M}-{calendar.day_end:%H:%M}, "
          f"{app.config.service.timezone})")
    for month in months:
        print(f"  {month['month']:02d} {_MONTHS[int(month['month']) - 1]} "
              f"{month['working_days']:>2} days {month['working_hours']:>5g} h")
    print("days that are not ordinary working days or weekends:")
    for d in special:
        hours = f"{d.hours[0]:%H:%M}-{d.hours[1]:%H:%M}" if d.hours else "non-working"
        print(f"  {d.day.isoformat()} {d.day:%a}  {hours:<12} {d.kind}")
    return 0


def _day(d: Any) -> dict[str, Any]:
    return {"date": d.day.isoformat(), "kind": str(d.kind), "working": d.working,
            "start": d.hours[0].strftime("%H:%M") if d.hours else None,
            "end": d.hours[1].strftime("%H:%M") if d.hours else None}
