"""The SMTP/LMTP listener (aiosmtpd): spool the letter, then say 250.

The handler does no parsing and no database work: it writes the letter to the
spool (fsync'd, in a worker thread so the event loop keeps serving), wakes the
runner, and answers. A full disk or an unwritable spool is a 451, so the
sending MTA keeps the letter and retries; a database known to be down is a
451 too, so mail waits at the MTA rather than piling up here unprocessed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession

from daemon.app import App
from daemon.intake import connections
from daemon.intake.ingest import Refused, accept, accept_received
from daemon.storage.spool import Envelope, Receiving

log = structlog.get_logger("supportd.smtp")

LINE_LIMIT = 1 << 20  # be lenient with long lines: mail clients break RFC 5321 §4.5.3.1.6


def too_big_text(limit: int) -> str:
    return (f"552 5.3.4 Message too big: the limit is {limit} bytes "
            f"({limit / 2**20:.0f} MB); send large files in several letters or as a link")


class Handler:
    def __init__(self, app: App, wake: Callable[[], None], db_ok: Callable[[], bool],
                 source: str = "smtp") -> None:
        self.app = app
        self.wake = wake
        self.db_ok = db_ok
        self.source = source

    async def handle_RCPT(self, server: SMTP, session: SmtpSession,  # noqa: N802
                          envelope: SmtpEnvelope, address: str,
                          rcpt_options: list[str]) -> str:
        if len(envelope.rcpt_tos) >= self.app.config.smtp.max_recipients:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def envelope_of(self, session: SmtpSession, envelope: SmtpEnvelope) -> Envelope:
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        return Envelope(source=self.source, mail_from=envelope.mail_from or "",
                        rcpt_to=tuple(envelope.rcpt_tos), peer=str(peer),
                        helo=str(session.host_name or "")[:255])

    async def handle_DATA(self, server: SMTP, session: SmtpSession,  # noqa: N802
                          envelope: SmtpEnvelope) -> str:
        body: Body | None = getattr(envelope, "body", None)
        loop = asyncio.get_running_loop()
        if not self.db_ok():
            if body is not None:
                body.discard()
            log.warning("smtp.tempfail", reason="database unavailable")
            return "451 4.3.0 Temporary failure: letters cannot be processed now, try again later"
        env = self.envelope_of(session, envelope)
        try:
            if body is not None and body.file is not None:
                spool_id = await loop.run_in_executor(None, accept_received, self.app,
                                                      body.file, body.blank)
            else:
                raw = envelope.original_content or b""
                if isinstance(raw, str):
                    raw = raw.encode("utf-8", "surrogateescape")
                spooled = await loop.run_in_executor(None, accept, self.app, raw, env)
                spool_id = spooled.spool_id
        except Refused as exc:
            if "too big" in str(exc):
                return too_big_text(self.app.config.smtp.max_message_size)
            return f"554 {exc}"
        except OSError as exc:
            log.error("smtp.spool_failed", error=str(exc))
            return "451 4.3.1 Temporary failure: cannot store the message now, try later"
        self.wake()
        if self.source == "lmtp":
            # LMTP wants one status per recipient (RFC 2033 §4.2).
            return "\r\n".join(f"250 2.0.0 <{r}> queued as {spool_id}"
                                for r in envelope.rcpt_tos) or "250 2.0.0 OK"
        return f"250 2.0.0 OK: queued as {spool_id}"


TERMINATOR = b"\r\n.\r\n"
SPILL = 4 << 20  # a letter longer than this is written to the spool as it arrives


class Body:
    """DATA as it arrives, in the pieces it arrives in: dot-unstuffed (RFC 5321
    §4.5.2) and held to aiosmtpd's limits (max_message_size, LINE_LIMIT). Kept in
    memory up to SPILL; past it, written to the spool as it comes (`spool.Receiving`),
    so the listener never holds a 25 MB letter whole, however many arrive at once."""

    def __init__(self, limit: int | None, spill: Callable[[], Receiving]) -> None:
        self.limit, self.spill = limit, spill
        self.data = bytearray()
        self.file: Receiving | None = None
        self.sent = 0  # bytes as sent (dot-stuffed), for the size limit
        self.error: str | None = None  # the reply, once a limit is broken
        self.blank = True  # nothing but white space so far
        self._line_start, self._after_cr = True, False
        self._line = 0  # bytes since the last line end

    def feed(self, chunk: bytes) -> None:
        self.sent += len(chunk)
        if self.error is None:
            if self.limit and self.sent > self.limit:
                self._fail("552 Error: Too much mail data")
            elif self._too_long(chunk):
                self._fail("500 Line too long (see RFC5321 4.5.3.1.6)")
        if self.error is not None:
            return
        data = self._unstuff(chunk)
        if self.blank and data and not data.isspace():
            self.blank = False
        try:
            if self.file is not None:
                self.file.write(data)
                return
            self.data += data
            if len(self.data) > SPILL:
                self.file = self.spill()
                self.file.write(self.data)
                self.data = bytearray()
        except OSError as exc:  # a full or failing spool disk: the sender retries later
            log.error("smtp.spool_failed", error=str(exc))
            self._fail("451 4.3.1 Temporary failure: cannot store the message now, try later")

    def _unstuff(self, chunk: bytes) -> bytes:
        """A line's leading dot goes, also where the line began in an earlier piece."""
        out = chunk
        if self._line_start and out.startswith(b"."):
            out = out[1:]
        elif self._after_cr and out.startswith(b"\n."):
            out = b"\n" + out[2:]
        if b"\r\n." in out:
            out = out.replace(b"\r\n.", b"\r\n")
        if chunk:
            self._line_start = chunk.endswith(b"\r\n") or (self._after_cr and chunk == b"\n")
            self._after_cr = chunk.endswith(b"\r")
        return out

    def _too_long(self, chunk: bytes) -> bool:
        """A line over LINE_LIMIT, counting the part of it in earlier pieces."""
        first = chunk.find(b"\r\n")
        if first < 0:
            self._line += len(chunk)
            return self._line > LINE_LIMIT
        if self._line + first > LINE_LIMIT:
            return True
        pos = first + 2
        while len(chunk) - pos > LINE_LIMIT:  # a few steps for the largest pieces
            end = chunk.rfind(b"\r\n", pos, pos + LINE_LIMIT + 2)
            if end < 0:
                return True
            pos = end + 2
        self._line = len(chunk) - (chunk.rfind(b"\r\n") + 2)
        return False

    def _fail(self, reply: str) -> None:
        self.error, self.data = reply, bytearray()
        self.discard()

    def discard(self) -> None:
        """Nothing of it is kept (a limit broken, the connection gone)."""
        if self.file is not None:
            self.file.abort()
            self.file = None


class Session(SMTP):
    """aiosmtpd's protocol as the listener runs it: DATA read in large pieces
    (`_read_body`, `Body`), a clear 552, only the client's silence timed, and the
    listener told when the connection ends (`on_close`, connections.Listener)."""

    line_length_limit = LINE_LIMIT  # read by __init__ for the stream reader's limit
    on_close: Callable[[], None] = staticmethod(lambda: None)  # set by the listener
    _heard = 0.0  # loop time of the client's last bytes
    _in_data = False  # reading DATA: only the client's silence counts
    _ours = False  # the client waits for us (its letter is being spooled)

    # aiosmtpd's timer runs from the last command, DATA included, so a big letter
    # on a slow line was cut after `timeout` seconds however steadily it came. In
    # DATA, and while we store the letter, only the client's silence counts.

    def data_received(self, data: bytes) -> None:
        self._heard = self.loop.time()
        super().data_received(data)

    def _timeout_cb(self) -> None:
        if self._ours:
            self._reset_timeout()
            return
        if self._in_data:
            quiet = self.loop.time() - self._heard
            if quiet < self._timeout_duration:
                self._reset_timeout(self._timeout_duration - quiet)
                return
        if isinstance(self.transport, asyncio.WriteTransport):
            self.transport.write(b"421 4.4.2 No data for %d seconds, closing\r\n"
                                 % self._timeout_duration)
        super()._timeout_cb()

    def connection_lost(self, error: Exception | None) -> None:
        try:
            super().connection_lost(error)
        finally:
            self.on_close()

    async def push(self, status: str) -> None:  # type: ignore[override]  # str only here
        if status.startswith("552 Error"):
            status = too_big_text(self.data_size_limit or 0)
        await super().push(status)

    async def _read_body(self) -> Body | str | None:
        """DATA up to the lone dot: the body, or the error reply, or None when
        the connection went away. aiosmtpd reads it line by line (a coroutine
        round trip per line, ~5,000 for a 400 KB letter, while every other
        connection waits); this reads up to each ".<CRLF>" in C, and a lone dot
        is one that follows a line end (or starts the body)."""
        reader = self._reader
        body = Body(self.data_size_limit, self._spill)
        tail = b"\r\n"  # the body starts a line: a lone dot first ends it at once
        try:
            while True:
                try:
                    chunk = await reader.readuntil(b".\r\n")
                except asyncio.LimitOverrunError as exc:  # no dot in the stream limit
                    chunk = await reader.readexactly(exc.consumed)
                except asyncio.IncompleteReadError:
                    body.discard()
                    return None
                tail = (tail + chunk[-5:])[-5:]
                if tail.endswith(TERMINATOR):
                    body.feed(chunk[:-3])  # the lone dot; the CRLF before it stays
                    break
                body.feed(chunk)
        except BaseException as exc:
            body.discard()
            if isinstance(exc, asyncio.CancelledError):
                log.info("smtp.connection_lost_in_data")
                self._writer.close()
            raise
        return body.error or body

    def _spill(self) -> Receiving:
        handler: Handler = self.event_handler
        assert self.envelope is not None and self.session is not None
        return handler.app.spool.receive(handler.envelope_of(self.session, self.envelope))

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802
        # aiosmtpd 1.4's smtp_DATA with the body read by `_read_body`.
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        self._heard, self._in_data = self.loop.time(), True
        try:
            body = await self._read_body()
        finally:
            self._in_data = False
        if body is None:
            return
        if isinstance(body, str):
            await self.push(body)
            self._set_post_data_state()
            self._reset_timeout()
            return
        # A bytearray, not copied: the handler reads it as bytes.
        self.envelope.content = self.envelope.original_content = body.data  # type: ignore[assignment]
        self.envelope.body = body  # type: ignore[attr-defined]  # the handler's
        self._ours = True
        try:
            status = await self._call_handler_hook("DATA")
        finally:
            self._ours = False
        self._set_post_data_state()
        await self.push(status)
        self._reset_timeout()  # the next command has the whole timeout


class LmtpSession(Session, LMTP):
    """The same for LMTP (RFC 2033): LHLO, and a reply per recipient after DATA."""


def protocol_factory(app: App, handler: Handler) -> Callable[[], SMTP]:
    cfg = app.config.smtp
    cls = LmtpSession if cfg.lmtp else Session

    def make() -> SMTP:
        proto: SMTP = cls(handler, data_size_limit=cfg.max_message_size,
                          enable_SMTPUTF8=True, decode_data=False,
                          hostname=app.config.service.domain, ident="supportd",
                          timeout=cfg.timeout)
        return proto

    return make


async def start(app: App, handler: Handler) -> connections.Listener:
    cfg = app.config.smtp
    caps = connections.Caps(cfg.max_connections, cfg.max_connections_per_client)
    listener = connections.Listener(connections.bind(cfg.host, cfg.port),
                                    protocol_factory(app, handler),  # type: ignore[arg-type]
                                    caps)
    listener.start()
    log.info("smtp.listening", host=cfg.host, port=cfg.port, lmtp=cfg.lmtp,
             max_connections=cfg.max_connections,
             max_connections_per_client=cfg.max_connections_per_client)
    return listener
