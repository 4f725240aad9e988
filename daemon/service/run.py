"""`supportd run`: the long-running daemon.

One asyncio loop hosts the SMTP/LMTP listener. The pipeline runs in separate
processes (`[pipeline] workers`, daemon/service/supervisor.py), so its parsing and ORM work
never holds the listener's GIL; a letter spooled wakes them, and what they report
about the database drives the listener's 451s. Beside the loop, threads: the
outbox (daemon/service/mailer.py), woken when a worker reports letters processed,
the periodic work on APScheduler (daemon/service/schedule.py: the deadline sweep,
retention, the scheduled report and digests), IMAP polling when it is enabled, and
the Prometheus endpoint when `[metrics] enabled` (daemon/service/metrics.py). Signal
handlers only set events: SIGTERM/SIGINT stop (the workers finish the letter in hand), SIGHUP
reloads the config all or nothing and passes it on to the workers. Under systemd
(Type=notify) READY=1 is sent once the listener is bound and the spool recovered,
and the watchdog is pinged from the loop itself, so a wedged loop gets the daemon
restarted; the workers never speak to systemd.
"""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import structlog

from daemon.app import App
from daemon.config import loader as config_mod
from daemon.intake import smtp_listener
from daemon.service import logs, sdnotify
from daemon.service.doorbell import Doorbell
from daemon.service.mailer import Mailer
from daemon.service.schedule import Schedule

if TYPE_CHECKING:
    from daemon.service.metrics import MetricsServer
from daemon.service.supervisor import STOP_TIMEOUT, Supervisor
from daemon.service.worker import db_answers

log = structlog.get_logger("supportd.service")

EX_CONFIG = 78


class Service:
    def __init__(self, app: App, config_path: str | None) -> None:
        self.app = app
        self.config_path = config_path
        self.stop = asyncio.Event()
        self.db_healthy = True
        self.mailer = Mailer(app, lambda: self.db_healthy)
        self.schedule = Schedule(app, lambda: self.db_healthy, woken=self.mailer.wake)
        self.workers = Supervisor(app.config.pipeline.workers, config_path, self._health,
                                  self.mailer.wake)
        self.doorbell = Doorbell(app.config.spool_dir, self.workers.wake,
                                 lambda: self.db_healthy,
                                 lambda: self.app.config.smtp.max_message_size)

    def _health(self, healthy: bool) -> None:
        """A worker reported the database (or the spool's disk) away or back."""
        if healthy != self.db_healthy:
            log.info("smtp.accepting" if healthy else "smtp.tempfailing")
        self.db_healthy = healthy

    async def watchdog_loop(self, interval: float) -> None:
        while not self.stop.is_set():
            sdnotify.notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    # ------------------------------------------------------------ signals

    def reload(self) -> None:
        sdnotify.notify("RELOADING=1")
        try:
            new = config_mod.load(self.config_path)
        except config_mod.ConfigError as exc:
            log.error("config.reload_refused", error=str(exc))
            sdnotify.notify("READY=1", f"STATUS=reload refused: {exc}")
            return
        old = self.app.config
        restart_needed = [s for s in ("storage", "smtp", "imap", "pipeline")
                          if getattr(old, s) != getattr(new, s)]
        # Parts bound at start keep their old values; the rest switches at once.
        new = replace(new, storage=old.storage, smtp=old.smtp, imap=old.imap,
                      pipeline=old.pipeline)
        self.app.reconfigure(new)
        logs.configure(new.logging)
        self.workers.reload()  # each worker loads the same file between two letters
        self.schedule.reload()
        log.info("config.reloaded", source=new.source, needs_restart=restart_needed)
        sdnotify.notify("READY=1", "STATUS=running (config reloaded)")

    # ------------------------------------------------------------ main

    async def main(self) -> int:
        self.app_loop = asyncio.get_running_loop()
        self.app.spool.ensure()
        recovered = self.app.spool.recover()
        if recovered:
            log.warning("spool.recovered", count=len(recovered))
        self.db_healthy = db_answers(self.app.engine)
        if not self.db_healthy:
            log.error("db.unavailable", url=self.app.engine.url.render_as_string())
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.app_loop.add_signal_handler(sig, self.stop.set)
        self.app_loop.add_signal_handler(signal.SIGHUP, self.reload)
        self.workers.start()
        self.mailer.start()
        self.schedule.start()
        metrics = self._start_metrics()
        tasks: list[asyncio.Task[object]] = []
        server = None
        if self.app.config.smtp.enabled:
            handler = smtp_listener.Handler(
                self.app, self.workers.wake, lambda: self.db_healthy,
                source="lmtp" if self.app.config.smtp.lmtp else "smtp")
            server = await smtp_listener.start(self.app, handler)
        await self.doorbell.start()  # `supportd ingest` hands letters over through it
        if self.app.config.imap.enabled:
            from daemon.intake.imap_poller import ImapPoller

            poller = ImapPoller(self.app, self.stop_requested, self.mailer.wake)
            tasks.append(asyncio.create_task(asyncio.to_thread(poller.run), name="imap"))
        interval = sdnotify.watchdog_interval()
        if interval:
            tasks.append(asyncio.create_task(self.watchdog_loop(interval), name="watchdog"))
        sdnotify.notify("READY=1", "STATUS=running")
        log.info("service.started", config=self.app.config.source,
                 smtp=self.app.config.smtp.enabled, imap=self.app.config.imap.enabled)
        for warning in config_mod.warnings(self.app.config):
            log.warning("config.unsafe", warning=warning)
        await self.stop.wait()
        sdnotify.notify("STOPPING=1")
        log.info("service.stopping")
        if server is not None:
            server.close()
            await server.wait_closed()
        if metrics is not None:
            metrics.stop()
        await self.doorbell.stop()  # from now on `ingest` processes letters itself
        # One deadline for both (systemd's TimeoutStopSec is 60 s): the outbox is told
        # at once and ends after the letter it is handing over, while the workers finish
        # theirs; what they queue now is sent after the next start.
        deadline = time.monotonic() + STOP_TIMEOUT
        self.mailer.request_stop()
        await asyncio.to_thread(self.schedule.stop)  # after the job in hand
        await self.workers.stop()  # each finishes the letter in hand
        await asyncio.to_thread(self.mailer.stop, max(1.0, deadline - time.monotonic()))
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.app.close()
        log.info("service.stopped")
        return 0

    def _start_metrics(self) -> MetricsServer | None:
        if not self.app.config.metrics.enabled:
            return None
        from daemon.service.metrics import MetricsServer

        metrics = MetricsServer(self.app)
        try:
            metrics.start()
        except OSError as exc:  # the port taken: the desk runs on, without metrics
            log.error("metrics.failed_to_listen", error=str(exc),
                      port=self.app.config.metrics.port)
            return None
        return metrics

    def stop_requested(self) -> bool:
        return self.stop.is_set()


def run(app: App, config_path: str | None) -> int:
    return asyncio.run(Service(app, config_path).main())
