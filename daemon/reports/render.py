"""The report in words: the view the templates read, the letter's text and HTML, CSV.

Every number shown comes from one `Report` (report.py), formatted here once: a
share as "87,5 % (7 из 8)", hours as "3,25", times in the desk's zone. The
templates are `daemon/templates/emails/staff/report.txt.j2` and `report.html.j2`; the
HTML of `supportd report --html` is the letter's HTML with the charts inlined as
data: URIs instead of `cid:` parts.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Callable, Mapping
from typing import Any

from daemon.outbound.russian import msk, plural
from daemon.reports.report import OnTime, Report, csv_rows

CHART_TITLES = {
    "on_time_weekly": "Реакции в срок по неделям",
    "ratings_monthly": "Оценки по месяцам",
    "open_per_agent": "Открытые обращения по сотрудникам",
}


def share_words(o: OnTime) -> str:
    if o.share is None:
        return "—"
    return f"{_dec(o.share * 100, 1)} % ({o.on_time} из {o.counted})"


def _dec(value: float | None, digits: int = 2) -> str:
    """Russian decimals: 3,25; a whole number without the comma."""
    if value is None:
        return "—"
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def view(report: Report, tz: Any, level_title: Callable[[str], str],
         chart_src: Mapping[str, str]) -> dict[str, Any]:
    """What the templates show. `chart_src`: chart name -> the image's src
    ("cid:…" in a letter, "data:image/png;base64,…" in a file); empty: no charts."""
    def period_words() -> str:
        first, last = report.first_day, report.last_day
        if first == last:
            return f"{first:%d.%m.%Y}"
        return f"{first:%d.%m.%Y} — {last:%d.%m.%Y}"

    return dict(
        period=period_words(), generated=msk(report.generated_at, tz), empty=report.empty,
        received=report.received,
        received_words=plural(report.received, "обращение", "обращения", "обращений"),
        by_level=[(code, level_title(code), n) for code, n in report.received_by_level.items()],
        by_org=list(report.received_by_org.items()),
        all_on_time=share_words(report.all_reactions), running=report.all_reactions.running,
        median=_dec(report.median_hours), p90=_dec(report.p90_hours),
        levels=[dict(code=f.level, title=level_title(f.level), received=f.received,
                     first=share_words(f.first), later=share_words(f.later),
                     median=_dec(f.median_hours), p90=_dec(f.p90_hours))
                for f in report.levels],
        breaches=[dict(tid=b.tid, level=b.level, due=msk(b.due_at, tz),
                       met=msk(b.met_at, tz) if b.met_at else "",
                       assignee=b.assignee or "не назначен",
                       reaction="первая" if b.first else "повторная")
                  for b in report.breaches],
        ratings=report.ratings, rating_mean=_dec(report.ratings.mean),
        reopened=list(report.reopened),
        by_topic=[(code or "не определена", n) for code, n in report.received_by_topic.items()],
        topic_corrections=[(tid, auto or "не определена", staff)
                           for tid, auto, staff in report.topic_corrections],
        agents=report.agents,
        charts=[(name, CHART_TITLES[name], src) for name, src in chart_src.items()],
    )


def data_uris(charts: Mapping[str, bytes]) -> dict[str, str]:
    return {name: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
            for name, png in charts.items()}


def cids(charts: Mapping[str, bytes]) -> dict[str, str]:
    return {name: f"cid:{name}@supportd" for name in charts}


def as_csv(report: Report) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(csv_rows(report))
    return out.getvalue()
