"""`supportd run`: the long-running daemon.

One asyncio loop hosts the SMTP/LMTP listener; blocking work (the pipeline, the
outbox, IMAP) runs in worker threads and is woken by events. Signal handlers
only set events: SIGTERM/SIGINT stop, SIGHUP reloads the config all or nothing.
Under systemd (Type=notify) READY=1 is sent once the listener is bound and the
spool recovered, and the watchdog is pinged from the loop itself, so a wedged
loop gets the daemon restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from daemon import config as config_mod
from daemon import db, logs, outbox, runner, sdnotify, smtp_listener, sweep
from daemon.app import App
from daemon.config import parse_duration

log = structlog.get_logger("supportd.service")

EX_CONFIG = 78


class Service:
    def __init__(self, app: App, config_path: str | None) -> None:
        self.app = app
        self.config_path = config_path
        self.stop = asyncio.Event()
        self.letters = asyncio.Event()
        self.mail = asyncio.Event()
        self.db_healthy = True
        self.pipeline_pool = ThreadPoolExecutor(1, thread_name_prefix="pipeline")
        self.outbox_pool = ThreadPoolExecutor(1, thread_name_prefix="outbox")
        self.transport = outbox.make_transport(app.config.outbound)

    # ------------------------------------------------------------ loops

    def wake_runner(self) -> None:
        self.app_loop.call_soon_threadsafe(self.letters.set)

    async def _wait(self, event: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        event.clear()

    async def runner_loop(self) -> None:
        """Drain the spool whenever woken; while the database is away, probe it with
        backoff (the listener answers 451 meanwhile) and keep the letters spooled."""
        delay = 1.0
        while not self.stop.is_set():
            if not self.db_healthy:
                self.db_healthy = await self.app_loop.run_in_executor(
                    self.pipeline_pool, db.ping, self.app.engine)
                if not self.db_healthy:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 60.0)
                    continue
                log.info("db.available")
                delay = 1.0
            try:
                results = await self.app_loop.run_in_executor(
                    self.pipeline_pool, runner.drain, self.app)
            except runner.SpoolFull as exc:
                self.db_healthy = False  # the listener answers 451 until there is room
                log.error("spool.full", error=str(exc).splitlines()[0][:300],
                          hint="letters stay in the spool; SMTP answers 451")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
                continue
            except runner.TemporaryFailure as exc:
                self.db_healthy = False
                log.error("db.unavailable", error=str(exc).splitlines()[0][:300],
                          hint="letters stay in the spool; SMTP answers 451")
                await asyncio.sleep(delay)  # the database may answer pings and still fail
                delay = min(delay * 2, 60.0)
                continue
            except Exception:
                log.exception("runner.crashed")
                await asyncio.sleep(5)
                continue
            if results:
                self.mail.set()
            await self._wait(self.letters, 5.0)

    async def outbox_loop(self) -> None:
        while not self.stop.is_set():
            try:
                report = await self.app_loop.run_in_executor(
                    self.outbox_pool, outbox.flush, self.app, self.transport)
            except Exception as exc:
                log.warning("outbox.loop_error", error=str(exc).splitlines()[0])
            else:
                if report.sent + report.deferred + report.failed >= 50:
                    continue  # a full batch: more may be waiting
            await self._wait(self.mail, 5.0)

    async def sweep_job(self) -> None:
        """APScheduler's periodic job: deadline warnings (daemon/sweep.py)."""
        if not self.db_healthy:
            return
        try:
            report = await self.app_loop.run_in_executor(self.outbox_pool, sweep.sweep,
                                                         self.app)
        except Exception as exc:
            log.warning("sweep.failed", error=str(exc).splitlines()[0][:300])
            return
        if report.warned or report.breached:
            self.mail.set()

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
        restart_needed = [s for s in ("storage", "smtp", "imap")
                          if getattr(old, s) != getattr(new, s)]
        # Parts bound at start keep their old values; the rest switches at once.
        new = replace(new, storage=old.storage, smtp=old.smtp, imap=old.imap)
        self.app.reconfigure(new)
        logs.configure(new.logging)
        self.transport = outbox.make_transport(new.outbound)
        log.info("config.reloaded", source=new.source, needs_restart=restart_needed)
        sdnotify.notify("READY=1", "STATUS=running (config reloaded)")

    # ------------------------------------------------------------ main

    async def main(self) -> int:
        self.app_loop = asyncio.get_running_loop()
        self.app.spool.ensure()
        recovered = self.app.spool.recover()
        if recovered:
            log.warning("spool.recovered", count=len(recovered))
        self.db_healthy = db.ping(self.app.engine)
        if not self.db_healthy:
            log.error("db.unavailable", url=self.app.engine.url.render_as_string())
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.app_loop.add_signal_handler(sig, self.stop.set)
        self.app_loop.add_signal_handler(signal.SIGHUP, self.reload)
        tasks = [asyncio.create_task(self.runner_loop(), name="runner"),
                 asyncio.create_task(self.outbox_loop(), name="outbox")]
        server = None
        if self.app.config.smtp.enabled:
            handler = smtp_listener.Handler(
                self.app, self.wake_runner, lambda: self.db_healthy,
                source="lmtp" if self.app.config.smtp.lmtp else "smtp")
            server = await smtp_listener.start(self.app, handler)
        if self.app.config.imap.enabled:
            from daemon.imap_poller import ImapPoller

            poller = ImapPoller(self.app, self.stop_requested, self.mail_set)
            tasks.append(asyncio.create_task(asyncio.to_thread(poller.run), name="imap"))
        scheduler = AsyncIOScheduler(event_loop=self.app_loop)
        scheduler.add_job(self.sweep_job, "interval", id="sweep", coalesce=True,
                          max_instances=1, seconds=parse_duration(
                              self.app.config.scheduler.sweep_interval).total_seconds())
        scheduler.start()
        interval = sdnotify.watchdog_interval()
        if interval:
            tasks.append(asyncio.create_task(self.watchdog_loop(interval), name="watchdog"))
        sdnotify.notify("READY=1", "STATUS=running")
        log.info("service.started", config=self.app.config.source,
                 smtp=self.app.config.smtp.enabled, imap=self.app.config.imap.enabled)
        await self.stop.wait()
        sdnotify.notify("STOPPING=1")
        log.info("service.stopping")
        scheduler.shutdown(wait=False)
        if server is not None:
            server.close()
            await server.wait_closed()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.pipeline_pool.shutdown(wait=True)  # finish the letter in hand
        self.outbox_pool.shutdown(wait=True)
        self.app.close()
        log.info("service.stopped")
        return 0

    def stop_requested(self) -> bool:
        return self.stop.is_set()

    def mail_set(self) -> None:
        self.app_loop.call_soon_threadsafe(self.mail.set)


def run(app: App, config_path: str | None) -> int:
    return asyncio.run(Service(app, config_path).main())
