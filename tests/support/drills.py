"""What the drills need around `supportd run` (bench/harness/daemon.py): the relay it
sends to, a look into its spool, its database, and the PostgreSQL cluster under it.

`Relay` is an aiosmtpd sink on loopback that counts what it accepted by Message-ID,
and can be told to refuse (4xx/5xx), to be down, or to stall before answering DATA.
`spool_state` lists a spool's folders; `query` runs one SQL statement against the
daemons' database; `pg_stop`/`pg_start` stop and start the local cluster (as root).
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import socket
import subprocess
import threading
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from bench.harness.daemon import wait_until
from bench.harness.desk_config import free_port


def message_id_of(raw: bytes) -> str:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    m = re.search(rb"(?im)^message-id:\s*(<[^>\r\n]+>)", head)
    return m.group(1).decode() if m else ""


def relay_outbound(port: int, timeout: int = 5, max_attempts: int = 20) -> str:
    return (f'transport = "smtp"\nhost = "127.0.0.1"\nport = {port}\n'
            f"timeout = {timeout}\nmax_attempts = {max_attempts}")


# ---------------------------------------------------------------- the spool


@dataclass(frozen=True)
class SpoolState:
    tmp: list[str]
    incoming: list[str]
    processing: list[str]
    stored: list[str]
    shunted: list[str]
    journal: list[str]

    @property
    def settled(self) -> bool:
        """Nothing waiting, nothing claimed, nothing half-written."""
        return not (self.tmp or self.incoming or self.processing or self.journal)


def spool_state(spool: Path) -> SpoolState:
    def names(d: Path, pattern: str = "*") -> list[str]:
        return sorted(p.name for p in d.glob(pattern) if p.is_file()) if d.exists() else []

    return SpoolState(tmp=names(spool / "tmp"), incoming=names(spool / "incoming"),
                      processing=names(spool / "processing", "*/*"),
                      stored=names(spool / "store", "*/*/*/*"),
                      shunted=names(spool / "shunt"), journal=names(spool / "sent"))


# ---------------------------------------------------------------- the relay


@dataclass(frozen=True)
class Delivery:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message_id: str


class RelayHandler:
    """A relay that takes a letter only when it answers 250 to a client still there.

    `reply_data`/`reply_rcpt`: refuse with that line instead. `stall`: hold every
    DATA without an answer until `release()` (or the client goes away: then the
    letter is dropped, as a real MTA drops a transaction it never confirmed)."""

    def __init__(self) -> None:
        self.delivered: list[Delivery] = []
        self.reply_data: str | None = None
        self.reply_rcpt: str | None = None
        self.stall = False
        self.stalled = threading.Event()  # a DATA is being held
        self.dropped: list[str] = []  # Message-IDs whose client vanished during a stall
        self._release: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]  # noqa: N802
        if self.reply_rcpt:
            return self.reply_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        raw = envelope.original_content or b""
        mid = message_id_of(raw)
        if self.reply_data:
            return self.reply_data
        if self.stall:
            self._loop = asyncio.get_running_loop()
            self._release = asyncio.Event()
            self.stalled.set()
            try:
                while not self._release.is_set():
                    if server.transport is None or server.transport.is_closing():
                        with self.lock:
                            self.dropped.append(mid)
                        return "451 4.3.0 client went away"  # nobody hears it
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._release.wait(), 0.05)
            except asyncio.CancelledError:  # aiosmtpd: the connection was lost
                with self.lock:
                    self.dropped.append(mid)
                raise
            if server.transport is None or server.transport.is_closing():
                with self.lock:
                    self.dropped.append(mid)
                return "451 4.3.0 client went away"
        with self.lock:
            self.delivered.append(Delivery(envelope.mail_from, tuple(envelope.rcpt_tos),
                                           raw, mid))
        return "250 OK"

    def release(self) -> None:
        self.stall = False
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)

    def counts(self) -> collections.Counter[str]:
        with self.lock:
            return collections.Counter(d.message_id for d in self.delivered)

    def to(self, address: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.delivered if address in d.rcpt_tos]


class Relay:
    """The outgoing relay on loopback: `up()`, `down()`, and its handler's knobs."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.handler = RelayHandler()
        self._ctl: Controller | None = None

    def up(self) -> Relay:
        assert self._ctl is None
        self._ctl = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._ctl.start()
        return self

    def down(self) -> None:
        if self._ctl is not None:
            self.handler.release()
            self._ctl.stop()
            self._ctl = None

    @property
    def outbound(self) -> str:
        return relay_outbound(self.port)


# ---------------------------------------------------------------- PostgreSQL

PG_CLUSTER = ("15", "main")


def _pg_ctl(action: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *PG_CLUSTER, action,
                           *extra], capture_output=True, text=True, timeout=120)


def pg_running() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def pg_stop() -> None:
    p = _pg_ctl("stop", "-m", "fast")
    assert p.returncode == 0 or not pg_running(), p.stderr


def pg_start() -> None:
    if not pg_running():
        p = _pg_ctl("start")
        assert p.returncode == 0 or pg_running(), p.stderr
    wait_until(pg_running, 60, message="PostgreSQL did not come back")


def have_pg_ctl() -> bool:
    return os.geteuid() == 0 and subprocess.run(
        ["which", "pg_ctlcluster"], capture_output=True).returncode == 0


# ---------------------------------------------------------------- the database


def query(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of one SQL query against the daemons' database (a fresh connection)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(text(sql), params)]
    finally:
        engine.dispose()
