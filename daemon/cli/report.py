"""`supportd report`: the SLA and quality report of a period (§6), and `supportd health`.

The report is the one the head of support gets by e-mail (daemon/reports/): the
same figures as text, `--json`, `--csv FILE` and `--html FILE` (the letter's HTML
with its charts inlined). An empty period is a report that says so, not an error.
`supportd --now MOMENT report …` shows the report as it stood then (the one clock).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from daemon.cli.common import EX_CANTCREAT, EX_TEMPFAIL, EX_USAGE, _app, _print_json


def _day(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option}: {text!r} is not a date like 2026-11-30") from None


def cmd_report(args: argparse.Namespace) -> int:
    from daemon.reports import charts as charts_mod
    from daemon.reports import letters, queries, render
    from daemon.reports.report import as_json
    from daemon.storage import db

    try:
        first, last = _day("--from", args.date_from), _day("--to", args.date_to)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return EX_USAGE
    if last < first:
        print(f"--to {last} is before --from {first}", file=sys.stderr)
        return EX_USAGE
    app = _app(args)
    try:
        with app.sessions() as session:
            report = queries.make(session, first, last, app.now(), tz=app.config.tz,
                                  working=app.sla.calendar.working_between)
    except Exception as exc:
        if db.is_temporary(exc):
            print(f"database unavailable: {exc}", file=sys.stderr)
            return EX_TEMPFAIL
        raise
    if args.csv and not _write(args.csv, render.as_csv(report).encode("utf-8")):
        return EX_CANTCREAT
    if args.html:
        drawn: dict[str, bytes] = {}
        if app.config.reports.charts:
            why = charts_mod.available()
            if why:
                print(f"charts left out: matplotlib cannot be used ({why})", file=sys.stderr)
            else:
                drawn = charts_mod.draw(report)
        _, html = letters.texts(app.notifier, report, drawn, inline=False)
        if not _write(args.html, html.encode("utf-8")):
            return EX_CANTCREAT
    if args.json:
        _print_json(as_json(report))
    elif not (args.csv or args.html):
        text, _ = letters.texts(app.notifier, report, {}, inline=False)
        print(text.rstrip())
    return 0


def _write(path: str, data: bytes) -> bool:
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        print(f"cannot write {path}: {exc}", file=sys.stderr)
        return False
    return True


def add_parsers(sub: Any) -> None:
    s = sub.add_parser("report", help="the SLA and quality report of a period (§6)")
    s.add_argument("--from", dest="date_from", required=True, help="first day, YYYY-MM-DD")
    s.add_argument("--to", dest="date_to", required=True, help="last day, YYYY-MM-DD")
    s.add_argument("--json", action="store_true", help="the figures as JSON")
    s.add_argument("--csv", metavar="FILE", help="write the figures as CSV")
    s.add_argument("--html", metavar="FILE", help="write the report as HTML, charts inline")
    s.set_defaults(func=cmd_report)
