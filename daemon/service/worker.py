"""`supportd worker`: one pipeline process under `supportd run` (not for admins).

The daemon's listener must answer within milliseconds, and the pipeline (parsing,
ORM, templates) is CPU work that held the GIL against it when both were threads of
one process. So `supportd run` starts `[pipeline] workers` of these processes
(daemon/service/supervisor.py); each builds its own App from the same config and drains the
spool, which was always the hand-over: letters in incoming/, claims by rename into
processing/<host>-<pid>/, dead workers' claims taken back on every pass.

The outbox and the deadline sweep are not here: they are a thread of the parent
(daemon/service/mailer.py), woken by the "processed N" reports below, so sending the
letters a worker queued never holds the worker's GIL.

The parent talks to a worker through two pipes. On stdin, `w` means "letters came,
drain now" (a 5 s timer drains anyway); end of file means the parent is gone.
On the report pipe the worker writes one line per change the parent acts on:

    db up              the database answers (the first line), or a pass went
                       through again after `db down`
    db down REASON     the database is away: the listener answers 451
    spool full REASON  the disk is full: 451 too
    processed N        a pass committed N letters

SIGTERM finishes the letters in hand (one drain call, at most `BATCH`) and exits 0;
SIGHUP reloads the config between letters. The parent's death kills the worker
(PR_SET_PDEATHSIG), as it killed the pipeline thread when it was one process:
a `kill -9` of `supportd run` leaves no orphan holding claims or locks.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import selectors
import signal
import time
from dataclasses import replace

import structlog
from sqlalchemy import Engine

from daemon.app import App
from daemon.config import loader as config_mod
from daemon.pipeline import runner
from daemon.service import logs

log = structlog.get_logger("supportd.worker")

# Letters per drain call: a stop or a reload waits for at most this many (the runner
# may commit them in batches of up to 32, so a smaller call would cut its batches).
BATCH = 32
TIMER = 5.0  # seconds: drain even without a wake-up (letters from another daemon)
PR_SET_PDEATHSIG = 1


def db_answers(engine: Engine) -> bool:
    """Does the database answer? A bare `SELECT 1` on a pooled DBAPI connection:
    no transaction at all, so nothing to wait for behind a writer."""
    try:
        raw = engine.raw_connection()
    except Exception:  # the driver's own errors: the pool does not wrap them
        return False
    try:
        cur = raw.cursor()
        cur.execute("SELECT 1")
        cur.close()
        return True
    except Exception:
        raw.invalidate()
        return False
    finally:
        raw.close()


def die_with_parent(parent: int) -> None:
    """SIGKILL when the parent process dies (Linux); exit now if it already has."""
    # Not Linux (no prctl): end of file on stdin still stops the worker.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)


class Worker:
    def __init__(self, app: App, config_path: str | None, report_fd: int) -> None:
        self.app = app
        self.config_path = config_path
        self.report_fd = report_fd
        self.stop = False
        self.reload_wanted = False
        self.healthy = True
        self.selector = selectors.DefaultSelector()
        self.signal_r, self.signal_w = os.pipe()
        os.set_blocking(self.signal_w, False)
        os.set_blocking(0, False)
        self.selector.register(0, selectors.EVENT_READ, "wake")
        self.selector.register(self.signal_r, selectors.EVENT_READ, "signal")

    # ------------------------------------------------------------ the parent

    def report(self, line: str) -> None:
        data = (line.replace("\n", " ")[:400] + "\n").encode()
        try:
            os.write(self.report_fd, data)  # < PIPE_BUF: one atomic write
        except BrokenPipeError:
            self.stop = True  # the parent is gone

    def _signal(self, signum: int, _frame: object) -> None:
        if signum == signal.SIGHUP:
            self.reload_wanted = True
        else:
            self.stop = True
        with contextlib.suppress(BlockingIOError):
            os.write(self.signal_w, b"s")

    def wait(self, timeout: float, *, wakes: bool = True) -> None:
        """Until a wake-up byte (if `wakes`), a signal, or `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not self.stop and not self.reload_wanted:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            for key, _ in self.selector.select(left):
                fd = key.fd
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if key.data == "wake":
                    if not data:  # end of file: the parent closed our stdin
                        self.stop = True
                        return
                    if wakes and b"w" in data:
                        return

    # ------------------------------------------------------------ reload

    def reload(self) -> None:
        self.reload_wanted = False
        try:
            new = config_mod.load(self.config_path)
        except config_mod.ConfigError as exc:
            log.error("worker.reload_refused", error=str(exc))
            return
        old = self.app.config
        # As in the parent: what is bound at start keeps its old value.
        new = replace(new, storage=old.storage, smtp=old.smtp, imap=old.imap)
        self.app.reconfigure(new)
        logs.configure(new.logging)
        log.info("worker.reloaded", source=new.source)

    # ------------------------------------------------------------ the loop

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._signal)
        self.app.spool.ensure()
        self.healthy = db_answers(self.app.engine)
        if self.healthy:
            self.report("db up")
        else:
            log.error("db.unavailable", url=self.app.engine.url.render_as_string(),
                      hint="letters stay in the spool; SMTP answers 451")
            self.report("db down: no answer to a ping")
        log.info("worker.started", pid=os.getpid())
        delay = 1.0
        while not self.stop:
            if self.reload_wanted:
                self.reload()
            if not self.healthy and not db_answers(self.app.engine):
                self.wait(delay, wakes=False)
                delay = min(delay * 2, 60.0)
                continue
            try:
                results = runner.drain(self.app, limit=BATCH)
            except runner.SpoolFull as exc:
                self._unhealthy("spool full", "spool.full", exc)
                self.wait(delay, wakes=False)
                delay = min(delay * 2, 60.0)
                continue
            except runner.Misconfigured as exc:
                # As for a database that is away: the listener says 451 and the
                # letters wait in the spool, until check-config's fix and a reload.
                self._unhealthy("db down", "pipeline.misconfigured", exc)
                self.wait(delay, wakes=False)
                delay = min(delay * 2, 60.0)
                continue
            except runner.TemporaryFailure as exc:
                self._unhealthy("db down", "db.unavailable", exc)
                self.wait(delay, wakes=False)  # it may answer pings and still fail
                delay = min(delay * 2, 60.0)
                continue
            except Exception:
                log.exception("runner.crashed")
                self.wait(5.0, wakes=False)
                continue
            if not self.healthy:  # a pass went through: the listener may say 250 again
                log.info("db.available")
                self.healthy, delay = True, 1.0
                self.report("db up")
            # Letters waiting for a scanner that is away went back to incoming/: the
            # timer tries them again, not a busy loop.
            done = [r for r in results if r.outcome != "waiting"]
            if done:
                self.report(f"processed {len(done)}")
            if len(done) < BATCH or len(done) < len(results):
                self.wait(TIMER)
        self.app.close()
        log.info("worker.stopped", pid=os.getpid())
        return 0

    def _unhealthy(self, what: str, event: str, exc: Exception) -> None:
        error = str(exc).splitlines()[0][:300] if str(exc) else repr(exc)
        log.error(event, error=error, hint="letters stay in the spool; SMTP answers 451")
        if self.healthy:
            self.report(f"{what} {error}")
        self.healthy = False


def run(app: App, config_path: str | None, report_fd: int, parent: int) -> int:
    die_with_parent(parent)
    os.environ.pop("NOTIFY_SOCKET", None)  # only `supportd run` speaks to systemd
    return Worker(app, config_path, report_fd).run()
