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


def _app(args: argparse.Namespace) -> Any:
    from daemon.app import App

    return App(args.cfg, clock=getattr(args, "clock", None))
