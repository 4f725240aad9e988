"""Measurement 5, memory: the peak RSS of `supportd ingest` with a 25 MB letter (and a
small one, the baseline), of `supportd run` taking the same letter over SMTP (the
listener and its pipeline processes, each at its own peak), and where the Python
memory is: tracemalloc over each pipeline step of one in-process `ingest_now`.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import corpus
from bench.harness.children import run_child
from bench.harness.daemon import SUPPORTD
from bench.harness.desks import DeskDaemon, configure_logs, make_desk
from bench.harness.paths import LOGS, PROJECT, WORK
from bench.harness.stats import median
from bench.measures.smtp import TimedSMTP

BIG_SENDER = "ivan.big@romashka.example"


def _peak_rss(cmd: list[str], stdin: Path) -> tuple[int, int, float]:
    """(exit code, peak RSS in KiB, seconds) of one command, by /usr/bin/time.

    Not wait4's rusage of our own child: Linux carries the pre-exec peak across
    exec, so a child forked from this (large) harness would report our size."""
    report = WORK / "time.out"
    t0 = time.perf_counter()
    with open(stdin, "rb") as fin:
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(report), *cmd], stdin=fin,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=PROJECT,
                           timeout=600)
    seconds = time.perf_counter() - t0
    kb = int(report.read_text().strip().splitlines()[-1])
    return p.returncode, kb, seconds


class _Stages:
    """Wraps functions so that each call records the Python memory held when it
    starts and ends, its own peak, and the five biggest allocation sites alive at
    its end (bytes above `base`, set once tracing starts)."""

    def __init__(self) -> None:
        self.stages: list[dict[str, Any]] = []
        self.base = 0

    def watch(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kw: Any) -> Any:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            try:
                return fn(*args, **kw)
            finally:
                cur, peak = tracemalloc.get_traced_memory()
                snap = tracemalloc.take_snapshot().filter_traces(
                    [tracemalloc.Filter(False, tracemalloc.__file__)])
                top = [(f"{st.traceback[0].filename.split('site-packages/')[-1]}:"
                        f"{st.traceback[0].lineno}", st.size)
                       for st in snap.statistics("lineno")[:5]]
                self.stages.append({"stage": name, "held_before": before - self.base,
                                    "held_after": cur - self.base, "peak": peak - self.base,
                                    "top": top})
        return wrapped

    def wrap_pipeline(self) -> None:
        """The steps the runner runs in turn (its STEPS; the parse it runs first, before
        the batch's transaction, is not among them), the spool read, and inside the
        parse step our own passes over the letter."""
        from types import SimpleNamespace

        from daemon.mail import letter as letter_mod
        from daemon.pipeline import runner
        from daemon.pipeline.context import Step
        from daemon.storage.spool import Spool

        runner.STEPS = tuple(  # type: ignore[misc]
            Step(st.name, SimpleNamespace(run=self.watch(st.name, st.run)))  # type: ignore[arg-type]
            for st in runner.STEPS)
        Spool.read = staticmethod(self.watch("spool read", Spool.read))  # type: ignore[method-assign]
        for fn in ("_stdlib_bodies", "_attachments_from", "expand_tnef"):  # whichever exist
            if hasattr(letter_mod, fn):
                setattr(letter_mod, fn, self.watch(f"parse: letter.{fn}", getattr(letter_mod, fn)))
        reader = getattr(letter_mod, "_TextReader", None)
        if reader is not None and hasattr(reader, "bodies"):
            reader.bodies = self.watch("parse: letter._TextReader.bodies", reader.bodies)


def child_rss_probe(a: dict[str, Any]) -> dict[str, Any]:
    """tracemalloc over one big letter through ingest_now: which stage holds what."""
    from daemon.intake.ingest import ingest_now
    from daemon.storage.spool import Envelope

    raw = Path(a["file"]).read_bytes()
    app = make_desk(WORK / "rss-probe")
    configure_logs(app)
    probe = _Stages()
    probe.wrap_pipeline()
    tracemalloc.start(1)
    probe.base = tracemalloc.get_traced_memory()[0]
    ingest_now(app, raw, Envelope(source="ingest", mail_from=BIG_SENDER))
    cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    app.close()
    shutil.rmtree(WORK / "rss-probe", ignore_errors=True)
    return {"traced_peak": max([peak - probe.base, *[st["peak"] for st in probe.stages]]),
            "traced_after": cur - probe.base, "letter": len(raw), "stages": probe.stages}


def _ingest_peaks(sz: dict[str, Any], big: Path, small: Path) -> dict[str, Any]:
    """`supportd ingest` of a small letter (the baseline) and of the big one."""
    root = WORK / "rss"
    size = big.stat().st_size
    base, peak, secs, codes = [], [], [], []
    for _ in range(sz["reps"]):
        app = make_desk(root)
        app.close()
        cfg = str(root / "supportd.toml")
        c, kb, _ = _peak_rss([*SUPPORTD, "--config", cfg, "ingest", "--sender", BIG_SENDER],
                             small)
        base.append(kb)
        c, kb, s = _peak_rss([*SUPPORTD, "--config", cfg, "ingest", "--sender", BIG_SENDER],
                             big)
        peak.append(kb)
        secs.append(s)
        codes.append(c)
        shutil.rmtree(root, ignore_errors=True)
    return dict(ingest_peak_kb=median(peak), ingest_small_kb=median(base),
                ingest_seconds=median(secs), exit_codes=codes,
                ratio=median(peak) * 1024 / size,
                ratio_over_baseline=(median(peak) - median(base)) * 1024 / size)


def _daemon_peaks(raw: bytes) -> dict[str, Any]:
    """The daemon: the same letter over SMTP, through the spool and the runner."""
    d = DeskDaemon(WORK / "rss-daemon")
    d.start_logged(LOGS / "rss-daemon.log")
    time.sleep(3.0)  # the pipeline process has started and read the desk once
    listener_idle_kb, workers_idle_kb = d.peak_rss_kb(), d.workers_peak_rss_kb()
    idle_kb = listener_idle_kb + workers_idle_kb
    with TimedSMTP("127.0.0.1", d.port, timeout=120) as s:
        s.ehlo("client.example")
        s.mail(BIG_SENDER)
        s.rcpt(corpus.DESK)
        code, accept_s = s.timed_data(raw)
    deadline = time.monotonic() + 120
    while d.processed() < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    # The listener and its pipeline processes: each one's peak, and their sum.
    listener_kb, workers_kb = d.peak_rss_kb(), d.workers_peak_rss_kb()
    out = dict(daemon_code=code, daemon_idle_kb=idle_kb, daemon_peak_kb=listener_kb + workers_kb,
               daemon_listener_peak_kb=listener_kb, daemon_workers_peak_kb=workers_kb,
               daemon_listener_idle_kb=listener_idle_kb, daemon_workers_idle_kb=workers_idle_kb,
               daemon_processed=d.processed(), daemon_accept_ms=accept_s * 1000)
    out["daemon_ratio"] = out["daemon_peak_kb"] * 1024 / len(raw)
    d.shut()
    shutil.rmtree(WORK / "rss-daemon", ignore_errors=True)
    return out


def measure(sz: dict[str, Any], seed: int, pg: str | None) -> dict[str, Any]:
    big = WORK / "big.eml"
    big.parent.mkdir(parents=True, exist_ok=True)
    raw = corpus.big_letter(sz["big"])
    big.write_bytes(raw)
    small = WORK / "small.eml"
    small.write_bytes(corpus.generate(1, 1)[0].raw)
    out: dict[str, Any] = {"letter_bytes": len(raw)}
    out.update(_ingest_peaks(sz, big, small))
    out.update(_daemon_peaks(raw))
    out["traced"] = run_child("rss_probe", {"file": str(big), "label": ""}, timeout=300)
    return out
