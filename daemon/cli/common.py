"""What the command line's modules share: sysexits codes, JSON output, the App.

Exit codes follow sysexits(3): 0 done, 64 bad value, 65 refused input, 66 no such
file, 69 not found, 75 try again later, 78 bad config.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EX_USAGE, EX_DATAERR, EX_NOTFOUND, EX_TEMPFAIL, EX_CONFIG = 64, 65, 69, 75, 78
EX_UNAVAILABLE, EX_CANTCREAT = 69, 73


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


class Unusable(Exception):
    """The database cannot serve this command: one line for the admin, an exit code
    (75: try again once it is up, upgraded or created; 78: the config is wrong)."""

    def __init__(self, code: int, line: str) -> None:
        super().__init__(line)
        self.code, self.line = code, line


def _app(args: argparse.Namespace, *, db: bool = True) -> Any:
    """The App for a command. `db`: the command reads or writes the database, so it
    must be there, reachable and at this code's schema (`Unusable` otherwise); an
    SQLite file that is not there is never created by asking."""
    from daemon.app import App

    if db:
        from daemon.storage import revisions

        state = revisions.examine(args.cfg.storage.url)
        if state.problem is not None:
            raise Unusable(*state.problem)
    return App(args.cfg, clock=getattr(args, "clock", None))
