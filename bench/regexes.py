"""Which of the daemon's regular expressions are slow on long runs of one character.

A letter's text is up to 500,000 characters (guard.MAX_TEXT_CHARS); a pattern that
rescans a run from each of its characters (``[\\w.]+@`` on 50,000 X) turns one letter
into minutes. This walks every module-level pattern of the `daemon` package, searches
runs of 20,000 of the characters such patterns stumble on, and prints the slowest
search of each pattern that took over --over seconds (each cut at 10 s).

Patterns that only ever read a bounded piece (a subject, 480 characters of a report's
opening, one header field) show here too; the call sites say which: see the notes in
bench/RESULTS.md. Run: `.venv/bin/python bench/regexes.py [--n 20000] [--over 0.05]`.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import signal
import sys
import time
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import daemon

RUNS = ["X", " ", "\t", "\n", "\r\n", " \n", "a.", "@", "a@", "-", "*", ">", "=", ":",
        "1", "а", "<", "#", "x:", " :", "=?"]
CUT = 10


class _Cut(Exception):
    pass


def _cut(_signum: int, _frame: FrameType | None) -> None:
    raise _Cut


def patterns() -> dict[str, re.Pattern[str] | re.Pattern[bytes]]:
    found: dict[str, re.Pattern[str] | re.Pattern[bytes]] = {}
    for module in pkgutil.walk_packages(daemon.__path__, "daemon."):
        if module.name.endswith(("__main__", "migrations.env")):
            continue
        for name, value in vars(importlib.import_module(module.name)).items():
            if isinstance(value, re.Pattern):
                found[f"{module.name}.{name}"] = value
    return found


def slowest(pattern: re.Pattern[str] | re.Pattern[bytes], n: int) -> tuple[float, str]:
    worst = (0.0, "")
    for run in RUNS:
        text = (run * n)[:n]
        subject: str | bytes = text.encode() if isinstance(pattern.pattern, bytes) else text
        start = time.perf_counter()
        signal.alarm(CUT)
        try:
            pattern.search(subject)  # type: ignore[arg-type]
        except _Cut:
            pass
        finally:
            signal.alarm(0)
        worst = max(worst, (time.perf_counter() - start, run))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="length of each run")
    parser.add_argument("--over", type=float, default=0.05, help="seconds worth printing")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _cut)
    found = patterns()
    print(f"{len(found)} patterns, runs of {args.n:,} characters")
    for name, pattern in sorted(found.items()):
        seconds, run = slowest(pattern, args.n)
        if seconds > args.over:
            print(f"{seconds:7.2f} s  {name}  on {run!r}")


if __name__ == "__main__":
    main()
