"""The soak: thousands of mixed letters through a real Postfix into `supportd run`,
and every one of them accounted for. Run by hand, not in CI (it needs root and
Debian's postfix, and takes minutes):

    .venv/bin/python bench/soak.py --letters 10000            # LMTP, SQLite
    .venv/bin/python bench/soak.py --letters 200 --via smtp   # a quick check, SMTP relay
    .venv/bin/python bench/soak.py --letters 10000 --postgres postgresql+psycopg://u:p@127.0.0.1/postgres

What it does:

1. starts a private, throw-away Postfix (bench/harness/postfix.py: own main.cf,
   queue and log in a temp folder, smtpd on a free loopback port) whose transport
   map sends techsupport@example.ru to supportd (LMTP or SMTP relay, docs/admin.md
   (a)/(b)) and everything else (bounces to the senders) to an SMTP sink;
2. starts `supportd run` as a subprocess on a fresh SQLite database (or a fresh
   database on the given PostgreSQL server), outbound letters into a Maildir;
3. sends a seeded mix of letters to Postfix's smtpd on several concurrent smtplib
   connections: new letters (UTF-8, KOI8-R, windows-1251; 8bit, base64, QP),
   letters with small PNG/BMP attachments, replies to tickets of this run (by TID
   in the subject, or only by In-Reply-To/References to our acknowledgement),
   exact duplicates (the same bytes, the same Message-ID), auto-replies
   (Auto-Submitted; without a TID, and from a client naming its TID), delivery
   reports of our own acknowledgements and of letters we never sent, broken MIME,
   letters bigger than supportd's limit (Postfix takes them, supportd's SIZE
   refuses them, Postfix bounces them to the sender) and letters bigger than
   Postfix's own limit (refused at MAIL FROM). Replies, duplicates, auto-replies
   naming a TID and bounces only go to tickets known to exist: their TIDs and our
   acknowledgements' Message-IDs are read from the outbox Maildir as the daemon
   writes them; until a ticket is known such a letter waits;
4. waits until Postfix's queue is empty, supportd's spool has nothing in
   incoming/, processing/ or tmp/, and the `inbound` table has a row for every
   letter Postfix delivered;
5. accounts for every letter sent, one by one: the Postfix queue id from smtpd's
   250 -> the maillog's `status=sent (... queued as SPOOL-ID)` -> the `inbound`
   row of that spool id (outcome and reason); or Postfix's `status=bounced (reason)`;
   or, refused at SMTP time, Postfix's `NOQUEUE: reject` line (found by the
   connection's unique HELO name). Anything else is "missing", listed with examples;
6. prints a table and writes it to bench/soak-results.md (--out).

The mix and every letter's text come from --seed; which earlier ticket a reply
goes to depends on which acknowledgements have arrived, so it varies a little
between runs. Only processes this script started are stopped, by their pid.

This file is the command and the order of the run; its jobs are bench/soak_jobs/:
the letters (letters.py, mix.py), sending (send.py), watching (watch.py),
accounting (account.py), the table (render.py), the desk (desk.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# Run as a script: the bench package and the daemon are this checkout's.
sys.path.insert(0, str(HERE.parent))

from bench.harness.daemon import Daemon  # noqa: E402
from bench.harness.desk_config import free_port  # noqa: E402
from bench.harness.machine import soak_facts  # noqa: E402
from bench.harness.postfix import Postfix, Sink, skip_reason  # noqa: E402
from bench.harness.progress import say as _say  # noqa: E402
from bench.soak_jobs.account import account  # noqa: E402
from bench.soak_jobs.desk import Database, write_soak_config  # noqa: E402
from bench.soak_jobs.letters import DESK  # noqa: E402
from bench.soak_jobs.mix import POSTFIX_LIMIT, Mix  # noqa: E402
from bench.soak_jobs.render import render  # noqa: E402
from bench.soak_jobs.send import Dispatcher, send_all  # noqa: E402
from bench.soak_jobs.watch import AckWatcher, Maillog, progress, settle  # noqa: E402


def say(*parts: object) -> None:
    _say(*parts, who="soak")


def wait_for_bench(max_wait: float) -> str:
    """Wait (every 30 s, up to max_wait) until no bench/run.py runs on this machine."""
    started = time.monotonic()
    while True:
        p = subprocess.run(["pgrep", "-f", "bench/run.py"], capture_output=True, text=True)
        mine = {str(os.getpid())}
        pids = [x for x in p.stdout.split() if x not in mine]
        if not pids:
            return f"waited {time.monotonic() - started:.0f} s for bench/run.py"
        if time.monotonic() - started > max_wait:
            return f"bench/run.py still running after {max_wait:.0f} s (pids {pids}); ran anyway"
        say(f"bench/run.py is running (pids {' '.join(pids)}); waiting 30 s", who="soak")
        time.sleep(30)


@dataclass
class Soak:
    """One soak's pieces: the plan, the work folder, the desk and its daemon, the
    private Postfix and the senders' sink, and what is known of the run so far."""

    args: argparse.Namespace
    mix: Mix
    work: Path
    db: Database
    port: int
    daemon: Daemon
    sink: Sink = field(default_factory=Sink)
    mta: Postfix | None = None
    acks: AckWatcher | None = None
    result: dict[str, Any] = field(default_factory=dict)
    ok: bool = False

    def postfix(self) -> Postfix:
        nexthop = {"lmtp": f"lmtp:inet:127.0.0.1:{self.port}",
                   "smtp": f"smtp:[127.0.0.1]:{self.port}"}
        return Postfix(routes={DESK: nexthop[self.args.via]}, sink_port=self.sink.port, main={
            "message_size_limit": str(POSTFIX_LIMIT),
            # deferred letters come back soon, not after Postfix's usual minutes
            "queue_run_delay": "10s", "minimal_backoff_time": "10s",
            "maximal_backoff_time": "30s",
        })

    def drive(self, bench_note: str) -> None:
        """Start everything, send the letters, wait for them to settle, account."""
        args, mta = self.args, self.mta
        assert mta is not None
        self.sink.__enter__()
        mta.start()
        self.daemon.start()
        dispatcher = Dispatcher(self.mix, args.seed)
        self.acks = AckWatcher(self.work / "outbox", dispatcher.on_ack)
        self.acks.start()
        log = Maillog(mta.log_path)
        say(f"Postfix {mta.port} -> supportd {self.port} ({args.via}), {self.db.label}; "
            f"sending {len(self.mix.kinds)} letters on {args.conns} connections")
        t0 = time.monotonic()
        stop_progress = progress(log, dispatcher, self.db)
        sent, errors = send_all(mta.host, mta.port, dispatcher, args.conns, args.park_timeout)
        t_sent = time.monotonic()
        say(f"sent {len(sent)} in {t_sent - t0:.1f} s; waiting for Postfix and supportd")
        accepted = {s.qid for s in sent if s.qid}
        settled, state = settle(mta, log, self.work / "spool", self.db, accepted,
                                args.timeout, self.daemon, errors)
        t_done = time.monotonic()
        stop_progress()
        self.acks.stopping.set()
        say(f"{'settled' if settled else 'NOT settled'} after {t_done - t0:.1f} s: {state}")
        log.read()
        result = account(sent, log, self.db, self.work / "spool", self.mix)
        result.update(seconds=t_done - t0, send_seconds=t_sent - t0, settled=settled,
                      state=state, errors=errors, bench_note=bench_note, db=self.db.label,
                      parked_max=dispatcher.parked_max, acks_read=self.acks.files,
                      bounces_to_senders=len(self.sink.received))
        self.result = result
        self.ok = (settled and result["missing"] == 0
                   and not result["outcomes"].get("shunted") and not result["extra"])
        shutil.copy(mta.log_path, self.work / "maillog")

    def stop(self) -> None:
        """Stop what was started, keep the maillog, drop the database (unless asked
        to keep a PostgreSQL one)."""
        if self.acks is not None:
            self.acks.stopping.set()
        code = (self.daemon.stop(timeout=60, kill_late=True)
                if self.daemon.proc is not None else None)
        if code not in (0, None):
            say(f"supportd exited {code} on SIGTERM")
        if self.mta is not None:
            with contextlib.suppress(Exception):
                if self.mta.log_path.exists():
                    shutil.copy(self.mta.log_path, self.work / "maillog")
            self.mta.stop()
        with contextlib.suppress(Exception):
            self.sink.__exit__(None, None, None)
        if not self.args.postgres or not self.args.keep:
            with contextlib.suppress(Exception):
                self.db.drop()


def prepare(args: argparse.Namespace) -> Soak | None:
    """The plan, the work folder, the desk's database and config, migrated; None
    (having said why) when the database could not be migrated."""
    mix = Mix(args.letters, args.seed)
    work = Path(tempfile.mkdtemp(prefix="supportd-soak-"))
    work.chmod(0o755)
    say(f"work folder {work}; plan: {dict(sorted(mix.counts.items()))}")
    db = Database(work, args.postgres)
    port = free_port()
    cfg = write_soak_config(work, port, args.via == "lmtp", db.url)
    daemon = Daemon(work, port, cfg, name="supportd")
    p = daemon.cli("db", "upgrade", timeout=300)
    if p.returncode != 0:
        say("supportd db upgrade failed:", p.stderr.decode(errors="replace"))
        return None
    return Soak(args, mix, work, db, port, daemon)


def run(args: argparse.Namespace) -> int:
    reason = skip_reason()
    if reason:
        say("cannot run:", reason)
        return 2
    bench_note = wait_for_bench(args.wait_bench) if args.wait_bench > 0 else "not checked"
    soak = prepare(args)
    if soak is None:
        return 2
    soak.mta = soak.postfix()
    try:
        soak.drive(bench_note)
    finally:
        soak.stop()
    if not soak.result:
        say(f"no result; logs kept in {soak.work}")
        return 1
    soak.result["machine"] = soak_facts()
    report = render(soak.result, args)
    print(report)
    if args.out:
        Path(args.out).write_text(report, encoding="utf-8")
        say(f"written to {args.out}")
    if args.keep or not soak.ok:
        say(f"kept {soak.work} (supportd.log, maillog, spool, database)")
    else:
        shutil.rmtree(soak.work, ignore_errors=True)
    return 0 if soak.ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--letters", type=int, default=10000)
    ap.add_argument("--via", choices=("lmtp", "smtp"), default="lmtp")
    ap.add_argument("--postgres", metavar="URL", help="an admin URL of a PostgreSQL server; "
                    "a fresh database is created on it (and dropped afterwards)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--conns", type=int, default=8, help="concurrent SMTP connections")
    ap.add_argument("--timeout", type=float, default=3600,
                    help="seconds to wait after sending for everything to settle")
    ap.add_argument("--park-timeout", type=float, default=900,
                    help="seconds a reply may wait for a ticket to become known")
    ap.add_argument("--wait-bench", type=float, default=1200,
                    help="wait up to this long (polling every 30 s) while bench/run.py runs; "
                         "0: don't look")
    ap.add_argument("--out", default=str(HERE / "soak-results.md"),
                    help="where the table goes ('' for nowhere)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (and database)")
    args = ap.parse_args()
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
