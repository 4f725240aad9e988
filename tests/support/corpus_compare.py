"""How many corpus letters changed outcome between two runs, and why.

`tests/integration/test_corpus.py` writes `corpus-letters.tsv` (one line per letter:
outcome and reason) beside its summary. Run it before and after a change to the
pipeline, then compare:

    python -m tests.support.corpus_compare BEFORE.tsv AFTER.tsv

It prints the number of letters whose outcome changed, grouped by (was -> is) and
the new reason's first words, then every such letter with both reasons, so that
each change can be read and judged. Letters whose reason alone changed are counted
apart. Exit status 0 always: the judging is a person's.
"""

from __future__ import annotations

import csv
import re
import sys
from collections import Counter
from pathlib import Path

_TICKET_NUMBERS = re.compile(r"\bticket \d+\b")


def read(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return {row["letter"]: row for row in csv.DictReader(f, delimiter="\t")}


def why(reason: str) -> str:
    """The reason without what differs letter by letter (ticket numbers, details)."""
    head = _TICKET_NUMBERS.sub("ticket N", reason)
    return head.split(" (", 1)[0].split(";", 1)[0][:80]


def compare(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> str:
    changed: list[tuple[str, str, str, str, str]] = []
    reworded = 0
    for name, old in before.items():
        new = after.get(name)
        if new is None:
            continue
        if old["outcome"] != new["outcome"]:
            changed.append((name, old["outcome"], new["outcome"], old["reason"], new["reason"]))
        elif why(old["reason"]) != why(new["reason"]):
            reworded += 1
    groups = Counter((was, now, why(reason)) for _, was, now, _, reason in changed)
    lines = [f"letters in both runs: {len(set(before) & set(after))}",
             f"outcome changed: {len(changed)}",
             f"same outcome, other reason: {reworded}"]
    lines += [f"  {n:4} x {was} -> {now}: {reason}"
              for (was, now, reason), n in groups.most_common()]
    lines.append("letters:")
    lines += [f"  {name}\n      was {was}: {old_reason[:160]}\n      now {now}: {reason[:200]}"
              for name, was, now, old_reason, reason in changed]
    missing = set(before) ^ set(after)
    if missing:
        lines.append(f"in one run only: {len(missing)}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 64
    print(compare(read(Path(argv[1])), read(Path(argv[2]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
