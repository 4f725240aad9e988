"""Watching the soak while it runs: `AckWatcher` reads the outbox Maildir as supportd
writes it (which letter became which ticket), `Maillog` reads Postfix's log (where
each queue id went), `spool_busy` counts what supportd's spool still holds, and
`settle` waits until all of it has come to rest.
"""

from __future__ import annotations

import contextlib
import email
import email.parser
import email.policy
import os
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness.daemon import Daemon
from bench.harness.postfix import Postfix
from bench.harness.progress import say
from bench.soak_jobs.desk import Database
from bench.soak_jobs.letters import DESK
from bench.soak_jobs.send import Dispatcher
from daemon.threading_tid import find_tid, format_tid


class AckWatcher(threading.Thread):
    """Reads the outbox Maildir as supportd writes it: which of our new letters became
    which ticket (TID from X-Supportd-Ticket or the subject), and the ack's Message-ID."""

    def __init__(self, maildir: Path, on_ack: Any) -> None:
        super().__init__(daemon=True, name="acks")
        self.new = maildir / "new"
        self.cur = maildir / "cur"
        self.on_ack = on_ack
        self.seen: set[str] = set()
        self.stopping = threading.Event()
        self.files = 0
        self.parser = email.parser.BytesHeaderParser(policy=email.policy.default)

    def scan(self) -> None:
        for folder in (self.new, self.cur):
            try:
                names = os.listdir(folder)
            except FileNotFoundError:
                continue
            for name in names:
                if name in self.seen:
                    continue
                try:
                    with open(folder / name, "rb") as f:
                        head = f.read(16384).split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
                except FileNotFoundError:
                    continue
                self.seen.add(name)
                self.files += 1
                msg = self.parser.parsebytes(head + b"\n\n")
                if "supportd.ack." not in str(msg.get("Message-ID", "")):
                    continue
                tid = str(msg.get("X-Supportd-Ticket", "") or "").strip()
                if not tid:
                    number = find_tid(str(msg.get("Subject", "")))
                    tid = format_tid(number) if number else ""
                if tid:
                    self.on_ack(str(msg.get("In-Reply-To", "")).strip(), tid,
                                str(msg.get("Message-ID", "")).strip())

    def run(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(Exception):
                self.scan()
            self.stopping.wait(0.5)


LOG_TO = re.compile(r"postfix[^:]*/(?:lmtp|smtp|error|local)\[\d+\]: ([0-9A-Za-z]+): "
                    r"to=<([^>]*)>.*? status=(\w+) \((.*)\)\s*$")
LOG_REJECT = re.compile(r"NOQUEUE: reject: (.*?); .*helo=<([^>]*)>")
LOG_DSN = re.compile(r": ([0-9A-Za-z]+): sender non-delivery notification: ([0-9A-Za-z]+)")


class Maillog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.final: dict[str, tuple[str, str]] = {}  # qid -> (status, text), desk only
        self.history: dict[str, list[str]] = defaultdict(list)
        self.rejects: dict[str, str] = {}  # helo -> reason
        self.dsn: dict[str, str] = {}  # qid -> its bounce's qid
        self.sent_to_desk = 0

    def read(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].decode("utf-8", "replace").splitlines():
            if m := LOG_TO.search(line):
                qid, rcpt, status, text = m.groups()
                if rcpt.lower() == DESK:
                    self.history[qid].append(f"{status}: {text}")
                    self.final[qid] = (status, text)
                    if status == "sent":
                        self.sent_to_desk += 1
            elif m := LOG_REJECT.search(line):
                self.rejects[m.group(2)] = m.group(1)
            elif m := LOG_DSN.search(line):
                self.dsn[m.group(1)] = m.group(2)


def spool_busy(spool: Path) -> dict[str, int]:
    def n(d: Path, pattern: str = "*") -> int:
        return sum(1 for p in d.glob(pattern) if p.is_file()) if d.exists() else 0

    shunted = sum(1 for p in (spool / "shunt").glob("*") if p.suffix != ".reason") \
        if (spool / "shunt").exists() else 0
    return {"incoming": n(spool / "incoming"), "processing": n(spool / "processing", "*/*"),
            "tmp": n(spool / "tmp"), "shunted": shunted}


def settle(mta: Postfix, log: Maillog, spool: Path, db: Database, accepted: set[str],
           timeout: float, daemon: Daemon, errors: list[str]) -> tuple[bool, dict[str, Any]]:
    """Wait (at most `timeout` seconds) until Postfix's queue is empty, the spool idle,
    every letter Postfix took has its final status, and every delivery its inbound
    row; deferred letters are flushed every 15 s. (settled?, the last state seen)."""
    deadline = time.monotonic() + timeout
    last_flush = 0.0
    state: dict[str, Any] = {}
    try:
        while time.monotonic() < deadline:
            log.read()
            queue = mta.queue()
            busy = spool_busy(spool)
            inbound = db.count_inbound()
            finals = sum(1 for q in accepted if q in log.final
                         and log.final[q][0] in ("sent", "bounced"))
            state = {"postfix_queue": len(queue), **busy, "inbound": inbound,
                     "final": finals, "accepted": len(accepted)}
            # A shunted letter has no inbound row (that is a finding, reported
            # below), but it is done: the daemon will not take it up again.
            if (not queue and not (busy["incoming"] or busy["processing"] or busy["tmp"])
                    and finals == len(accepted)
                    and inbound + busy["shunted"] >= log.sent_to_desk):
                return True, state
            if any(q.get("queue_name") == "deferred" for q in queue) and \
                    time.monotonic() - last_flush > 15:
                mta.flush()
                last_flush = time.monotonic()
            if daemon.proc is not None and daemon.proc.poll() is not None:
                errors.append(f"supportd exited with {daemon.proc.returncode}")
                break
            time.sleep(1)
    except KeyboardInterrupt:  # account for what there is, then stop
        errors.append("interrupted (Ctrl-C) while waiting for everything to settle")
    return False, state


def progress(log: Maillog, dispatcher: Dispatcher, db: Database) -> Callable[[], None]:
    """Start a thread that says how far the soak is every 10 s; call what it returns
    to stop it."""
    stop = threading.Event()

    def report() -> None:
        while not stop.wait(10):
            log.read()
            say(f"handed over {dispatcher.given}, parked {len(dispatcher.parked)}, "
                f"delivered {log.sent_to_desk}, inbound {db.count_inbound()}, "
                f"tickets known {len(dispatcher.tids)}", who="soak")

    threading.Thread(target=report, daemon=True).start()
    return stop.set
