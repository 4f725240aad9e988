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
  smtp      3. `supportd run` over SMTP: a burst on 16 connections, then 100 letters/s
               paced on 16 connections; accept latency = end of DATA to the 250
  peer      4. django-helpdesk (PyPI, own venv bench/.peer-venv), `get_email` on a folder
  rss       5. peak RSS of `supportd ingest` and of the daemon with a 25 MB letter
  scale     6. ingest and threading lookups on 1,000,000 bulk-loaded tickets vs 1,000
  deadlines 7. bench/deadlines.py
  profile      py-spy over in-process ingest (where the time goes)

Results: bench/.work/results.json, and the block between the run.py markers in
bench/RESULTS.md (the rest of that file is left alone). Every child process logs to
bench/.work/logs/. The harness only starts processes of its own and stops them by pid.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import smtplib
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

WORK = HERE / ".work"
LOGS = WORK / "logs"
PY = sys.executable
BIN = Path(PY).parent
PEER_VENV = HERE / ".peer-venv"
TOOLS_VENV = HERE / ".tools-venv"
RESULTS_MD = HERE / "RESULTS.md"
DEFAULT_PG = os.environ.get("SUPPORTD_BENCH_POSTGRES",
                            "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BEGIN, END = "<!-- run.py:begin -->", "<!-- run.py:end -->"
MAX_SIZE = 26_214_400  # the default [smtp].max_message_size (25 MiB)
# Every desk is warmed with these letters before it is timed: the first letters on a
# new database and spool run at about half the steady rate (file growth, new folders),
# and a daemon lives on a warm one. They open WARM_BASE tickets, so the measured
# corpus is generated with ticket_base=WARM_BASE and its replies name its own tickets.
WARM_N, WARM_SEED = 40, 999


def warm_letters() -> list[corpus.CorpusLetter]:
    return corpus.generate(WARM_N, WARM_SEED, tag="w")


WARM_BASE = sum(1 for x in warm_letters() if x.kind == "new")


def letters_for(n: int, seed: int) -> list[corpus.CorpusLetter]:
    """The measured corpus: the same for every measurement of a run."""
    return corpus.generate(n, seed, ticket_base=WARM_BASE)


def warm_desk(app: Any) -> None:
    from sqlalchemy import func, select

    from daemon.intake.ingest import ingest_now
    from daemon.storage.models import Ticket
    from daemon.storage.spool import Envelope

    for x in warm_letters():
        ingest_now(app, x.raw, Envelope(source="ingest", mail_from=x.sender))
    with app.sessions() as s:
        tickets = s.scalar(select(func.count()).select_from(Ticket))
    if tickets != WARM_BASE:
        raise RuntimeError(f"warm-up opened {tickets} tickets, expected {WARM_BASE}")

# ---------------------------------------------------------------- sizes

FULL = dict(n=300, reps=3, pipe_n=8, smtp_burst=300, smtp_rate=100, smtp_seconds=10,
            smtp_conns=16, peer_n=300, big=25_000_000, scale_big=1_000_000,
            scale_small=1_000, scale_letters=40, lookups=1000, deadlines_n=100_000,
            profile_n=150)
QUICK = dict(n=40, reps=3, pipe_n=4, smtp_burst=40, smtp_rate=100, smtp_seconds=2,
             smtp_conns=16, peer_n=40, big=5_000_000, scale_big=20_000, scale_small=1_000,
             scale_letters=15, lookups=300, deadlines_n=20_000, profile_n=30)


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def say(*parts: object) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}]", *parts, flush=True)


# ---------------------------------------------------------------- desks

from tests.conftest import STAFF, free_port  # noqa: E402  (shared with the tests)
from tests.support.daemons import wait_listening  # noqa: E402


def write_config(root: Path, url: str | None = None, smtp_port: int | None = None) -> Path:
    """A desk config like tests/conftest.py's `write_config`, with the default
    25 MiB letter limit (the tests use 1 MiB) and the listener off unless asked."""
    url = url or f"sqlite:///{root}/supportd.db"
    text = f"""[service]
address = "techsupport@example.ru"
timezone = "Europe/Moscow"

[storage]
url = "{url}"
spool = "{root}/spool"

[smtp]
enabled = {"true" if smtp_port else "false"}
host = "127.0.0.1"
port = {smtp_port or 8025}
max_message_size = {MAX_SIZE}

[imap]
enabled = false

[outbound]
transport = "maildir"
maildir = "{root}/outbox"

[logging]
format = "json"
{STAFF}
"""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "supportd.toml"
    path.write_text(text, encoding="utf-8")
    return path


def make_desk(root: Path, url: str | None = None, smtp_port: int | None = None) -> Any:
    """Config, migrated database, the demo registry of organisations, an App."""
    from daemon.app import App
    from daemon.config import loader as config_mod
    from daemon.storage import db
    from daemon.tickets.registry import import_orgs, load_file

    if root.exists():
        shutil.rmtree(root)
    path = write_config(root, url, smtp_port)
    cfg = config_mod.load(path)
    db.upgrade(cfg.storage.url)
    app = App(cfg)
    app.spool.ensure()
    with db.unit_of_work(app.sessions) as session:
        import_orgs(session, load_file(PROJECT / "config" / "demo-registry.toml"))
    return app


class PgDatabases:
    """Fresh PostgreSQL databases for the bench, all dropped at the end."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.made: list[str] = []

    def _admin(self) -> Any:
        from sqlalchemy import create_engine

        return create_engine(self.base, isolation_level="AUTOCOMMIT")

    def new(self) -> str:
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        name = f"supportd_bench_{uuid.uuid4().hex[:10]}"
        eng = self._admin()
        with eng.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        eng.dispose()
        self.made.append(name)
        return make_url(self.base).set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        eng = self._admin()
        with eng.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()
        if name in self.made:
            self.made.remove(name)

    def drop_all(self) -> None:
        from sqlalchemy.engine import make_url

        for name in list(self.made):
            url = make_url(self.base).set(database=name).render_as_string(hide_password=False)
            try:
                self.drop(url)
            except Exception:  # noqa: BLE001 - PostgreSQL away: the parent sweeps later
                self.made.remove(name)


def pg_sweep(base: str) -> list[str]:
    """Drop every `supportd_bench_*` database: this harness's own, left behind when
    PostgreSQL went away under a child (other sessions' drills stop it)."""
    from sqlalchemy import create_engine, text

    eng = create_engine(base, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        names = [r[0] for r in c.execute(text(
            "SELECT datname FROM pg_database WHERE datname LIKE 'supportd\\_bench\\_%'"))]
        for name in names:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()
    return names


def pg_version(base: str) -> str:
    try:
        from sqlalchemy import create_engine, text

        eng = create_engine(base)
        with eng.connect() as c:
            v = str(c.execute(text("SHOW server_version")).scalar())
        eng.dispose()
        return v
    except Exception as exc:  # noqa: BLE001
        return f"unavailable ({type(exc).__name__})"


# ---------------------------------------------------------------- children

PG_DOWN = ("Connection refused", "shutting down", "starting up", "connection failed",
           "server closed the connection", "terminating connection")


def pg_wait(base: str, timeout: float = 240) -> bool:
    """Wait for PostgreSQL to answer (other sessions' failure drills stop it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pg_version(base).startswith("unavailable"):
            return True
        time.sleep(3)
    return False


def run_child(name: str, args: dict[str, Any], timeout: float = 900,
              wrap: list[str] | None = None) -> dict[str, Any]:
    """`_run_child`, tried again (twice at most) when PostgreSQL went away under it."""
    for attempt in range(3):
        try:
            return _run_child(name, args, timeout, wrap)
        except RuntimeError as exc:
            if not args.get("pg") or attempt == 2 or not any(s in str(exc) for s in PG_DOWN):
                raise
            say(f"{name}: PostgreSQL went away ({str(exc).splitlines()[-1][:120]}); "
                "waiting and trying again")
            if not pg_wait(args["pg"]):
                raise
            time.sleep(5)
    raise AssertionError("unreachable")


def _run_child(name: str, args: dict[str, Any], timeout: float = 900,
               wrap: list[str] | None = None) -> dict[str, Any]:
    """Run `run.py _child NAME ARGS` in a fresh interpreter; its last RESULT line."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{name}-{args.get('label', '')}.log".replace("-.log", ".log")
    cmd = [*(wrap or []), PY, str(HERE / "run.py"), "_child", name, json.dumps(args)]
    with open(log, "wb") as err:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, timeout=timeout,
                           cwd=PROJECT)
    for line in reversed(p.stdout.decode("utf-8", "replace").splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = log.read_text(encoding="utf-8", errors="replace")[-6000:]
    raise RuntimeError(f"child {name} failed (exit {p.returncode}), log {log}:\n{tail}")


def emit(result: dict[str, Any]) -> None:
    print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)


def child_ceiling(a: dict[str, Any]) -> dict[str, Any]:
    import email.policy
    from email.parser import BytesParser

    letters = [x.raw for x in letters_for(a["n"], a["seed"])]

    def one_pass() -> float:
        started = time.perf_counter()
        for raw in letters:
            msg = BytesParser(policy=email.policy.default).parsebytes(raw)
            for part in msg.walk():
                if not part.is_multipart():
                    part.get_content()
        return time.perf_counter() - started

    one_pass()  # warm-up: imports, codec caches
    times = [one_pass() for _ in range(a["reps"])]
    rates = [len(letters) / t for t in times]
    return {"rates": rates, "rate": median(rates), "letters": len(letters),
            "ms_per_letter": 1000 * median(times) / len(letters)}


def _configure_logs(app: Any) -> None:
    from daemon.service import logs

    logs.configure(app.config.logging)  # JSON lines to stderr (the child's log file)


def _no_fsync() -> None:
    """Diagnostic only: what the rate would be if durability were free."""
    os.fsync = lambda fd: None  # type: ignore[assignment]
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _off(dbapi_conn: Any, _record: Any) -> None:
        if type(dbapi_conn).__module__.startswith("sqlite3"):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA synchronous=OFF")
            cur.close()
        else:
            with dbapi_conn.cursor() as cur:
                cur.execute("SET synchronous_commit = off")
            dbapi_conn.commit()


def _url_factory(a: dict[str, Any]) -> tuple[Any, PgDatabases | None]:
    if a.get("pg"):
        pg = PgDatabases(a["pg"])

        def make() -> tuple[str, Any]:
            url = pg.new()
            return url, lambda: pg.drop(url)

        return make, pg
    return (lambda: (None, lambda: None)), None


def child_ingest(a: dict[str, Any]) -> dict[str, Any]:
    """In-process `ingest_now` per letter, as `supportd ingest` does after start-up."""
    from daemon.intake.ingest import ingest_now
    from daemon.storage.spool import Envelope

    if a.get("nofsync"):
        _no_fsync()
    real_fsync, fsyncs = os.fsync, [0]

    def counting_fsync(fd: int) -> None:
        fsyncs[0] += 1
        real_fsync(fd)

    os.fsync = counting_fsync  # type: ignore[assignment]
    letters = letters_for(a["n"], a["seed"])
    url_for, pg = _url_factory(a)
    root = WORK / f"ingest-{a['label']}"
    rates, outcomes = [], Counter()
    per_letter_fsyncs = float("nan")
    try:
        for rep in range(a["reps"]):
            url, drop = url_for()
            app = make_desk(root, url)
            _configure_logs(app)
            warm_desk(app)
            counted = fsyncs[0]
            started = time.perf_counter()
            for x in letters:
                r = ingest_now(app, x.raw, Envelope(source="ingest", mail_from=x.sender))
                if rep == 0:
                    outcomes[f"{x.kind}->{r.outcome}:{r.reason.split(';')[0].split(':')[0]}"] += 1
            elapsed = time.perf_counter() - started
            per_letter_fsyncs = (fsyncs[0] - counted) / len(letters)
            rates.append(len(letters) / elapsed)
            app.close()
            drop()
            shutil.rmtree(root, ignore_errors=True)
    finally:
        if pg:
            pg.drop_all()
    return {"rates": rates, "rate": median(rates), "letters": len(letters),
            "ms_per_letter": 1000 / median(rates), "outcomes": dict(outcomes),
            "spool_fsyncs_per_letter": per_letter_fsyncs}


def child_fsync(a: dict[str, Any]) -> dict[str, Any]:
    """What one fsync costs on the disk the spool is on: a 3 KB file, then its folder."""
    d = WORK / "fsync-probe"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    files, dirs = [], []
    for i in range(a.get("n", 60)):
        fd = os.open(d / f"f{i}", os.O_WRONLY | os.O_CREAT, 0o640)
        os.write(fd, b"x" * 3000)
        t0 = time.perf_counter()
        os.fsync(fd)
        files.append(time.perf_counter() - t0)
        os.close(fd)
        dfd = os.open(d, os.O_RDONLY)
        t0 = time.perf_counter()
        os.fsync(dfd)
        dirs.append(time.perf_counter() - t0)
        os.close(dfd)
    # Making an empty file (the spool's, the outbox journal's, a Maildir's): wall and
    # CPU (the kernel's, mostly), each one in a folder of its own kind.
    made, made_cpu = [], []
    for i in range(a.get("n", 60)):
        t0, c0 = time.perf_counter(), time.process_time()
        fd = os.open(d / f"new{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        made.append(time.perf_counter() - t0)
        made_cpu.append(time.process_time() - c0)
        os.close(fd)
    shutil.rmtree(d, ignore_errors=True)
    return {"file_ms": 1000 * median(files), "dir_ms": 1000 * median(dirs),
            "create_ms": 1000 * median(made), "create_cpu_ms": 1000 * median(made_cpu)}


def child_queue(a: dict[str, Any]) -> dict[str, Any]:
    """The daemon's queue: accept into incoming/ (fsync'd), then one drain."""
    from daemon.intake.ingest import accept
    from daemon.pipeline import runner
    from daemon.storage.spool import Envelope

    letters = letters_for(a["n"], a["seed"])
    if a.get("procs"):
        # Processes finish letters out of order, so tickets get other numbers than
        # the corpus expects and its replies would name other people's tickets:
        # the process figures are taken on the letters that are not replies.
        letters = [x for x in letters if x.kind not in ("reply", "autoreply")]
    url_for, pg = _url_factory(a)
    root = WORK / f"queue-{a['label']}"
    accept_rates, drain_rates, total_rates, outcomes = [], [], [], Counter()
    try:
        for rep in range(a["reps"]):
            url, drop = url_for()
            app = make_desk(root, url)
            _configure_logs(app)
            warm_desk(app)
            t0 = time.perf_counter()
            for x in letters:
                accept(app, x.raw, Envelope(source="smtp", mail_from=x.sender,
                                            rcpt_to=(corpus.DESK,), peer="127.0.0.1"))
            t1 = time.perf_counter()
            # With "procs": pipeline processes, as `[pipeline] workers` starts them.
            results = (_drain_in_processes(app, a["procs"]) if a.get("procs")
                       else runner.drain(app))
            t2 = time.perf_counter()
            assert len(results) == len(letters), (len(results), len(letters))
            if rep == 0:
                outcomes.update(r.outcome for r in results)
            accept_rates.append(len(letters) / (t1 - t0))
            drain_rates.append(len(letters) / (t2 - t1))
            total_rates.append(len(letters) / (t2 - t0))
            app.close()
            drop()
            shutil.rmtree(root, ignore_errors=True)
    finally:
        if pg:
            pg.drop_all()
    return {"accept_rates": accept_rates, "drain_rates": drain_rates, "rates": total_rates,
            "accept_rate": median(accept_rates), "drain_rate": median(drain_rates),
            "rate": median(total_rates), "letters": len(letters), "outcomes": dict(outcomes)}


def _drain_in_processes(app: Any, procs: int) -> list[Any]:
    """What `supportd run` does with `[pipeline] workers = procs`: that many processes,
    each with its own App on the same config, draining the one spool. Started and
    connected first; the clock (the caller's) runs from the moment they are told to go."""
    import multiprocessing as mp

    from daemon.pipeline import runner

    ctx = mp.get_context("fork")
    ready, go, out = ctx.Barrier(procs + 1), ctx.Event(), ctx.Queue()
    source = app.config.source

    def work() -> None:
        from daemon.app import App
        from daemon.config import loader as config_mod
        from daemon.storage import db

        mine = App(config_mod.load(source))
        mine.spool.ensure()  # its own claim folder
        db.ping(mine.engine)
        ready.wait()
        go.wait()
        out.put([(r.spool_id, r.outcome, r.reason, r.tid) for r in runner.drain(mine)])
        mine.close()

    app.engine.dispose()  # no pooled connection crosses the fork
    kids = [ctx.Process(target=work) for _ in range(procs)]
    for k in kids:
        k.start()
    ready.wait()
    go.set()
    results = [runner.Result(*r) for _ in kids for r in out.get(timeout=600)]
    for k in kids:
        k.join(60)
    return results


def child_rss_probe(a: dict[str, Any]) -> dict[str, Any]:
    """tracemalloc over one big letter through ingest_now: which stage holds what.

    Each pipeline step (and the spool read) is wrapped: Python memory held when it
    starts and ends, its own peak, and the five biggest allocation sites alive at
    its end."""
    import tracemalloc

    from daemon.intake.ingest import ingest_now
    from daemon.pipeline import context as pipeline
    from daemon.pipeline import runner
    from daemon.storage.spool import Envelope, Spool

    raw = Path(a["file"]).read_bytes()
    app = make_desk(WORK / "rss-probe")
    _configure_logs(app)
    stages: list[dict[str, Any]] = []

    def watch(name: str, fn: Any) -> Any:
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
                stages.append({"stage": name, "held_before": before - base,
                               "held_after": cur - base, "peak": peak - base, "top": top})
        return wrapped

    original = pipeline.steps

    def steps() -> tuple[Any, ...]:
        return tuple(pipeline.Step(st.name, watch(st.name, st.run)) for st in original())

    runner.steps = steps  # type: ignore[assignment]
    Spool.read = staticmethod(watch("spool read", Spool.read))  # type: ignore[method-assign]
    from daemon.mail import letter as letter_mod

    # Inside the parse step: mail-parser, then our own passes over its result.
    letter_mod.mailparser.parse_from_bytes = watch(  # type: ignore[attr-defined]
        "parse: mailparser.parse_from_bytes", letter_mod.mailparser.parse_from_bytes)
    for fn in ("_stdlib_bodies", "_attachments_from", "expand_tnef"):  # whichever exist
        if hasattr(letter_mod, fn):
            setattr(letter_mod, fn, watch(f"parse: letter.{fn}", getattr(letter_mod, fn)))
    reader = getattr(letter_mod, "_TextReader", None)
    if reader is not None and hasattr(reader, "bodies"):
        reader.bodies = watch("parse: letter._TextReader.bodies", reader.bodies)
    tracemalloc.start(1)
    base = tracemalloc.get_traced_memory()[0]
    ingest_now(app, raw, Envelope(source="ingest", mail_from="ivan.big@romashka.example"))
    cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    app.close()
    shutil.rmtree(WORK / "rss-probe", ignore_errors=True)
    return {"traced_peak": max([peak - base, *[st["peak"] for st in stages]]),
            "traced_after": cur - base, "letter": len(raw), "stages": stages}


def child_scale(a: dict[str, Any]) -> dict[str, Any]:
    from bulkload import bulk_load, lookups, plans

    from daemon.intake.ingest import ingest_now
    from daemon.storage.spool import Envelope

    url_for, pg = _url_factory(a)
    root = WORK / f"scale-{a['label']}"
    out: dict[str, Any] = {}
    try:
        url, drop = url_for()
        app = make_desk(root, url)
        _configure_logs(app)
        started = time.perf_counter()
        bulk_load(app.engine, a["tickets"])
        out["load_seconds"] = time.perf_counter() - started
        letters = corpus.generate(a["letters"] * (a["reps"] + 1), a["seed"],
                                  ticket_base=a["tickets"])
        chunks = [letters[i * a["letters"]:(i + 1) * a["letters"]] for i in range(a["reps"] + 1)]
        for x in chunks[0]:  # warm-up, and the tickets later replies name
            ingest_now(app, x.raw, Envelope(source="ingest", mail_from=x.sender))
        rates, outcomes = [], Counter()
        for chunk in chunks[1:]:
            t0 = time.perf_counter()
            for x in chunk:
                r = ingest_now(app, x.raw, Envelope(source="ingest", mail_from=x.sender))
                outcomes[r.outcome] += 1
            rates.append(len(chunk) / (time.perf_counter() - t0))
        out.update(rates=rates, rate=median(rates), outcomes=dict(outcomes))
        out["lookups"] = lookups(app, a["tickets"], a["lookups"], a["seed"])
        out["plans"] = plans(app)
        app.close()
        drop()
    finally:
        if pg:
            pg.drop_all()
        shutil.rmtree(root, ignore_errors=True)
    return out


CHILDREN = {"ceiling": child_ceiling, "ingest": child_ingest, "queue": child_queue,
            "fsync": child_fsync,
            "rss_probe": child_rss_probe, "scale": child_scale}


# ---------------------------------------------------------------- 2: pipe

def measure_pipe(sz: dict[str, Any], seed: int) -> dict[str, Any]:
    letters = letters_for(sz["pipe_n"], seed)
    root = WORK / "pipe"
    supportd = str(BIN / "supportd")
    rates, startup = [], []
    outcomes: Counter[str] = Counter()
    for rep in range(sz["reps"]):
        app = make_desk(root)
        warm_desk(app)
        cfg = str(root / "supportd.toml")
        app.close()
        t0 = time.perf_counter()
        for x in letters:
            p = subprocess.run([supportd, "--config", cfg, "ingest", "--sender", x.sender],
                               input=x.raw, capture_output=True, timeout=120, cwd=PROJECT)
            if rep == 0:
                outcomes[f"exit {p.returncode}"] += 1
        rates.append(len(letters) / (time.perf_counter() - t0))
        # the cost of starting: interpreter, imports, config (no letter)
        s0 = time.perf_counter()
        subprocess.run([supportd, "--config", cfg, "check-config"], capture_output=True,
                       timeout=60, cwd=PROJECT)
        startup.append(time.perf_counter() - s0)
        shutil.rmtree(root, ignore_errors=True)
    return {"rates": rates, "rate": median(rates), "letters": len(letters),
            "ms_per_letter": 1000 / median(rates),
            "check_config_ms": 1000 * median(startup), "outcomes": dict(outcomes)}


# ---------------------------------------------------------------- 3: smtp

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


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


class Daemon:
    def __init__(self, root: Path, url: str | None = None) -> None:
        self.root = root
        self.port = free_port()
        self.app = make_desk(root, url, smtp_port=self.port)
        warm_desk(self.app)
        self.app.close()  # the daemon is the only writer from here on
        self.config = root / "supportd.toml"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, log: Path) -> None:
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([str(BIN / "supportd"), "--config", str(self.config),
                                          "run"], stdout=out, stderr=out, cwd=PROJECT)
        wait_listening(self.port, self.proc, lambda: log.read_text(errors="replace")[-2000:])
        # The listener answers before its pipeline process has started (Python, imports):
        # a burst sent at once would time that start-up, which a running desk never pays.
        deadline = time.monotonic() + 60
        while "worker.started" not in log.read_text(errors="replace"):
            if time.monotonic() > deadline:
                raise RuntimeError("the pipeline process did not start:\n"
                                   + log.read_text(errors="replace")[-2000:])
            time.sleep(0.05)

    def processed(self) -> int:
        from sqlalchemy import func, select

        from daemon.storage.models import Inbound

        with self.app.sessions() as s:
            total = int(s.scalar(select(func.count()).select_from(Inbound)) or 0)
        return total - WARM_N

    def peak_rss_kb(self) -> int:
        """Peak RSS of `supportd run` itself (the listener process)."""
        assert self.proc is not None
        return _vm_hwm_kb(self.proc.pid)

    def workers_peak_rss_kb(self) -> int:
        """Peak RSS of its pipeline processes (`supportd worker`), summed: an upper
        bound of what they held at one moment."""
        assert self.proc is not None
        pid = self.proc.pid
        try:
            kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except FileNotFoundError:
            return 0
        return sum(_vm_hwm_kb(int(k)) for k in kids)

    def stop(self) -> None:
        """SIGTERM; a drain of a long backlog is not waited for (SIGKILL after 5 s:
        the spool makes that safe, and this run's data is thrown away anyway)."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None
        self.app.close()


def _send_all(port: int, letters: list[corpus.CorpusLetter], conns: int,
              rate: float | None) -> dict[str, Any]:
    """Deliver `letters` on `conns` connections; paced at `rate`/s when given."""
    lock = threading.Lock()
    next_i = [0]
    lat: list[float] = []
    late: list[float] = []
    codes: Counter[int] = Counter()
    errors: list[str] = []
    t0 = time.perf_counter() + 0.2

    def worker() -> None:
        s = TimedSMTP("127.0.0.1", port, timeout=60)
        s.ehlo("client.example")
        try:
            while True:
                with lock:
                    i = next_i[0]
                    next_i[0] += 1
                if i >= len(letters):
                    return
                due = t0 + (i / rate if rate else 0)
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                started = time.perf_counter()
                x = letters[i]
                try:
                    s.mail(x.sender)
                    s.rcpt(corpus.DESK)
                    code, seconds = s.timed_data(x.raw)
                except (smtplib.SMTPException, OSError) as exc:
                    with lock:
                        errors.append(repr(exc))
                    s = TimedSMTP("127.0.0.1", port, timeout=60)
                    s.ehlo("client.example")
                    continue
                with lock:
                    codes[code] += 1
                    lat.append(seconds)
                    late.append(max(0.0, started - due))
        finally:
            with contextlib.suppress(Exception):
                s.quit()

    threads = [threading.Thread(target=worker) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    accepted = codes.get(250, 0)
    return {"sent": len(letters), "accepted": accepted, "codes": dict(codes),
            "errors": errors[:5], "seconds": elapsed, "rate": accepted / elapsed,
            "p50_ms": 1000 * pct(lat, 50), "p99_ms": 1000 * pct(lat, 99),
            "max_ms": 1000 * max(lat) if lat else float("nan"),
            "late_p99_ms": 1000 * pct(late, 99)}


def measure_smtp(sz: dict[str, Any], seed: int, spy: Path | None) -> dict[str, Any]:
    burst_letters = letters_for(sz["smtp_burst"], seed)
    paced_letters = letters_for(sz["smtp_rate"] * sz["smtp_seconds"], seed)
    out: dict[str, Any] = {"conns": sz["smtp_conns"], "burst": [], "paced": []}
    for rep in range(sz["reps"]):
        d = Daemon(WORK / "smtp")
        d.start(LOGS / f"smtp-burst-{rep}.log")
        t0 = time.perf_counter()
        r = _send_all(d.port, burst_letters, sz["smtp_conns"], None)
        r["processed_meanwhile"] = d.processed()
        # End to end as a client sees the daemon: from the first connection to the
        # last letter's commit (ticket, acknowledgement queued), listener and
        # pipeline process working at once, as they do under `supportd run`.
        deadline = time.monotonic() + 300
        while d.processed() < len(burst_letters) and time.monotonic() < deadline:
            time.sleep(0.01)
        if d.processed() >= len(burst_letters):
            r["end_to_end_s"] = time.perf_counter() - t0
            r["end_to_end_rate"] = len(burst_letters) / r["end_to_end_s"]
        out["burst"].append(r)
        d.stop()
        d = Daemon(WORK / "smtp")
        d.start(LOGS / f"smtp-paced-{rep}.log")
        profiler = None
        if spy is not None and rep == 0 and (TOOLS_VENV / "bin" / "py-spy").exists():
            profiler = subprocess.Popen(
                [str(TOOLS_VENV / "bin" / "py-spy"), "record", "--gil", "--threads",
                 "--format", "raw", "-r", str(SPY_RATE), "-o", str(spy), "-d",
                 str(sz["smtp_seconds"] + 2), "-p", str(d.proc.pid)],  # type: ignore[union-attr]
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        r = _send_all(d.port, paced_letters, sz["smtp_conns"], float(sz["smtp_rate"]))
        r["processed_meanwhile"] = d.processed()
        r["processing_rate"] = r["processed_meanwhile"] / r["seconds"]
        out["paced"].append(r)
        if profiler is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                profiler.wait(timeout=30)
        d.stop()
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


# ---------------------------------------------------------------- 4: peer

PEER_ENV = {"PYTHONPATH": str(HERE / "peer"), "DJANGO_SETTINGS_MODULE": "peer_settings"}


def ensure_peer() -> str | None:
    """The peer's venv; None when ready, else why it cannot be had."""
    py = PEER_VENV / "bin" / "python"
    if not py.exists():
        say("creating", PEER_VENV, "(pip install django-helpdesk)")
        p = subprocess.run(["python3", "-m", "venv",
                            str(PEER_VENV)], capture_output=True)
        if p.returncode:
            return f"venv: {p.stderr.decode()[-500:]}"
    p = subprocess.run([str(py), "-c", "import helpdesk, django"], capture_output=True)
    if p.returncode:
        p = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "django-helpdesk"],
                           capture_output=True, timeout=600)
        if p.returncode:
            return f"pip install django-helpdesk failed: {p.stderr.decode()[-800:]}"
    return None


def _peer_run(args: list[str], peer_dir: Path, timeout: float = 900
              ) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, **PEER_ENV, "PEER_DIR": str(peer_dir)}
    return subprocess.run([str(PEER_VENV / "bin" / "python"), *args], env=env,
                          capture_output=True, timeout=timeout, cwd=HERE / "peer")


def measure_peer(sz: dict[str, Any], seed: int) -> dict[str, Any]:
    why = ensure_peer()
    if why:
        return {"error": why}
    versions = _peer_run(["-c", "import django, importlib.metadata as m; "
                          "print(django.get_version(), m.version('django-helpdesk'))"],
                         WORK).stdout.decode().split()
    letters = letters_for(sz["peer_n"], seed)
    base = WORK / "peer"
    shutil.rmtree(base, ignore_errors=True)
    template = base / "template"
    template.mkdir(parents=True)
    p = _peer_run(["-m", "django", "migrate", "-v0"], template)
    if p.returncode:
        return {"error": f"migrate failed: {p.stderr.decode()[-800:]}"}

    def fresh(name: str, with_letters: bool, warm: bool = True) -> Path:
        d = base / name
        shutil.rmtree(d, ignore_errors=True)
        (d / "mail").mkdir(parents=True)
        shutil.copy(template / "helpdesk.sqlite3", d / "helpdesk.sqlite3")
        q = _peer_run(["peer_setup.py", "queue", str(d / "mail")], d)
        if q.returncode:
            raise RuntimeError(q.stderr.decode()[-800:])
        if warm:  # the same warm-up letters supportd's desks get, untimed
            for x in warm_letters():
                (d / "mail" / f"warm-{x.name}").write_bytes(x.raw)
            _peer_run(["peer_get_email.py"], d)
            for f in (d / "mail").iterdir():
                f.unlink()
        if with_letters:
            for x in letters:
                (d / "mail" / x.name).write_bytes(x.raw)
        return d

    # As shipped, under this machine's UTF-8 locale.
    d = fresh("stock", True, warm=False)
    p = _peer_run(["peer_get_email.py", "--stock"], d)
    stock_left = len(list((d / "mail").iterdir()))
    stock_err = [ln for ln in (p.stdout + p.stderr).decode("utf-8", "replace").splitlines()
                 if "Error" in ln][-1:]
    # Start-up alone: an empty folder.
    startup = []
    for i in range(3):
        d = fresh(f"empty{i}", False)
        t0 = time.perf_counter()
        _peer_run(["peer_get_email.py"], d)
        startup.append(time.perf_counter() - t0)
    walls, rates, counts, left = [], [], {}, 0
    for rep in range(sz["reps"]):
        d = fresh(f"rep{rep}", True)
        t0 = time.perf_counter()
        p = _peer_run(["peer_get_email.py"], d)
        wall = time.perf_counter() - t0
        if p.returncode:
            return {"error": f"get_email exit {p.returncode}: {p.stderr.decode()[-800:]}"}
        walls.append(wall)
        rates.append(len(letters) / max(1e-6, wall - median(startup)))
        left = len(list((d / "mail").iterdir()))
        counts = json.loads(_peer_run(["peer_setup.py", "count"], d).stdout.decode())
    shutil.rmtree(base, ignore_errors=True)
    return {"django": versions[0] if versions else "?",
            "helpdesk": versions[1] if len(versions) > 1 else "?",
            "letters": len(letters), "walls": walls, "startup_s": median(startup),
            "rates": rates, "rate": median(rates),
            "rate_with_startup": len(letters) / median(walls),
            "left_in_folder": left, "counts": counts,
            "stock_processed": len(letters) - stock_left,
            "stock_error": stock_err[0][:300] if stock_err else ""}


# ---------------------------------------------------------------- 5: rss

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


def measure_rss(sz: dict[str, Any]) -> dict[str, Any]:
    big = WORK / "big.eml"
    big.parent.mkdir(parents=True, exist_ok=True)
    raw = corpus.big_letter(sz["big"])
    big.write_bytes(raw)
    small = WORK / "small.eml"
    small.write_bytes(corpus.generate(1, 1)[0].raw)
    root = WORK / "rss"
    supportd = str(BIN / "supportd")
    out: dict[str, Any] = {"letter_bytes": len(raw)}
    base, peak, secs, codes = [], [], [], []
    for _ in range(sz["reps"]):
        app = make_desk(root)
        app.close()
        cfg = str(root / "supportd.toml")
        c, kb, _ = _peak_rss([supportd, "--config", cfg, "ingest", "--sender",
                              "ivan.big@romashka.example"], small)
        base.append(kb)
        c, kb, s = _peak_rss([supportd, "--config", cfg, "ingest", "--sender",
                              "ivan.big@romashka.example"], big)
        peak.append(kb)
        secs.append(s)
        codes.append(c)
        shutil.rmtree(root, ignore_errors=True)
    out.update(ingest_peak_kb=median(peak), ingest_small_kb=median(base),
               ingest_seconds=median(secs), exit_codes=codes,
               ratio=median(peak) * 1024 / len(raw),
               ratio_over_baseline=(median(peak) - median(base)) * 1024 / len(raw))
    # The daemon: the same letter over SMTP, through the spool and the runner.
    d = Daemon(WORK / "rss-daemon")
    d.start(LOGS / "rss-daemon.log")
    time.sleep(3.0)  # the pipeline process has started and read the desk once
    listener_idle_kb, workers_idle_kb = d.peak_rss_kb(), d.workers_peak_rss_kb()
    idle_kb = listener_idle_kb + workers_idle_kb
    with TimedSMTP("127.0.0.1", d.port, timeout=120) as s:
        s.ehlo("client.example")
        s.mail("ivan.big@romashka.example")
        s.rcpt(corpus.DESK)
        code, accept_s = s.timed_data(raw)
    deadline = time.monotonic() + 120
    while d.processed() < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    # The listener and its pipeline processes: each one's peak, and their sum.
    listener_kb, workers_kb = d.peak_rss_kb(), d.workers_peak_rss_kb()
    out.update(daemon_code=code, daemon_idle_kb=idle_kb, daemon_peak_kb=listener_kb + workers_kb,
               daemon_listener_peak_kb=listener_kb, daemon_workers_peak_kb=workers_kb,
               daemon_listener_idle_kb=listener_idle_kb, daemon_workers_idle_kb=workers_idle_kb,
               daemon_processed=d.processed(), daemon_accept_ms=accept_s * 1000)
    out["daemon_ratio"] = out["daemon_peak_kb"] * 1024 / len(raw)
    d.stop()
    shutil.rmtree(WORK / "rss-daemon", ignore_errors=True)
    out["traced"] = run_child("rss_probe", {"file": str(big), "label": ""}, timeout=300)
    return out


# ---------------------------------------------------------------- 7: deadlines

def measure_deadlines(sz: dict[str, Any]) -> dict[str, Any]:
    per: dict[str, list[float]] = {}
    for _ in range(sz["reps"]):
        p = subprocess.run([PY, str(HERE / "deadlines.py"), "--n", str(sz["deadlines_n"])],
                           capture_output=True, timeout=300, cwd=PROJECT)
        for line in p.stdout.decode().splitlines():
            if line.endswith("deadlines/s"):
                code = line.split()[0]
                per.setdefault(code, []).append(float(line.split()[-2].replace(",", "")))
    levels = {k: median(v) for k, v in per.items()}
    return {"levels": levels, "min": min(levels.values()) if levels else float("nan"),
            "n": sz["deadlines_n"]}


# ---------------------------------------------------------------- profiling

SPY_RATE = 250
ROLES = (("drain (daemon/runner.py)", "pipeline thread (runner.drain)"),
         ("flush (daemon/outbox.py)", "outbox thread (outbox.flush)"),
         ("sweep (daemon/sweep.py)", "outbox thread (sweep)"),
         ("accept (daemon/ingest.py)", "spool writes (default executor, ingest.accept)"),
         ("_run_once (asyncio/base_events.py)", "event loop (SMTP sessions)"))


STAGES = tuple((f"run (daemon/steps/{st}.py)", f"step {st}") for st in (
    "parse", "screen", "thread", "identify", "classify", "attachments", "store", "answer")) + (
    ("_account (daemon/runner.py)", "Inbound row"),
    ("Spool.accept (daemon/spool.py)", "spool write (fsync'd)"),
    ("Spool.read (daemon/spool.py)", "spool read"),
    ("already_done (daemon/runner.py)", "already-done check"),
    ("_finish (daemon/runner.py)", "move to the store (fsync'd)"),
    ("unit_of_work (daemon/db.py)", "begin / commit (SQLite fsync)"))


def collapse(raw: Path, scope: str | None = None,
             exclude: tuple[str, ...] = ("warm_desk", "make_desk"),
             markers: tuple[tuple[str, str], ...] = ROLES) -> dict[str, Any]:
    """py-spy raw (collapsed) stacks → shares of samples by function.

    `scope`: keep only stacks through a frame containing this text; stacks through
    an `exclude` frame (the untimed warm-up and desk set-up) are dropped."""
    incl: Counter[str] = Counter()
    self_: Counter[str] = Counter()
    roles: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith(("thread (", "process "))]
        if scope and not any(scope in f for f in frames):
            continue
        if any(x in f for f in frames for x in exclude):
            continue
        n = int(count)
        total += n
        names = []
        for f in frames:
            name = f.split(" (")[0]
            where = f[f.find("(") + 1:f.rfind(":")] if "(" in f else ""
            names.append(f"{name} ({where})" if where else name)
        for name in set(names):
            incl[name] += n
        roles[next((role for mark, role in markers if any(mark in f for f in names)),
                   "other")] += n
        if names:
            self_[names[-1]] += n
    return {"samples": total, "roles": {k: v / total for k, v in roles.most_common()}
            if total else {},
            "inclusive": [(k, v / total) for k, v in incl.most_common(60)] if total else [],
            "self": [(k, v / total) for k, v in self_.most_common(25)] if total else []}


def ensure_pyspy() -> Path | None:
    spy = TOOLS_VENV / "bin" / "py-spy"
    if spy.exists():
        return spy
    subprocess.run(["python3", "-m", "venv", str(TOOLS_VENV)], capture_output=True)
    p = subprocess.run([str(TOOLS_VENV / "bin" / "pip"), "install", "--quiet", "py-spy"],
                       capture_output=True, timeout=600)
    return spy if p.returncode == 0 and spy.exists() else None


def measure_profile(sz: dict[str, Any], seed: int) -> dict[str, Any]:
    spy = ensure_pyspy()
    if spy is None:
        return {"error": "py-spy could not be installed"}
    out = {}
    raw = WORK / "profile-ingest.txt"
    run_child("ingest", {"n": sz["profile_n"], "seed": seed, "reps": 1, "label": "profile"},
              wrap=[str(spy), "record", "--idle", "--format", "raw", "-r", str(SPY_RATE), "-o",
                    str(raw), "--"])
    out["ingest"] = collapse(raw, scope="ingest_now", markers=STAGES)
    return out


# ---------------------------------------------------------------- 6: scale helper module

# (bench/bulkload.py holds the bulk loader and the lookups, imported by the child.)

# ---------------------------------------------------------------- the run

def machine(pg: str | None) -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()
    def git(*a: str) -> str:
        p = subprocess.run(["git", *a], capture_output=True, cwd=PROJECT)
        return p.stdout.decode().strip()

    dirty = git("status", "--short", "--", "daemon").splitlines()
    return {"commit": git("rev-parse", "--short", "HEAD"), "dirty": dirty,
            "cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "postgresql": pg_version(pg) if pg else "not run",
            "kernel": platform.release(), "load_before": round(load[0], 2),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="measurements to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="a smoke run on a few letters")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="PostgreSQL server to create "
                        "throw-away databases on ('' to skip PostgreSQL)")
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md alone")
    args = parser.parse_args()
    if args.only and args.only[0] == "_child":
        emit(CHILDREN[args.only[1]](json.loads(args.only[2])))
        return
    sz = QUICK if args.quick else FULL
    everything = ["ceiling", "ingest", "queue", "pipe", "smtp", "peer", "rss", "scale",
                  "deadlines", "profile"]
    todo = args.only or everything
    unknown = set(todo) - set(everything)
    if unknown:
        parser.error(f"unknown measurement(s): {', '.join(sorted(unknown))}")
    pg = args.pg_url or None
    if pg and pg_version(pg).startswith("unavailable"):
        say("PostgreSQL unavailable at", pg, "- skipping its figures")
        pg = None
    WORK.mkdir(exist_ok=True)
    LOGS.mkdir(exist_ok=True)
    if pg:
        with contextlib.suppress(Exception):
            pg_sweep(pg)
    results_path = WORK / "results.json"
    res: dict[str, Any] = {}
    if args.only and results_path.exists():  # a partial run updates an earlier full one
        res = json.loads(results_path.read_text())
    command = " ".join(["bench/run.py", *sys.argv[1:]])
    if args.only and "machine" in res and res.get("quick") == args.quick:
        # A partial run updates an earlier full one: keep its header, note the re-run.
        res.setdefault("reruns", []).append(
            f"{', '.join(todo)} re-run {datetime.now(UTC).strftime('%H:%M UTC')} "
            f"(`{command}`)")
    else:
        res = {"machine": machine(pg), "command": command, "quick": args.quick}
    res["sizes"] = sz
    res["corpus"] = corpus.summary(letters_for(sz["n"], args.seed))
    started = time.perf_counter()
    seed = args.seed

    def step(name: str, fn: Any) -> None:
        if name not in todo:
            return
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
        results_path.write_text(json.dumps(res, ensure_ascii=False, indent=1, default=str))

    base = {"n": sz["n"], "seed": seed, "reps": sz["reps"]}
    step("ceiling", lambda: run_child("ceiling", {**base, "label": ""}))
    step("ingest", lambda: {
        "fsync": run_child("fsync", {"label": ""}),
        "sqlite": run_child("ingest", {**base, "label": "sqlite"}),
        "postgresql": run_child("ingest", {**base, "label": "pg", "pg": pg}) if pg else None,
        "sqlite_nofsync": run_child("ingest", {**base, "label": "sqlite-nofsync",
                                               "nofsync": True}),
    })
    step("queue", lambda: {
        "sqlite": run_child("queue", {**base, "label": "sqlite"}),
        "postgresql": run_child("queue", {**base, "label": "pg", "pg": pg}) if pg else None,
        # Pipeline processes ([pipeline] workers, PostgreSQL only), new letters only:
        "postgresql_procs": {str(n): run_child("queue", {**base, "label": f"pg-{n}p", "pg": pg,
                                                    "procs": n}) for n in (1, 2)}
        if pg else None,
    })
    step("pipe", lambda: measure_pipe(sz, seed))
    step("smtp", lambda: measure_smtp(sz, seed, WORK / "profile-smtp.txt"))
    step("peer", lambda: measure_peer(sz, seed))
    step("rss", lambda: measure_rss(sz))

    def scale() -> dict[str, Any]:
        out: dict[str, Any] = {}
        for db_name, pg_url in (("sqlite", None), ("postgresql", pg)):
            if db_name == "postgresql" and not pg:
                continue
            for label, tickets in (("small", sz["scale_small"]), ("big", sz["scale_big"])):
                try:
                    out[f"{db_name}_{label}"] = run_child("scale", {
                        "tickets": tickets, "letters": sz["scale_letters"], "reps": sz["reps"],
                        "seed": seed, "lookups": sz["lookups"], "label": f"{db_name}-{label}",
                        "pg": pg_url}, timeout=1800)
                except Exception as exc:  # noqa: BLE001 - keep the other sizes' figures
                    out[f"{db_name}_{label}"] = {"error": f"{type(exc).__name__}: "
                                                          f"{str(exc)[-1500:]}"}
        return out

    step("scale", scale)
    step("deadlines", lambda: measure_deadlines(sz))
    step("profile", lambda: measure_profile(sz, seed))
    if "smtp" in todo and (WORK / "profile-smtp.txt").exists():
        res.setdefault("profile", {})
        if isinstance(res["profile"], dict):
            prof = collapse(WORK / "profile-smtp.txt")
            # --gil: a sample only when some thread holds the GIL
            prof["gil_busy"] = prof["samples"] / (SPY_RATE * (sz["smtp_seconds"] + 2))
            res["profile"]["smtp_daemon"] = prof
    if pg and pg_wait(pg, 120):
        with contextlib.suppress(Exception):
            left = pg_sweep(pg)
            if left:
                say("dropped databases left behind:", ", ".join(left))
    if not res.get("reruns"):
        res["total_seconds"] = round(time.perf_counter() - started, 1)
    results_path.write_text(json.dumps(res, ensure_ascii=False, indent=1, default=str))
    from report import render

    block = render(res)
    print(block)
    if not args.no_write:
        write_block(block)
        say("wrote", RESULTS_MD)
    say(f"total {time.perf_counter() - started:.1f} s")


def write_block(block: str) -> None:
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
