"""The pipeline processes of `supportd run`: start, wake, watch, restart, stop.

Each worker is `supportd worker` (daemon/service/worker.py), a child process with
its own App. The parent writes a byte to a worker's stdin when a letter was
spooled, reads its report lines (the database away or back, letters processed:
the parent's outbox then sends what they queued), and starts it again with backoff when it dies
(its claims are taken back by the next drain pass of any worker, because its pid
is gone). Children get no NOTIFY_SOCKET or WATCHDOG_*: only the main process
speaks to systemd. They stay in its cgroup, so a stop of the unit reaches them,
and they die with it (PR_SET_PDEATHSIG) when it is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger("supportd.supervisor")

SYSTEMD_ONLY = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS",
                "LISTEN_PID", "LISTEN_FDNAMES")
STOP_TIMEOUT = 50.0  # seconds for the letters in hand; systemd's TimeoutStopSec is 60
STABLE = 60.0  # a worker that lived this long restarts without backoff


@dataclass
class Slot:
    """One place for a worker: the process in it now, and what it last reported."""

    index: int
    proc: asyncio.subprocess.Process | None = None
    wake_fd: int | None = None
    trouble: str | None = None  # "db down …" / "spool full …" while it lasts
    backoff: float = 1.0


class Supervisor:
    def __init__(self, count: int, config_path: str | None,
                 on_health: Callable[[bool], None], on_processed: Callable[[], None]) -> None:
        self.slots = [Slot(i) for i in range(count)]
        self.config_path = config_path
        self.on_health = on_health
        self.on_processed = on_processed
        self.stopping = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------ the parent's side

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._keep(slot), name=f"worker-{slot.index}")
                      for slot in self.slots]

    def wake(self) -> None:
        """A letter was spooled. One byte per worker; a full pipe is awake anyway."""
        for slot in self.slots:
            self._write(slot, b"w")

    @staticmethod
    def _write(slot: Slot, byte: bytes) -> None:
        if slot.wake_fd is not None:
            with contextlib.suppress(BlockingIOError, BrokenPipeError):
                os.write(slot.wake_fd, byte)

    def reload(self) -> None:
        for slot in self.slots:
            if slot.proc is not None and slot.proc.returncode is None:
                slot.proc.send_signal(signal.SIGHUP)

    def healthy(self) -> bool:
        return not any(slot.trouble for slot in self.slots)

    async def stop(self) -> None:
        """SIGTERM to every worker, then wait for the letters in hand."""
        self.stopping.set()
        for slot in self.slots:
            if slot.proc is not None and slot.proc.returncode is None:
                slot.proc.send_signal(signal.SIGTERM)
        done, pending = await asyncio.wait(self.tasks, timeout=STOP_TIMEOUT) \
            if self.tasks else (set(), set())
        for slot in self.slots:
            if slot.proc is not None and slot.proc.returncode is None:
                log.error("worker.kill", pid=slot.proc.pid, waited=STOP_TIMEOUT)
                slot.proc.kill()
        for t in pending:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    # ------------------------------------------------------------ one slot

    def _command(self, report_fd: int) -> list[str]:
        cmd = [sys.executable, "-m", "daemon.cli"]
        if self.config_path is not None:
            cmd += ["--config", self.config_path]
        return [*cmd, "worker", "--report-fd", str(report_fd), "--parent", str(os.getpid())]

    async def _keep(self, slot: Slot) -> None:
        """Run a worker in `slot` until the service stops; restart it when it dies."""
        while not self.stopping.is_set():
            started = time.monotonic()
            code = await self._run_one(slot)
            if self.stopping.is_set():
                break
            lived = time.monotonic() - started
            if lived >= STABLE:
                slot.backoff = 1.0
            log.error("worker.died", slot=slot.index, exit=code, lived_s=round(lived, 1),
                      restart_in_s=slot.backoff)
            if slot.trouble:  # a dead worker's report no longer holds
                slot.trouble = None
                self.on_health(self.healthy())
            with contextlib.suppress(TimeoutError):  # a stop cuts the pause short
                await asyncio.wait_for(self.stopping.wait(), slot.backoff)
            slot.backoff = min(slot.backoff * 2, 60.0)

    async def _run_one(self, slot: Slot) -> int:
        loop = asyncio.get_running_loop()
        wake_r, wake_w = os.pipe()
        report_r, report_w = os.pipe()
        os.set_blocking(wake_w, False)
        env = {k: v for k, v in os.environ.items() if k not in SYSTEMD_ONLY}
        try:
            slot.proc = await asyncio.create_subprocess_exec(
                *self._command(report_w), stdin=wake_r, pass_fds=(report_w,), env=env)
        except OSError as exc:
            os.close(wake_w)
            os.close(report_r)
            log.error("worker.start_failed", slot=slot.index, error=str(exc))
            return -1
        finally:
            os.close(wake_r)  # the child's ends
            os.close(report_w)
        if self.stopping.is_set():  # the stop came while it was being started
            slot.proc.send_signal(signal.SIGTERM)
        slot.wake_fd = wake_w
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(report_r, "rb"))
        try:
            while line := await reader.readline():
                self._report(slot, line.decode(errors="replace").strip())
        finally:
            transport.close()
            slot.wake_fd = None
            os.close(wake_w)
        return await slot.proc.wait()

    def _report(self, slot: Slot, line: str) -> None:
        if line.startswith(("db down", "spool full")):
            slot.trouble = line
            self.on_health(False)
        elif line.startswith("processed"):
            self.on_processed()
        elif line == "db up":  # also its first word: the database answered its ping
            slot.trouble = None
            self.on_health(self.healthy())
