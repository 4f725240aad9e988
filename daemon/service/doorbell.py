"""The daemon's end of the thin MTA pipe (daemon/intake/thin_pipe.py).

`supportd run` listens on `SPOOL/supportd.sock`. To HELLO it answers as its
listener would answer DATA: 250 with the size limit while letters can be
processed, 451 while a worker reports the database (or the spool's disk) away.
To QUEUED it wakes the workers, as a letter the listener spooled does, and logs
`letter.accepted`.

Two daemons may share one spool folder: the first one binds the socket; the
second finds it answering and leaves it alone (its workers drain the shared
`incoming/` on their 5 s timer). A socket file nobody answers on is a daemon's
that died: it is removed and bound anew.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from pathlib import Path

import structlog

from daemon.intake.thin_pipe import reachable, socket_path

log = structlog.get_logger("supportd.doorbell")

READ_TIMEOUT = 30.0  # seconds a client may keep a line waiting


class Doorbell:
    def __init__(self, spool_root: Path, wake: Callable[[], None],
                 healthy: Callable[[], bool], limit: Callable[[], int]) -> None:
        self.path = socket_path(spool_root)
        self.wake, self.healthy, self.limit = wake, healthy, limit
        self.server: asyncio.AbstractServer | None = None
        self.inode: int | None = None

    def _bind(self) -> socket.socket | None:
        """A listening socket at our path, or None when another daemon holds it."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with reachable(self.path) as address:
            try:
                sock.bind(address)
            except OSError:
                if not self._stale(address):
                    sock.close()
                    return None
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                sock.bind(address)
        sock.listen(128)
        self.inode = self.path.stat().st_ino
        return sock

    @staticmethod
    def _stale(address: str) -> bool:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(2.0)
        try:
            probe.connect(address)
        except (ConnectionRefusedError, FileNotFoundError):
            return True
        except OSError:
            return False  # it is there, only slow: another daemon's
        finally:
            probe.close()
        return False

    async def start(self) -> None:
        try:
            sock = self._bind()
        except OSError as exc:
            log.error("doorbell.unavailable", path=str(self.path), error=str(exc),
                      hint="supportd ingest processes each letter in its own process")
            return
        if sock is None:
            log.info("doorbell.shared", path=str(self.path),
                     hint="another daemon on this spool answers supportd ingest")
            return
        self.server = await asyncio.start_unix_server(self._serve, sock=sock)
        log.info("doorbell.listening", path=str(self.path))

    async def stop(self) -> None:
        if self.server is None:
            return
        self.server.close()
        await self.server.wait_closed()
        self.server = None
        with contextlib.suppress(OSError):  # only our own file, not a successor's
            if self.path.stat().st_ino == self.inode:
                self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        try:
            while line := await asyncio.wait_for(reader.readline(), READ_TIMEOUT):
                words = line.decode("ascii", "replace").split()
                writer.write(self.answer(words).encode() + b"\n")
                await writer.drain()
        except (TimeoutError, OSError, ValueError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def answer(self, words: list[str]) -> str:
        if words == ["HELLO"]:
            if not self.healthy():
                log.warning("ingest.tempfail", reason="database unavailable")
                return "451 letters cannot be processed now"
            return f"250 {self.limit()}"
        if len(words) == 3 and words[0] == "QUEUED":
            self.wake()
            log.info("letter.accepted", spool_id=words[1], source="ingest",
                     size=int(words[2]) if words[2].isdigit() else None, via="pipe")
            return "250 OK"
        return "500 unknown command"
