"""The benchmark of issue 5: one run, the same seeded letters, medians of 3 or more.

    .venv/bin/python bench/run.py            # everything (what `make bench` runs), ~15 min
    .venv/bin/python bench/run.py --quick    # a smoke run on a few letters, ~3 min
    .venv/bin/python bench/run.py ceiling ingest smtp   # only some measurements

Measurements (names for the command line):

  ceiling   1. the stdlib parser alone: BytesParser(policy=default), walk, get_content()
  ingest    2. supportd in-process through `ingest_now` (what `supportd ingest` runs) on
               SQLite and PostgreSQL, each repetition on a fresh desk
  queue     2. the daemon's own queue: spool.accept (fsync'd, what the listener does)
               then runner.drain (pipeline, commit, acknowledgement queued)
  pipe      2. `supportd ingest` as a subprocess per letter, as an MTA pipe runs it
  pipe_thin 2. the same beside a running `supportd run`: the thin pipe (issue 14)
  postfix_pipe 2. the thin pipe through a real Postfix's pipe(8), maxproc 2 and 4 (root)
  smtp      3. `supportd run` over SMTP: a burst on 16 connections, then 100 letters/s
               paced on 16 connections; accept latency = end of DATA to the 250
  peer      4. django-helpdesk (PyPI, own venv bench/.peer-venv), `get_email` on a folder
  rss       5. peak RSS of `supportd ingest` and of the daemon with a 25 MB letter
  scale     6. ingest and threading lookups on 1,000,000 bulk-loaded tickets vs 1,000
  deadlines 7. bench/deadlines.py
  profile      py-spy over in-process ingest (where the time goes)

Each measurement is a module of bench/measures/ (named as above); what they share
(desks, daemons, children, PostgreSQL databases, machine facts) is bench/harness/,
which the tests use too. `supportd` runs as `python -m daemon.cli` of this checkout.

Results: bench/.work/results.json, and the block between the run.py markers in
bench/RESULTS.md (the rest of that file is left alone; bench/report.py writes the
block). Every child process logs to bench/.work/logs/. The harness only starts
processes of its own and stops them by pid.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a script: the bench package and the daemon are this checkout's.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import corpus  # noqa: E402
from bench.harness.children import emit  # noqa: E402
from bench.harness.desks import letters_for  # noqa: E402
from bench.harness.machine import bench_facts  # noqa: E402
from bench.harness.paths import BENCH, LOGS, WORK  # noqa: E402
from bench.harness.postgres import DEFAULT_PG, pg_sweep, pg_version, pg_wait  # noqa: E402
from bench.harness.progress import say  # noqa: E402
from bench.measures import (  # noqa: E402
    ceiling,
    deadlines,
    ingest,
    peer,
    pipe,
    postfix_pipe,
    profile,
    queue,
    rss,
    scale,
    smtp,
)
from bench.report import render  # noqa: E402

RESULTS_MD = BENCH / "RESULTS.md"
BEGIN, END = "<!-- run.py:begin -->", "<!-- run.py:end -->"

# ---------------------------------------------------------------- sizes

FULL = dict(n=300, reps=3, pipe_n=8, pipe_thin_n=60, postfix_n=200, smtp_burst=300,
            smtp_rate=100, smtp_seconds=10,
            smtp_conns=16, peer_n=300, big=25_000_000, scale_big=1_000_000,
            scale_small=1_000, scale_letters=40, lookups=1000, deadlines_n=100_000,
            profile_n=150)
QUICK = dict(n=40, reps=3, pipe_n=4, pipe_thin_n=20, postfix_n=30, smtp_burst=40,
             smtp_rate=100, smtp_seconds=2,
             smtp_conns=16, peer_n=40, big=5_000_000, scale_big=20_000, scale_small=1_000,
             scale_letters=15, lookups=300, deadlines_n=20_000, profile_n=30)

# In the order they run; each takes (sizes, seed, PostgreSQL URL or None).
MEASURES: dict[str, Callable[[dict[str, Any], int, str | None], dict[str, Any]]] = {
    "ceiling": ceiling.measure, "ingest": ingest.measure, "queue": queue.measure,
    "pipe": pipe.measure, "pipe_thin": pipe.measure_thin,
    "postfix_pipe": postfix_pipe.measure, "smtp": smtp.measure,
    "peer": peer.measure, "rss": rss.measure,
    "scale": scale.measure, "deadlines": deadlines.measure, "profile": profile.measure,
}
# What `run.py _child NAME ARGS` runs in a fresh interpreter (bench/harness/children.py).
CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "ceiling": ceiling.child_ceiling, "ingest": ingest.child_ingest,
    "queue": queue.child_queue, "fsync": ingest.child_fsync,
    "rss_probe": rss.child_rss_probe, "scale": scale.child_scale,
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="measurements to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="a smoke run on a few letters")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="PostgreSQL server to create "
                        "throw-away databases on ('' to skip PostgreSQL)")
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md alone")
    args = parser.parse_args()
    if not (args.only and args.only[0] == "_child"):
        unknown = set(args.only) - set(MEASURES)
        if unknown:
            parser.error(f"unknown measurement(s): {', '.join(sorted(unknown))}")
    return args


def usable_pg(url: str) -> str | None:
    """The PostgreSQL server to use, None when none is asked for or it does not answer;
    databases an earlier run left behind on it are dropped."""
    pg = url or None
    if pg and pg_version(pg).startswith("unavailable"):
        say("PostgreSQL unavailable at", pg, "- skipping its figures")
        pg = None
    if pg:
        with contextlib.suppress(Exception):
            pg_sweep(pg)
    return pg


def start_results(args: argparse.Namespace, todo: list[str], pg: str | None,
                  sz: dict[str, Any]) -> dict[str, Any]:
    """The results so far: a partial run updates an earlier full one (keeping its
    header and noting the re-run), anything else starts afresh."""
    results_path = WORK / "results.json"
    res: dict[str, Any] = {}
    if args.only and results_path.exists():
        res = json.loads(results_path.read_text())
    command = " ".join(["bench/run.py", *sys.argv[1:]])
    if args.only and "machine" in res and res.get("quick") == args.quick:
        res.setdefault("reruns", []).append(
            f"{', '.join(todo)} re-run {datetime.now(UTC).strftime('%H:%M UTC')} "
            f"(`{command}`)")
    else:
        res = {"machine": bench_facts(pg), "command": command, "quick": args.quick}
    res["sizes"] = sz
    res["corpus"] = corpus.summary(letters_for(sz["n"], args.seed))
    return res


def save(res: dict[str, Any]) -> None:
    (WORK / "results.json").write_text(json.dumps(res, ensure_ascii=False, indent=1,
                                                  default=str))


def run_step(res: dict[str, Any], name: str, fn: Callable[[], dict[str, Any]]) -> None:
    """One measurement, its time and the load around it; a failure is recorded as its
    result and the run goes on."""
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    say(f"{name} ... (load average {load0:.2f})")
    try:
        res[name] = fn()
    except Exception as exc:  # noqa: BLE001 - one failed measurement must not end the run
        res[name] = {"error": f"{type(exc).__name__}: {exc}"[:3000]}
    res[name + "_seconds"] = round(time.perf_counter() - t0, 1)
    res.setdefault("load", {})[name] = [round(load0, 2), round(os.getloadavg()[0], 2)]
    say(f"{name} done in {res[name + '_seconds']} s:",
        json.dumps(res[name], ensure_ascii=False, default=str)[:600])
    save(res)


def main() -> None:
    args = parse_args()
    if args.only and args.only[0] == "_child":
        emit(CHILDREN[args.only[1]](json.loads(args.only[2])))
        return
    sz = QUICK if args.quick else FULL
    todo = args.only or list(MEASURES)
    pg = usable_pg(args.pg_url)
    WORK.mkdir(exist_ok=True)
    LOGS.mkdir(exist_ok=True)
    res = start_results(args, todo, pg, sz)
    started = time.perf_counter()
    for name, measure in MEASURES.items():
        if name in todo:
            run_step(res, name, lambda m=measure: m(sz, args.seed, pg))  # type: ignore[misc]
    if "smtp" in todo:
        profile.add_smtp_profile(res, sz)
    if pg and pg_wait(pg, 120):
        with contextlib.suppress(Exception):
            left = pg_sweep(pg)
            if left:
                say("dropped databases left behind:", ", ".join(left))
    if not res.get("reruns"):
        res["total_seconds"] = round(time.perf_counter() - started, 1)
    save(res)
    block = render(res)
    print(block)
    if not args.no_write:
        write_block(block)
        say("wrote", RESULTS_MD)
    say(f"total {time.perf_counter() - started:.1f} s")


def write_block(block: str) -> None:
    """Put `block` between the run.py markers of RESULTS.md (the rest is left alone)."""
    text = RESULTS_MD.read_text(encoding="utf-8") if RESULTS_MD.exists() else "# Benchmarks\n"
    full = f"{BEGIN}\n{block.rstrip()}\n{END}"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + full + tail
    else:
        title, nl, rest = text.partition("\n")
        text = f"{title}{nl}\n{full}\n{rest}"
    RESULTS_MD.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
