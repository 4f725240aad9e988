"""How many reaction deadlines one core computes per second.

Run: `.venv/bin/python bench/deadlines.py [--n 200000] [--seed 1]`. Receipts are random
instants of 2025-2027 (any hour, weekends and holidays included); each level is timed
over the same receipts through `daemon.sla.reaction_due`, which is what the pipeline calls.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from daemon.sla.business_hours import MOSCOW, WorkingCalendar
from daemon.sla.levels import DEFAULT_LEVELS, reaction_due

# (level, developers involved): `special` with developers runs 1 hour on the working clock.
CASES = (("special", True), ("licensee-standard", False), ("consultation", False),
         ("development", False))


def receipts(n: int, seed: int) -> list[datetime]:
    rnd = random.Random(seed)
    first = datetime(2025, 1, 1, tzinfo=MOSCOW)
    span = int((datetime(2028, 1, 1, tzinfo=MOSCOW) - first).total_seconds())
    return [first + timedelta(seconds=rnd.randrange(span)) for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="receipts per level")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    started = time.perf_counter()
    calendar = WorkingCalendar()
    print(f"calendar built in {(time.perf_counter() - started) * 1000:.0f} ms")
    sample = receipts(args.n, args.seed)
    for code, developers in CASES:
        level = DEFAULT_LEVELS[code]
        reaction_due(level, sample[0], calendar, developers)  # warm up
        started = time.perf_counter()
        for received in sample:
            reaction_due(level, received, calendar, developers)
        elapsed = time.perf_counter() - started
        what = (f"{level.reaction} working days" if isinstance(level.reaction, int)
                else f"{level.reaction / timedelta(hours=1):g} working hours")
        print(f"{code:<18} {what:<17} {args.n / elapsed:>10,.0f} deadlines/s")


if __name__ == "__main__":
    main()
