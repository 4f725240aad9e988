"""The listener's door: how many connections, from whom, and what happens when the
process runs out of file descriptors.

Every connection holds a descriptor, so idle ones can use up the process's limit
(RLIMIT_NOFILE, the unit's LimitNOFILE) and lock out real senders. The listener
therefore counts them: past `[smtp] max_connections_per_client` from one address,
or past `[smtp] max_connections` in all, a new connection is told 421 and closed at
once, before any SMTP session is made for it. The caps sit below the limit
(`config.loader.check_open_files`), so running out of descriptors is left to
causes outside the listener.

The accept loop is ours rather than asyncio's `create_server`: on EMFILE asyncio
logs a traceback for every one of up to 100 tries in a loop turn and schedules a
retry for each (measured: 330,000 lines in 16 s with 1,100 idle connections). Here
accept() out of descriptors pauses the loop for `ACCEPT_PAUSE` and says so in one
`smtp.out_of_descriptors` line a minute, counting the others; the connections
waiting meanwhile stay in the kernel's backlog and are taken when descriptors
free up. Refusals are logged the same way (`smtp.connection_refused`).
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable
from typing import Protocol, cast

import structlog

from daemon.mail.complaints import Throttle, summary

log = structlog.get_logger("supportd.smtp")

TOO_MANY_FROM_CLIENT = "421 4.7.0 Too many connections from your address, try again later"
TOO_MANY = "421 4.3.2 Too many connections to the support desk now, try again later"
OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
ACCEPT_PAUSE = 1.0  # seconds without accept() once descriptors ran out (asyncio's too)
BACKLOG = 100  # connections the kernel holds for us meanwhile (asyncio's default)


class Counted(Protocol):
    """A connection's protocol that says when it ends (`on_close`, set here)."""

    on_close: Callable[[], None]


class Caps:
    """Connections open now, in all and by client address."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total, self.per_client = total, per_client
        self.open = 0
        self.by_client: dict[str, int] = {}

    def admit(self, client: str) -> str | None:
        """Count the connection in; or the reply that refuses it (not counted)."""
        mine = self.by_client.get(client, 0)
        if mine >= self.per_client:
            return TOO_MANY_FROM_CLIENT
        if self.open >= self.total:
            return TOO_MANY
        self.by_client[client] = mine + 1
        self.open += 1
        return None

    def release(self, client: str) -> None:
        left = self.by_client.get(client, 0) - 1
        if left > 0:
            self.by_client[client] = left
        else:
            self.by_client.pop(client, None)
        self.open = max(0, self.open - 1)


def bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets for `host` (every address it resolves to), non-blocking."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                               flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(
                (i[0], i[1], i[2], "", i[4]) for i in infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # its own socket for IPv4, as asyncio does
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(BACKLOG)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class Listener:
    """Accept loops over listening sockets; connections go to `factory`'s protocols."""

    def __init__(self, sockets: list[socket.socket], factory: Callable[[], Counted],
                 caps: Caps, throttle: Throttle | None = None) -> None:
        self.sockets, self.factory, self.caps = sockets, factory, caps
        self.throttle = throttle or Throttle()
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._serve(s), name="smtp-accept")
                      for s in self.sockets]

    def close(self) -> None:
        """Stop taking connections (those open go on, as with asyncio's Server)."""
        for task in self.tasks:
            task.cancel()
        for sock in self.sockets:
            sock.close()

    async def wait_closed(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _serve(self, listening: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, address = await loop.sock_accept(listening)
            except ConnectionAbortedError:  # gone before we took it
                continue
            except OSError as exc:
                self._accept_failed(exc)
                await asyncio.sleep(ACCEPT_PAUSE)
                continue
            client = address[0] if isinstance(address, tuple) else str(address)
            refusal = self.caps.admit(client)
            if refusal is not None:
                self._refuse(conn, client, refusal)
                continue
            await self._connect(conn, client)

    async def _connect(self, conn: socket.socket, client: str) -> None:
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.caps.release(client)

        try:
            protocol = self.factory()
            protocol.on_close = release
            await asyncio.get_running_loop().connect_accepted_socket(
                lambda: cast(asyncio.BaseProtocol, protocol), conn)
        except BaseException as exc:
            release()
            conn.close()
            if not isinstance(exc, Exception):
                raise  # cancelled: the listener is closing
            # Reset before it started, no descriptor for its parts, or a bug in making
            # its session: this connection goes, the listener goes on.
            self._accept_failed(exc)

    def _accept_failed(self, exc: Exception) -> None:
        out = isinstance(exc, OSError) and exc.errno in OUT_OF_DESCRIPTORS
        held = self.throttle.allow("out_of_descriptors" if out else "accept_failed")
        if held is None:
            return
        if out:
            log.warning("smtp.out_of_descriptors", error=str(exc), connections=self.caps.open,
                        suppressed=held, paused_s=ACCEPT_PAUSE)
        else:
            log.warning("smtp.accept_failed", error=summary(exc), suppressed=held)

    def _refuse(self, conn: socket.socket, client: str, reply: str) -> None:
        """Say why and close, without an SMTP session (RFC 5321 §3.8: 421 at once)."""
        try:
            conn.setblocking(False)
            conn.send(reply.encode("ascii") + b"\r\n")  # a fresh socket's buffer takes it
        except OSError:
            pass
        finally:
            conn.close()
        reason = "per_client" if reply == TOO_MANY_FROM_CLIENT else "total"
        held = self.throttle.allow(("refused", reason))
        if held is not None:
            log.warning("smtp.connection_refused", client=client, reason=reason,
                        connections=self.caps.open,
                        from_client=self.caps.by_client.get(client, 0), suppressed=held)
