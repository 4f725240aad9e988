"""Measurement 3, `supportd run` over SMTP: a burst of the corpus on 16 connections,
timed until the last letter is committed with its acknowledgement queued (end to
end, listener and pipeline process at once); then 100 letters/s paced on 16
connections. Accept latency is from the client's last byte of DATA to the 250.

Each repetition runs on a fresh warmed desk and a fresh `supportd run`; the first
paced run is sampled by py-spy when bench/.tools-venv has it (measures/profile.py).
"""

from __future__ import annotations

import contextlib
import shutil
import smtplib
import subprocess
import threading
import time
from collections import Counter
from typing import Any

from bench import corpus
from bench.harness.desks import DeskDaemon, letters_for
from bench.harness.paths import LOGS, WORK
from bench.harness.stats import median, pct
from bench.measures.profile import SMTP_RAW, SPY_RATE, TOOLS_VENV


class TimedSMTP(smtplib.SMTP):
    def timed_data(self, msg: bytes) -> tuple[int, float]:
        """DATA, returning (code, seconds from the end of DATA to the reply)."""
        self.putcmd("data")
        code, repl = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, repl)
        q = smtplib._quote_periods(msg)  # type: ignore[attr-defined]
        if q[-2:] != b"\r\n":
            q += b"\r\n"
        q += b".\r\n"
        self.send(q)
        t0 = time.perf_counter()
        code, _ = self.getreply()
        return code, time.perf_counter() - t0


class _Sender:
    """Letters handed out in order to `conns` client threads, each at its due time
    when paced; what came back, and how late each letter left."""

    def __init__(self, port: int, letters: list[corpus.CorpusLetter],
                 rate: float | None) -> None:
        self.port, self.letters, self.rate = port, letters, rate
        self.lock = threading.Lock()
        self.next_i = 0
        self.lat: list[float] = []
        self.late: list[float] = []
        self.codes: Counter[int] = Counter()
        self.errors: list[str] = []
        self.t0 = time.perf_counter() + 0.2

    def _connect(self) -> TimedSMTP:
        s = TimedSMTP("127.0.0.1", self.port, timeout=60)
        s.ehlo("client.example")
        return s

    def _take(self) -> int:
        with self.lock:
            i = self.next_i
            self.next_i += 1
        return i

    def worker(self) -> None:
        s = self._connect()
        try:
            while (i := self._take()) < len(self.letters):
                due = self.t0 + (i / self.rate if self.rate else 0)
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                started = time.perf_counter()
                x = self.letters[i]
                try:
                    s.mail(x.sender)
                    s.rcpt(corpus.DESK)
                    code, seconds = s.timed_data(x.raw)
                except (smtplib.SMTPException, OSError) as exc:
                    with self.lock:
                        self.errors.append(repr(exc))
                    s = self._connect()
                    continue
                with self.lock:
                    self.codes[code] += 1
                    self.lat.append(seconds)
                    self.late.append(max(0.0, started - due))
        finally:
            with contextlib.suppress(Exception):
                s.quit()


def send_all(port: int, letters: list[corpus.CorpusLetter], conns: int,
             rate: float | None) -> dict[str, Any]:
    """Deliver `letters` on `conns` connections; paced at `rate`/s when given."""
    sender = _Sender(port, letters, rate)
    threads = [threading.Thread(target=sender.worker) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - sender.t0
    accepted = sender.codes.get(250, 0)
    lat = sender.lat
    return {"sent": len(letters), "accepted": accepted, "codes": dict(sender.codes),
            "errors": sender.errors[:5], "seconds": elapsed, "rate": accepted / elapsed,
            "p50_ms": 1000 * pct(lat, 50), "p99_ms": 1000 * pct(lat, 99),
            "max_ms": 1000 * max(lat) if lat else float("nan"),
            "late_p99_ms": 1000 * pct(sender.late, 99)}


def _burst(sz: dict[str, Any], letters: list[corpus.CorpusLetter], rep: int) -> dict[str, Any]:
    d = DeskDaemon(WORK / "smtp")
    d.start_logged(LOGS / f"smtp-burst-{rep}.log")
    t0 = time.perf_counter()
    r = send_all(d.port, letters, sz["smtp_conns"], None)
    r["processed_meanwhile"] = d.processed()
    # End to end as a client sees the daemon: from the first connection to the
    # last letter's commit (ticket, acknowledgement queued), listener and
    # pipeline process working at once, as they do under `supportd run`.
    deadline = time.monotonic() + 300
    while d.processed() < len(letters) and time.monotonic() < deadline:
        time.sleep(0.01)
    if d.processed() >= len(letters):
        r["end_to_end_s"] = time.perf_counter() - t0
        r["end_to_end_rate"] = len(letters) / r["end_to_end_s"]
    d.shut()
    return r


def _paced(sz: dict[str, Any], letters: list[corpus.CorpusLetter], rep: int) -> dict[str, Any]:
    d = DeskDaemon(WORK / "smtp")
    d.start_logged(LOGS / f"smtp-paced-{rep}.log")
    profiler = None
    if rep == 0 and (TOOLS_VENV / "bin" / "py-spy").exists():
        profiler = subprocess.Popen(
            [str(TOOLS_VENV / "bin" / "py-spy"), "record", "--gil", "--threads",
             "--format", "raw", "-r", str(SPY_RATE), "-o", str(SMTP_RAW), "-d",
             str(sz["smtp_seconds"] + 2), "-p", str(d.pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
    r = send_all(d.port, letters, sz["smtp_conns"], float(sz["smtp_rate"]))
    r["processed_meanwhile"] = d.processed()
    r["processing_rate"] = r["processed_meanwhile"] / r["seconds"]
    if profiler is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            profiler.wait(timeout=30)
    d.shut()
    return r


def measure(sz: dict[str, Any], seed: int, pg: str | None) -> dict[str, Any]:
    burst_letters = letters_for(sz["smtp_burst"], seed)
    paced_letters = letters_for(sz["smtp_rate"] * sz["smtp_seconds"], seed)
    out: dict[str, Any] = {"conns": sz["smtp_conns"], "burst": [], "paced": []}
    for rep in range(sz["reps"]):
        out["burst"].append(_burst(sz, burst_letters, rep))
        out["paced"].append(_paced(sz, paced_letters, rep))
        shutil.rmtree(WORK / "smtp", ignore_errors=True)
    for phase in ("burst", "paced"):
        runs = out[phase]
        out[f"{phase}_rate"] = median([r["rate"] for r in runs])
        out[f"{phase}_p50_ms"] = median([r["p50_ms"] for r in runs])
        out[f"{phase}_p99_ms"] = median([r["p99_ms"] for r in runs])
    out["paced_processing_rate"] = median([r["processing_rate"] for r in out["paced"]])
    e2e = [r["end_to_end_rate"] for r in out["burst"] if "end_to_end_rate" in r]
    out["end_to_end_rates"] = e2e
    out["end_to_end_rate"] = median(e2e) if e2e else None
    return out
