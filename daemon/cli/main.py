"""The `supportd` command line (SPEC "Interface").

Exit codes follow sysexits(3): 0 done, 64 bad value, 65 refused input, 66 no such
file, 69 not found, 75 try again later, 78 bad config; argparse's own usage errors
exit 2. `ingest` turns a bad config or a crash into 75, so an MTA retries.

A command imports what it needs when it runs (SQLAlchemy, the pipeline, the letter
templates): `check-config` needs none of it, and `ingest` runs once per letter.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from daemon.cli import (
    admin,
    backup,
    calendar_year,
    clock,
    health,
    manual,
    queue,
    registry,
    report,
    spam,
    storage,
)
from daemon.cli.common import (
    EX_CONFIG,
    EX_NOTFOUND,
    EX_TEMPFAIL,
    EX_USAGE,
    Unusable,
    _app,
    _print_json,
)
from daemon.config import loader as config_mod
from daemon.service import logs

# ---------------------------------------------------------------- commands


def _open_files_fit(cfg: Any) -> bool:
    """The listener's caps fit the open-file limit of this process (as `run` will
    have it under the unit: check-config runs there as ExecStartPre)."""
    import resource

    try:
        config_mod.check_open_files(cfg, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    except config_mod.ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return False
    return True


def cmd_check_config(args: argparse.Namespace) -> int:
    """Every problem at once, each by its key: the config's (the loader's, already
    passed), then the host's as the service user sees it (daemon/cli/checks.py)."""
    import resource
    from datetime import date

    from daemon.cli.checks import host_problems
    from daemon.config import sla_config

    problems = config_mod.Problems()
    with problems.check():
        config_mod.check_open_files(args.cfg, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    # The working calendar is tabulated on first use (a letter's deadline): do it here
    # for this year, so a broken `holidays` install shows now and not on a letter.
    try:
        today = args.clock().astimezone(args.cfg.tz).date() if args.clock else date.today()
        sla_config.build_calendar(args.cfg).day_kind(today)
    except Exception as exc:
        problems.add("calendar", f"{type(exc).__name__}: {exc}")
    problems.found += host_problems(args.cfg)
    if args.cfg.reports.charts:
        from daemon.reports import charts

        why = charts.available()
        if why:
            problems.add("reports.charts", f"the report's charts need matplotlib, which "
                         f"cannot be used ({why}); install it (pip install matplotlib) or "
                         "set charts = false")
    for warning in config_mod.warnings(args.cfg):
        print(f"config warning: {warning}", file=sys.stderr)
    for each in problems.found:
        print(f"config error: {each}", file=sys.stderr)
    if problems.found:
        return EX_CONFIG
    print(f"config ok: {args.cfg.source}")
    if args.probe:
        from daemon.cli.probe import probe

        return probe(args.cfg)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from daemon.service import run as service

    if not _open_files_fit(args.cfg):
        return EX_CONFIG
    from daemon.storage import revisions

    state = revisions.examine(args.cfg.storage.url, empty_ok=True)
    if state.problem is not None and state.problem[0] == EX_CONFIG:
        print(state.problem[1], file=sys.stderr)  # newer schema: this code must not write
        return EX_CONFIG
    # Missing, away or behind: the listener starts and answers 451 until it is fixed.
    return service.run(_app(args, db=False), args.config)


def cmd_worker(args: argparse.Namespace) -> int:
    """One pipeline process of `supportd run` (daemon/service/worker.py)."""
    from daemon.service import worker as pipeline_worker

    return pipeline_worker.run(_app(args, db=False), args.config, args.report_fd, args.parent)


@contextmanager
def _lasting_objects() -> Iterator[None]:
    """For a short process's imports: what is made inside lives until the process exits.

    The modules, classes and mappers `ingest` imports are some 100,000 objects. The cyclic
    collector walks them at its collections while they are made and at exit, and never
    finds garbage among them: measured, a fifth of an `ingest`'s time. So it pauses while
    they are made, and `gc.freeze` then leaves them out of its walks; what a letter makes
    later is collected as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.freeze()


def cmd_ingest(args: argparse.Namespace) -> int:
    from daemon.intake.thin_pipe import envelope_for, hand_over

    envelope = envelope_for(args.sender, args.recipient)
    try:  # a running daemon takes it (daemon/intake/thin_pipe.py)
        handed = None if args.in_process else \
            hand_over(args.cfg.spool_dir, args.file, envelope, args.clock and args.clock())
    except OSError as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 66
    if handed is not None:
        print(handed[1], file=sys.stderr if handed[0] else sys.stdout)
        return handed[0]
    with _lasting_objects():
        from daemon.intake.ingest import exit_code_for

    if args.file in (None, "-"):
        raw = sys.stdin.buffer.read()
    else:
        try:
            raw = Path(args.file).read_bytes()
        except OSError as exc:
            print(f"cannot read {args.file}: {exc}", file=sys.stderr)
            return 66
    app = _app(args, db=False)
    from daemon.storage import revisions

    state = revisions.examine(args.cfg.storage.url, app.engine)  # one query, this engine
    if state.problem is not None:
        print(f"temporary failure, try again later: {state.problem[1]}", file=sys.stderr)
        app.close()
        return EX_TEMPFAIL
    code, line = exit_code_for(app, raw, envelope)
    print(line, file=sys.stderr if code else sys.stdout)
    app.close()
    return code


def cmd_tickets_list(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from daemon.cli.views import ticket_summary
    from daemon.storage.models import Ticket

    if args.queue:
        return queue.cmd_tickets_queue(args)
    app = _app(args)
    limit = None if args.all else args.limit
    where = [Ticket.status == args.status] if args.status else []
    with app.sessions() as session:
        total = int(session.scalar(select(func.count()).select_from(Ticket).where(*where)) or 0)
        q = select(Ticket).where(*where).order_by(Ticket.id.desc()).offset(args.offset)
        if limit is not None:
            q = q.limit(limit)
        tickets = [ticket_summary(t) for t in session.scalars(q)]
    if args.json:
        _print_json({"total": total, "offset": args.offset, "limit": limit,
                     "tickets": tickets})
        return 0
    print(listing_line(total, args.offset, len(tickets), args.status))
    tz = app.config.tz
    for t in tickets:
        due = (datetime.fromisoformat(t["reaction_due"]).astimezone(tz)
               .strftime("%d.%m.%Y %H:%M") if t["reaction_due"] else "-")
        print(f"{t['tid']}  {t['status']:<8} {t['sla_level']:<22} {due:<17} "
              f"{t['requester']}  {t['subject']}")
    return 0


def listing_line(total: int, offset: int, shown: int, status: str | None) -> str:
    """The line above a listing: how many match, and which of them are shown."""
    what = f"{total} ticket{'' if total == 1 else 's'}" + (f" {status}" if status else "")
    if shown == total:
        return what
    if shown == 0:
        return f"{what}; none shown past --offset {offset}"
    which = f"the latest {shown}" if offset == 0 else \
        f"{offset + 1}-{offset + shown} by recency"
    return f"{what}; shown: {which} (--limit N, --offset N or --all for the others)"


def cmd_tickets_show(args: argparse.Namespace) -> int:
    from daemon.cli.views import ticket_detail
    from daemon.mail.threading_tid import parse_tid
    from daemon.storage.models import Ticket

    app = _app(args)
    number = parse_tid(args.tid.strip("[]"), app.config.service.tid_prefix)
    with app.sessions() as session:
        ticket = session.get(Ticket, number) if number is not None else None
        if ticket is None:
            print(f"no ticket {args.tid}", file=sys.stderr)
            return EX_NOTFOUND
        data = ticket_detail(session, ticket, app.now())
    if args.json:
        _print_json(data)
    else:
        print(f"{data['tid']}  {data['subject']}")
        for key in ("status", "sla_level", "requester", "assignee", "received_at",
                    "reaction_due", "reaction_state", "first_response_at", "attention_reason"):
            print(f"  {key}: {data[key]}")
        for m in data["messages"]:
            print(f"  {m['at']}  {m['direction']:<3} {m['kind']:<14} {m['from']} -> "
                  f"{', '.join(m['to'])}")
            for a in m["attachments"]:
                print(f"      {a['filename']} [{a['detected_type']}] {a['verdict']} {a['reason']}")
    return 0


def cmd_outbox_flush(args: argparse.Namespace) -> int:
    from daemon.outbound import outbox
    from daemon.storage import db

    app = _app(args)
    try:
        transport = outbox.make_transport(app.config.outbound, app.token_alarm("outbound"))
        report = outbox.flush(app.outbox, transport, force=True)
    except Exception as exc:
        if db.is_temporary(exc):
            print(f"database unavailable: {exc}", file=sys.stderr)
            return EX_TEMPFAIL
        raise
    print(f"sent {report.sent}, deferred {report.deferred}, failed {report.failed}")
    return EX_TEMPFAIL if report.deferred else 0


def _parse_when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--received: {text!r} is not an ISO 8601 date and time") from None
    if when.tzinfo is None:
        raise ValueError(f"--received: {text!r} has no UTC offset (add +03:00)")
    return when


def cmd_sla_due(args: argparse.Namespace) -> int:
    from daemon.app import App

    app: App = _app(args, db=False)
    if args.level not in app.sla.levels:
        print(f"--level: unknown SLA level {args.level!r}; known: {', '.join(app.sla.levels)}",
              file=sys.stderr)
        return EX_USAGE
    try:
        when = _parse_when(args.received)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return EX_USAGE
    start, due = app.sla.deadline(args.level, when, developers_involved=args.developers)
    due_local = due.astimezone(app.config.tz)
    if args.json:
        _print_json({"level": args.level, "received": when.isoformat(),
                     "clock_start": start.astimezone(app.config.tz).isoformat(),
                     "due": due_local.isoformat()})
    else:
        print(due_local.isoformat())
    return 0


def cmd_calendar_show(args: argparse.Namespace) -> int:
    from daemon.app import App

    if args.date.isdigit() and len(args.date) == 4:
        return calendar_year.cmd_calendar_year(args, int(args.date))
    app: App = _app(args, db=False)
    try:
        day = date.fromisoformat(args.date)
    except ValueError:
        print(f"date: {args.date!r} is not a date like 2026-12-31 or a year like 2026",
              file=sys.stderr)
        return EX_USAGE
    hours = app.sla.calendar.hours_of(day)
    data = {"date": day.isoformat(), "working": hours is not None,
            "kind": app.sla.calendar.day_kind(day),
            "start": hours[0].strftime("%H:%M") if hours else None,
            "end": hours[1].strftime("%H:%M") if hours else None,
            "timezone": app.config.service.timezone}
    if args.json:
        _print_json(data)
    elif hours:
        print(f"{day.isoformat()} working {data['start']}-{data['end']} ({data['kind']})")
    else:
        print(f"{day.isoformat()} non-working ({data['kind']})")
    return 0


# ---------------------------------------------------------------- parser


def _count(text: str) -> int:
    """A whole number, 0 or more (argparse names the option when it is not)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{n} is negative")
    return n


def _add_tickets(sub: Any) -> None:
    tp = sub.add_parser("tickets", help="tickets").add_subparsers(dest="t_command",
                                                                  required=True)
    s = tp.add_parser("list", help="tickets, latest first; says how many match")
    s.add_argument("--json", action="store_true",
                   help='{"total": N, "offset": O, "limit": L or null, "tickets": [...]}')
    s.add_argument("--status", choices=("new", "open", "pending", "closed"))
    s.add_argument("--queue", action="store_true",
                   help="open tickets in the order they are served: emergencies first, "
                        "then by reaction deadline, then by arrival (§2.1)")
    shown = s.add_mutually_exclusive_group()
    shown.add_argument("--limit", type=_count, default=100, help="show N (default 100)")
    shown.add_argument("--all", action="store_true", help="show every matching ticket")
    s.add_argument("--offset", type=_count, default=0, help="skip the N latest")
    s.set_defaults(func=cmd_tickets_list)
    s = tp.add_parser("show")
    s.add_argument("tid")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_tickets_show)


def _add_ingest(sub: Any) -> None:
    s = sub.add_parser("ingest", help="take one letter from FILE or stdin (MTA pipe)")
    s.add_argument("file", nargs="?", default="-")
    s.add_argument("--sender", help="envelope sender, e.g. Postfix pipe's ${sender} "
                                    "(default: $SENDER)")
    s.add_argument("--recipient", help="envelope recipient (default: $RECIPIENT)")
    s.add_argument("--in-process", action="store_true",
                   help="process it here and print its TID, even when a daemon runs "
                        "(which would otherwise take it: the thin pipe)")
    s.set_defaults(func=cmd_ingest)


def build_parser() -> argparse.ArgumentParser:
    from daemon import __version__

    p = argparse.ArgumentParser(prog="supportd", description="e-mail technical-support desk")
    p.add_argument("--version", action="version", version=f"supportd {__version__}")
    p.add_argument("--config", help="config file (default: $SUPPORTD_CONFIG, else "
                                    "/etc/supportd/supportd.toml; never the current folder)")
    p.add_argument("--now", metavar="TIMESTAMP",
                   help="run the command at this moment, ISO 8601 with offset, e.g. "
                        "2026-12-08T11:00+03:00 (default: $SUPPORTD_NOW, else the real time; "
                        "`run` starts there and its time runs on)")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("run", help="run the daemon").set_defaults(func=cmd_run)
    # Hidden: `run` starts these itself, one per [pipeline] workers.
    s = sub.add_parser("worker")
    s.add_argument("--report-fd", type=int, required=True)
    s.add_argument("--parent", type=int, required=True)
    s.set_defaults(func=cmd_worker)
    _add_ingest(sub)
    s = sub.add_parser("check-config", help="validate the config and exit")
    s.add_argument("--probe", action="store_true",
                   help="also connect to the IMAP mailbox and the SMTP relay and log in "
                        "(OAuth2 tokens renewed); non-zero when one cannot be reached")
    s.set_defaults(func=cmd_check_config)

    admin.add_parsers(sub)  # config show, db upgrade|current|history
    backup.add_parsers(sub)  # backup, restore, store reimport
    manual.add_parsers(sub)  # completion, man

    _add_tickets(sub)
    spam.add_parser(sub)

    op = sub.add_parser("outbox", help="outgoing letters").add_subparsers(dest="o_command",
                                                                          required=True)
    op.add_parser("flush", help="send everything queued now").set_defaults(func=cmd_outbox_flush)

    registry.add_parsers(sub)  # orgs, coupons

    sp = sub.add_parser("sla", help="service levels").add_subparsers(dest="s_command",
                                                                     required=True)
    s = sp.add_parser("due", help="the reaction deadline for a letter")
    s.add_argument("--level", required=True)
    s.add_argument("--received", required=True, help="ISO 8601 with offset")
    s.add_argument("--developers", action="store_true", help="developers involved (special)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_sla_due)
    cp = sub.add_parser("calendar", help="working calendar").add_subparsers(
        dest="c_command", required=True)
    s = cp.add_parser("show", help="is a date working, and its hours; or a whole YEAR")
    s.add_argument("date")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_calendar_show)
    for commands in (report, health, storage):  # their own modules: the report (§6), health
        commands.add_parsers(sub)
    sub.metavar = "{" + ",".join(c for c in sub.choices if c != "worker") + "}"
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.root_parser = parser  # completion and man are made from it
    # An MTA bounces the client's letter on any exit but 75: for `ingest`, a bad
    # config or a crash must mean "try again later", never a lost letter.
    failing = EX_TEMPFAIL if args.command == "ingest" else EX_CONFIG
    if not getattr(args, "needs_config", True):  # completion, man: the parser alone
        return int(args.func(args))
    try:
        if args.command == "run":
            clock.hand_down(args.now)
        args.clock = clock.from_arguments(args.now, args.command)
    except clock.ClockError as exc:
        print(str(exc), file=sys.stderr)
        return EX_TEMPFAIL if args.command == "ingest" else EX_USAGE
    try:
        args.cfg = config_mod.load(args.config)
    except config_mod.ConfigError as exc:
        for each in exc.each():
            print(f"config error: {each}", file=sys.stderr)
        return failing
    logs.configure(args.cfg.logging)
    try:
        return int(args.func(args))
    except Unusable as exc:
        print(exc.line, file=sys.stderr)
        return EX_TEMPFAIL if args.command == "ingest" else exc.code
    except Exception as exc:
        if args.command == "ingest":
            print(f"temporary failure, try again later: {exc!r}", file=sys.stderr)
            return EX_TEMPFAIL
        if _database_away(exc):
            text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            print(f"database unavailable: {text[0] if text else type(exc).__name__}",
                  file=sys.stderr)
            return EX_TEMPFAIL
        raise


def _database_away(exc: BaseException) -> bool:
    """A command's database went away while it ran (not a bug of ours)."""
    if not type(exc).__module__.startswith("sqlalchemy"):
        return False
    from daemon.storage import db

    return db.is_temporary(exc)
