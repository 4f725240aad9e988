"""Render bench/.work/results.json as the Markdown block bench/run.py puts in RESULTS.md.

    .venv/bin/python bench/report.py            # print the block from the last run

The block is the run's header (command, machine, corpus) and the headline table of
ratios against the targets (bench/report_headline.py), then the details: every
repetition, what durability costs, the SMTP runs, the peer, where the memory is,
scale, deadlines, profiles (bench/report_details.py). bench/report_figures.py says
how a figure is written.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a script: the bench package is this checkout's.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import report_details as details  # noqa: E402
from bench import report_headline as headline  # noqa: E402
from bench.report_figures import Figures  # noqa: E402

WORK = Path(__file__).resolve().parent / ".work"


def render(r: dict[str, Any]) -> str:
    f = Figures(r)
    sections: list[Callable[[Figures], list[str]]] = [
        headline.header, headline.ingest_rows, headline.daemon_rows,
        headline.peer_memory_rows, headline.scale_deadline_rows,
        details.rates, details.durability, details.outcomes_smtp,
        details.peer_text, details.memory_text, details.scale_table,
        details.deadlines_text, details.profile_tables]
    return "\n".join(line for section in sections for line in section(f))


if __name__ == "__main__":
    print(render(json.loads((WORK / "results.json").read_text())))
    sys.exit(0)
