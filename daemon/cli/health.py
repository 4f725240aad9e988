"""`supportd health [--json]`: is the desk working? Exit 0 when it is, 69 (and one line
per problem on stderr) when the database is unreachable or not migrated, a letter is
stuck in the spool or the outbox, or the calendar has no data for this year."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from daemon.cli.common import EX_UNAVAILABLE, _app, _print_json


def cmd_health(args: argparse.Namespace) -> int:
    from daemon.service.health import check

    app = _app(args, db=False)  # a database away is one of the answers, not an error
    h = check(app)
    if args.json:
        _print_json({"ok": h.ok, "problems": h.problems, "checks": h.checks})
    else:
        print("healthy" if h.ok else "unhealthy")
        for key, value in h.checks.items():
            print(f"  {key}: {value}")
    for problem in h.problems:
        print(problem, file=sys.stderr)
    app.close()
    return 0 if h.ok else EX_UNAVAILABLE


def add_parsers(sub: Any) -> None:
    s = sub.add_parser("health", help="is the desk working (exit 69 and why, when not)")
    s.add_argument("--json", action="store_true",
                   help='{"ok": true|false, "problems": [...], "checks": {...}}')
    s.set_defaults(func=cmd_health)
