"""The report as a letter to the head of support: text, HTML, the charts inline.

The letter is queued like every other (`LetterQueue.queue`: a row of the caller's
transaction), to the `[reports] to` addresses or, when that is empty, to every
staff member whose role is head. Its numbers are `render.view` of the same
`Report` that `supportd report --json` prints.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from daemon.config.schema import Config
from daemon.outbound.letters import LetterQueue
from daemon.reports import render
from daemon.reports.report import Report


def head_addresses(config: Config) -> list[str]:
    """Who gets the report: `[reports] to`, else the staff whose role is head."""
    return list(config.reports.to) or [s.email for s in config.staff if s.role == "head"]


def texts(queue: LetterQueue, report: Report, charts: Mapping[str, bytes], *,
          inline: bool) -> tuple[str, str]:
    """The report's text and HTML; the charts as cid: parts (`inline`) or data: URIs."""
    src = render.cids(charts) if inline else render.data_uris(charts)
    context = render.view(report, queue.config.tz, lambda c: _title(queue, c), src)
    return (queue.render("staff/report.txt.j2", **context),
            queue.render("staff/report.html.j2", **context))


def _title(queue: LetterQueue, code: str) -> str:
    try:
        return queue.level_view(code).title
    except KeyError:  # a level since removed from config
        return code


def subject_of(report: Report) -> str:
    if report.first_day == report.last_day:
        return f"Отчёт службы поддержки за {report.first_day:%d.%m.%Y}"
    return (f"Отчёт службы поддержки за {report.first_day:%d.%m.%Y} — "
            f"{report.last_day:%d.%m.%Y}")


def queue_report(session: Session, queue: LetterQueue, report: Report,
                 charts: Mapping[str, bytes], recipients: list[str]) -> None:
    text, html = texts(queue, report, charts, inline=True)
    images = tuple((src.removeprefix("cid:"), charts[name])
                   for name, src in render.cids(charts).items())
    subject = subject_of(report) + (": обращений не было" if report.empty else "")
    for address in recipients:
        queue.queue(session, None, "report", address, subject, text, html,
                    automatic=False, auto_submitted="auto-generated", images=images)
