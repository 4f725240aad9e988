"""The outbox of `supportd run`: a thread of the listener's process.

The pipeline processes (daemon/service/worker.py) queue letters as rows; this thread
sends them (daemon/outbound/outbox.py). The periodic work (the deadline sweep, the
spool's retention) is the scheduler's (daemon/service/schedule.py); a job that
queues letters wakes this thread. It lives beside the listener, not in a pipeline process:
sending is mostly waiting (the relay, fsync), and its ~1 ms of Python per letter
held the pipeline's GIL for two letters out of every client letter (issue 5). A
worker's "processed N" report, or a letter queued by IMAP polling here, wakes it;
otherwise it looks every few seconds (retries fall due, another daemon queued).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from daemon.app import App
from daemon.config.schema import Config
from daemon.outbound import outbox

log = structlog.get_logger("supportd.mailer")

TIMER = 5.0  # seconds between looks when nothing wakes it
BATCH = 50  # letters per flush; a full one may have left more


class Mailer:
    def __init__(self, app: App, db_healthy: Callable[[], bool]) -> None:
        self.app = app
        self.db_healthy = db_healthy
        self.woken = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self.run, name="outbox", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        """Letters were queued. Safe from any thread."""
        self.woken.set()

    def request_stop(self) -> None:
        """End after the letter in hand (a relay's answer)."""
        self.stopping = True
        self.woken.set()

    def stop(self, timeout: float) -> None:
        """`request_stop`, and wait up to `timeout` seconds for the thread to end."""
        self.request_stop()
        if self.thread.is_alive():
            self.thread.join(timeout)

    def run(self) -> None:
        config: Config | None = None
        transport: outbox.Transport | None = None
        while not self.stopping:
            self.woken.clear()  # a wake from here on means another look
            # Started, reloaded, or its set-up failed last time: a new transport.
            if self.app.config is not config or transport is None:
                config = self.app.config
                transport = self._transport(config)
            if transport is not None and self._flush(transport) >= BATCH:
                continue  # a full batch: more may be waiting
            if self.stopping:
                break
            self.woken.wait(TIMER)

    def _flush(self, transport: outbox.Transport) -> int:
        """Letters handled (sent, deferred or failed) in one flush."""
        try:
            report = outbox.flush(self.app.outbox, transport, batch=BATCH,
                                  stop=lambda: self.stopping)
        except Exception as exc:
            log.warning("outbox.loop_error", error=str(exc).splitlines()[0])
            return 0
        return report.sent + report.deferred + report.failed

    def _transport(self, config: Config) -> outbox.Transport | None:
        """The relay or Maildir; None (logged, the letters wait) when it cannot be set
        up, e.g. a password file that is missing or empty, a Maildir not writable."""
        try:
            return outbox.make_transport(config.outbound, self.app.token_alarm("outbound"))
        except Exception as exc:
            log.error("outbox.transport_failed", error=f"{type(exc).__name__}: {exc}"[:300],
                      hint="nothing is sent until it is fixed; the letters stay queued")
            return None
