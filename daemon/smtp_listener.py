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
from daemon.ingest import Refused, accept
from daemon.spool import Envelope

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

    async def handle_DATA(self, server: SMTP, session: SmtpSession,  # noqa: N802
                          envelope: SmtpEnvelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        if not self.db_ok():
            log.warning("smtp.tempfail", reason="database unavailable")
            return "451 4.3.0 Temporary failure: letters cannot be processed now, try again later"
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        env = Envelope(source=self.source, mail_from=envelope.mail_from or "",
                       rcpt_to=tuple(envelope.rcpt_tos), peer=str(peer))
        loop = asyncio.get_running_loop()
        try:
            spooled = await loop.run_in_executor(None, accept, self.app, raw, env)
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
            return "\r\n".join(f"250 2.0.0 <{r}> queued as {spooled.spool_id}"
                               for r in envelope.rcpt_tos) or "250 2.0.0 OK"
        return f"250 2.0.0 OK: queued as {spooled.spool_id}"


TERMINATOR = b"\r\n.\r\n"


def read_limits(body: bytearray, limit: int | None) -> str | None:
    """The reply for a DATA body over the size limit or with a line over LINE_LIMIT
    (aiosmtpd's own checks), or None. `body` is as sent: dot-stuffed, CRLF lines."""
    if limit and len(body) > limit:
        return "552 Error: Too much mail data"
    pos = 0
    while len(body) - pos > LINE_LIMIT:  # a few steps for the largest letters
        end = body.rfind(b"\r\n", pos, pos + LINE_LIMIT + 2)
        if end < 0:
            return "500 Line too long (see RFC5321 4.5.3.1.6)"
        pos = end + 2
    return None


def unstuff(body: bytearray) -> bytearray:
    """Undo dot-stuffing (RFC 5321 §4.5.2): a line's leading dot goes. In place when
    no other line starts with a dot: a 25 MB letter is not copied to be spooled."""
    if body.startswith(b"."):
        del body[0]
    if b"\r\n." in body:
        body = body.replace(b"\r\n.", b"\r\n")
    return body


def _clear_552(cls: type[SMTP], limit: int) -> type[SMTP]:
    class Clear(cls):  # type: ignore[valid-type,misc]
        line_length_limit = LINE_LIMIT  # read by __init__ for the stream reader's limit

        async def push(self, status: str) -> None:
            if status.startswith("552 Error"):
                status = too_big_text(limit)
            await super().push(status)

        async def _read_body(self) -> bytearray | str | None:
            """DATA up to the lone dot, as sent: the body, or the error reply, or None
            when the connection went away. aiosmtpd reads it line by line (a
            coroutine round trip per line, ~5,000 for a 400 KB letter, while every
            other connection waits); this reads up to each ".<CRLF>" in C, and a
            lone dot is one that follows a line end (or starts the body)."""
            reader = self._reader
            body = bytearray()
            # Past this the letter is refused anyway: keep only the tail, for the dot.
            cap = self.data_size_limit + 2 * LINE_LIMIT if self.data_size_limit else None
            dropped = 0
            while True:
                try:
                    chunk = await reader.readuntil(b".\r\n")
                except asyncio.LimitOverrunError as exc:  # no dot in the stream limit
                    chunk = await reader.readexactly(exc.consumed)
                except asyncio.IncompleteReadError:
                    return None
                except asyncio.CancelledError:
                    log.info("smtp.connection_lost_in_data")
                    self._writer.close()
                    raise
                body += chunk
                if body == b".\r\n" and not dropped:
                    return bytearray()  # an empty letter
                if body.endswith(TERMINATOR):
                    break
                if cap is not None and len(body) > cap:
                    dropped += len(body) - 4
                    del body[:-4]
            del body[-3:]  # the lone dot; the CRLF before it ends the last line
            if dropped:
                return "552 Error: Too much mail data"
            return read_limits(body, self.data_size_limit) or body

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
            body = await self._read_body()
            if body is None:
                return
            if isinstance(body, str):
                await self.push(body)
                self._set_post_data_state()
                return
            content = unstuff(body)
            self.envelope.content = self.envelope.original_content = content
            status = await self._call_handler_hook("DATA")
            self._set_post_data_state()
            await self.push(status)

    return Clear


def protocol_factory(app: App, handler: Handler) -> Callable[[], SMTP]:
    cfg = app.config.smtp
    cls = _clear_552(LMTP if cfg.lmtp else SMTP, cfg.max_message_size)

    def make() -> SMTP:
        proto: SMTP = cls(handler, data_size_limit=cfg.max_message_size,
                          enable_SMTPUTF8=True, decode_data=False,
                          hostname=app.config.service.domain, ident="supportd",
                          timeout=cfg.timeout)
        return proto

    return make


async def start(app: App, handler: Handler) -> asyncio.base_events.Server:
    cfg = app.config.smtp
    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol_factory(app, handler), host=cfg.host,
                                      port=cfg.port, reuse_address=True)
    log.info("smtp.listening", host=cfg.host, port=cfg.port, lmtp=cfg.lmtp)
    return server
