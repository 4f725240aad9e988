"""What the scanners cost (issue 18): the drain rate of `ingest_now` with rspamd and
clamd on against off, on the same letters.

Run: `.venv/bin/python bench/scanners.py [--n 200] [--reps 3]` (needs the Debian
packages rspamd and clamav-daemon; each is started on loopback with a throw-away
config, as the tests do: tests/support/scanners.py). "On" asks rspamd (`/checkv2`)
about every letter and streams every attachment to clamd (INSTREAM); `hold_score` is
set out of reach so that both sides do the same pipeline work after the scan. The
two sides alternate, each repetition on a fresh warmed desk (warmed with the
scanners off: the warm-up counts its tickets). The figure is the median of on/off
over the pairs, by the wall clock (what a desk drains, the scanners' own time
included) and by this process's CPU time (ours alone: building the request, the
socket, reading the answer); the difference is the scanners' time.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import structlog

from bench.harness.desks import letters_for, make_desk, warm_desk
from bench.harness.machine import bench_facts
from bench.harness.paths import WORK
from bench.harness.stats import pairs_summary


def group_cpu(pgids: tuple[int, ...]) -> float:
    """CPU seconds (user + system) of every live process in these process groups: the
    scanners' own work (rspamd's workers, clamd), read from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in pgids:  # pgrp; utime, stime follow at 11, 12
            total += int(fields[11]) + int(fields[12])
    return total / tick


def one_run(label: str, spam: object | None, antivirus: object | None,
            letters: list[tuple[bytes, str]], pgids: tuple[int, ...] = ()
            ) -> tuple[float, float, float]:
    """Letters a second by the wall clock and by this process's CPU time, and the
    scanners' CPU seconds a letter."""
    from daemon.intake.ingest import ingest_now
    from daemon.storage.spool import Envelope

    root = WORK / f"scanners-{label}"
    app = make_desk(root)
    warm_desk(app)
    if spam is not None:
        app.reconfigure(dataclasses.replace(app.config, spam=spam, antivirus=antivirus))
    theirs = group_cpu(pgids)
    started, cpu = time.perf_counter(), time.process_time()
    outcomes = [ingest_now(app, raw, Envelope(source="ingest", mail_from=sender)).outcome
                for raw, sender in letters]
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    theirs = group_cpu(pgids) - theirs
    if "waiting" in outcomes:
        raise RuntimeError(f"{label}: a scanner was away: {outcomes.count('waiting')} waited")
    app.close()
    shutil.rmtree(root, ignore_errors=True)
    return len(letters) / wall, len(letters) / cpu, theirs / len(letters)


def main() -> None:
    from daemon.config.schema import AntivirusConfig, SpamConfig
    from tests.support.scanners import Clamd, Rspamd

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    corpus = letters_for(args.n, args.seed)
    letters = [(x.raw, x.sender) for x in corpus]
    with_files = sum(b"Content-Disposition: attachment" in raw for raw, _ in letters)
    rspamd, clamd = Rspamd().start(), Clamd().start()
    try:
        spam = SpamConfig(backend="rspamd", rspamd_url=rspamd.url, hold_score=1000.0,
                          reject_score=1000.0)
        antivirus = AntivirusConfig(clamd=clamd.address)
        pgids = tuple(p.pid for p in (rspamd.proc, clamd.proc) if p is not None)
        offs, ons = [], []
        for rep in range(args.reps):
            offs.append(one_run("off", None, None, letters))
            ons.append(one_run("on", spam, antivirus, letters, pgids))
            print(f"rep {rep + 1}: off {offs[-1][0]:.1f}/s (cpu {offs[-1][1]:.1f}/s), "
                  f"on {ons[-1][0]:.1f}/s (cpu {ons[-1][1]:.1f}/s)", flush=True)
    finally:
        rspamd.stop()
        clamd.close()
    facts = bench_facts(None)
    print(f"\n{facts['date']}, {facts['cores']} cores {facts['cpu']}, load before "
          f"{facts['load_before']}, commit {facts['commit']}; {len(letters)} letters, "
          f"{with_files} with attachments")
    print("\n".join(pairs_summary(offs, ons)))
    wall_ms = statistics.median(1000 / b[0] - 1000 / a[0] for a, b in zip(offs, ons,
                                                                           strict=True))
    ours_ms = statistics.median(1000 / b[1] - 1000 / a[1] for a, b in zip(offs, ons,
                                                                          strict=True))
    theirs_ms = statistics.median(b[2] * 1000 for b in ons)
    off_ms = statistics.median(1000 / a[0] for a in offs)
    print(f"per letter (medians over the pairs): {off_ms:.2f} ms off; on adds "
          f"{wall_ms:+.2f} ms by the wall clock, of which our own CPU {ours_ms:+.2f} ms; "
          f"the scanners' own CPU {theirs_ms:.2f} ms a letter (rspamd and clamd, read "
          "from /proc)")


if __name__ == "__main__":
    main()
