"""The administrator's commands about the installation itself: `config show`, and the
database's schema (`db upgrade`, `db current`, `db history`).

`config show` prints the configuration in force with every default filled in
(`--defaults`: every key, its default and its doc), and the schedules of the
periodic work. The `db` commands say what they found and what they did: the
revision a database was at, each migration applied, the one it is at now.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from daemon.cli.common import EX_CONFIG, EX_TEMPFAIL, _print_json


def cmd_config_show(args: argparse.Namespace) -> int:
    from daemon.config.schema import Config
    from daemon.config.show import render
    from daemon.service.schedule import describe

    if args.defaults:
        sys.stdout.write(render(Config(), docs=True))
        return 0
    sys.stdout.write(render(args.cfg, extra={"scheduler": describe(args.cfg)}))
    return 0


def _where(url: str) -> str:
    from daemon.config.show import hide_password

    return hide_password(url)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from daemon.storage import db, revisions

    url = args.cfg.storage.url
    state = revisions.examine(url, empty_ok=True)
    if state.problem is not None:
        print(state.problem[1], file=sys.stderr)
        return state.problem[0]
    target = revisions.head()
    if state.revision == target:
        print(f"database is up to date: {target} ({_where(url)})")
        return 0
    print(f"database at {state.revision or 'nothing (new)'}, upgrading to {target} "
          f"({_where(url)})")
    titles = {r.id: r.title for r in revisions.known()}

    def applied(*, step: Any, **_: Any) -> None:
        rev = step.up_revision_id
        print(f"  applied {rev}: {titles.get(rev, '')}", flush=True)

    try:
        db.upgrade(url, on_version_apply=applied)
    except Exception as exc:
        print(f"database upgrade failed: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return EX_TEMPFAIL if db.is_temporary(exc) else 1
    print(f"database is at {target}")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    from daemon.storage import revisions

    state = revisions.examine(args.cfg.storage.url)
    target = revisions.head()
    if args.json:
        _print_json({"current": state.revision, "head": target,
                     "problem": state.problem[1] if state.problem else None})
    elif state.problem is None:
        print(f"{state.revision} (head)")
    elif state.revision is not None:
        print(f"{state.revision}")
    if state.problem is not None:
        print(state.problem[1], file=sys.stderr)
        return state.problem[0]
    return 0


def cmd_db_history(args: argparse.Namespace) -> int:
    from daemon.storage import revisions

    state = revisions.examine(args.cfg.storage.url)
    current = state.revision
    known = revisions.known()
    if args.json:
        _print_json({"current": current, "head": known[-1].id,
                     "revisions": [{"id": r.id, "title": r.title, "applied":
                                    current is not None and r.id <= current}
                                   for r in known]})
        return 0
    for r in known:
        mark = ("  <- current" if r.id == current else "") + (
            "  (head)" if r is known[-1] else "")
        applied = "*" if current is not None and r.id <= current else " "
        print(f"{applied} {r.id}  {r.title}{mark}")
    if state.problem is not None and state.problem[0] == EX_CONFIG:
        print(state.problem[1], file=sys.stderr)
    return 0


def add_parsers(sub: Any) -> None:
    s = sub.add_parser("config", help="the configuration").add_subparsers(
        dest="cfg_command", required=True)
    show = s.add_parser("show", help="the configuration in force, every default filled in")
    show.add_argument("--defaults", action="store_true",
                      help="every key with its default and its one-line doc")
    show.set_defaults(func=cmd_config_show)

    dbp = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    dbp.add_parser("upgrade", help="migrate to the latest schema, saying each step").set_defaults(
        func=cmd_db_upgrade)
    s = dbp.add_parser("current", help="the schema revision the database holds")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_db_current)
    s = dbp.add_parser("history", help="the migrations this code knows; * applied")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_db_history)
