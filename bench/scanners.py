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


def one_run(label: str, spam: object | None, antivirus: object | None,
            letters: list[tuple[bytes, str]]) -> tuple[float, float]:
    """Letters a second by the wall clock and by this process's CPU time."""
    from daemon.intake.ingest import ingest_now
    from daemon.storage.spool import Envelope

    root = WORK / f"scanners-{label}"
    app = make_desk(root)
    warm_desk(app)
    if spam is not None:
        app.reconfigure(dataclasses.replace(app.config, spam=spam, antivirus=antivirus))
    started, cpu = time.perf_counter(), time.process_time()
    outcomes = [ingest_now(app, raw, Envelope(source="ingest", mail_from=sender)).outcome
                for raw, sender in letters]
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    if "waiting" in outcomes:
        raise RuntimeError(f"{label}: a scanner was away: {outcomes.count('waiting')} waited")
    app.close()
    shutil.rmtree(root, ignore_errors=True)
    return len(letters) / wall, len(letters) / cpu


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
        offs, ons = [], []
        for rep in range(args.reps):
            offs.append(one_run("off", None, None, letters))
            ons.append(one_run("on", spam, antivirus, letters))
            print(f"rep {rep + 1}: off {offs[-1][0]:.1f}/s (cpu {offs[-1][1]:.1f}/s), "
                  f"on {ons[-1][0]:.1f}/s (cpu {ons[-1][1]:.1f}/s)", flush=True)
    finally:
        rspamd.stop()
        clamd.close()
    facts = bench_facts(None)
    print(f"\n{facts['date']}, {facts['cores']} cores {facts['cpu']}, load before "
          f"{facts['load_before']}, commit {facts['commit']}; {len(letters)} letters, "
          f"{with_files} with attachments")
    for k, what in ((0, "wall clock"), (1, "CPU time")):
        off, on = [x[k] for x in offs], [x[k] for x in ons]
        ratios = [b / a for a, b in zip(off, on, strict=True)]
        print(f"{what}: off median {statistics.median(off):.1f} letters/s, on median "
              f"{statistics.median(on):.1f}; on/off median {statistics.median(ratios):.3f} "
              f"{[round(x, 3) for x in ratios]}")
    off_ms = 1000 / statistics.median([x[0] for x in offs])
    on_ms = 1000 / statistics.median([x[0] for x in ons])
    ours = 1000 / statistics.median([x[1] for x in ons]) - 1000 / statistics.median(
        [x[1] for x in offs])
    print(f"per letter: {off_ms:.2f} ms off, {on_ms:.2f} ms on (+{on_ms - off_ms:.2f} ms), "
          f"of which our own CPU +{ours:.2f} ms, the scanners (and waiting on them) "
          f"{on_ms - off_ms - ours:.2f} ms")


if __name__ == "__main__":
    main()
