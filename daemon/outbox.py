"""The outbox worker: queued letters out through SMTP or into a Maildir, with retries.

Each letter was rendered when queued, so a retry sends the same bytes with the
same Message-ID. Rows are claimed with SELECT … FOR UPDATE SKIP LOCKED, so
several daemons on one PostgreSQL never send one letter twice; SQLite ignores the
clause and serialises writers instead. A temporary refusal (4xx, a connection
error) backs off exponentially; a permanent one (5xx) or too many attempts marks
the letter failed and its ticket for staff.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import getaddresses
from pathlib import Path
from typing import Protocol

import structlog
from sqlalchemy import select

from daemon import db
from daemon.app import App
from daemon.config import OutboundConfig, parse_duration
from daemon.models import Outgoing, Ticket

log = structlog.get_logger("supportd.outbox")


class PermanentError(Exception):
    pass


class Transport(Protocol):
    def send(self, sender: str, recipients: list[str], raw: bytes) -> None: ...


class MaildirTransport:
    """Delivers into a Maildir (tmp/ then new/, fsync'd): the demo and test outbox."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("tmp", "new", "cur"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    def send(self, sender: str, recipients: list[str], raw: bytes) -> None:
        name = f"{time.time():.6f}.{uuid.uuid4().hex}.{socket.gethostname()}"
        tmp = self.root / "tmp" / name
        with open(tmp, "wb") as f:
            f.write(raw.replace(b"\r\n", b"\n"))
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, self.root / "new" / name)


class SmtpTransport:
    def __init__(self, cfg: OutboundConfig) -> None:
        self.cfg = cfg
        self.password = ""
        if cfg.password_file:
            self.password = Path(cfg.password_file).read_text(encoding="utf-8").splitlines()[0]

    def send(self, sender: str, recipients: list[str], raw: bytes) -> None:
        cfg = self.cfg
        try:
            cls = smtplib.SMTP_SSL if cfg.ssl else smtplib.SMTP
            with cls(cfg.host, cfg.port, timeout=cfg.timeout) as smtp:
                if cfg.starttls and not cfg.ssl:
                    smtp.starttls(context=ssl.create_default_context())
                if cfg.username:
                    smtp.login(cfg.username, self.password)
                refused = smtp.sendmail(sender, recipients, raw)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [c for c, _ in exc.recipients.values()]
            if all(500 <= c < 600 for c in codes):
                raise PermanentError(f"recipients refused: {exc.recipients}") from exc
            raise
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentError(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise
        if refused:
            log.warning("outbox.partly_refused", refused=str(refused))


def make_transport(cfg: OutboundConfig) -> Transport:
    if cfg.transport == "smtp":
        return SmtpTransport(cfg)
    return MaildirTransport(Path(cfg.maildir))


def backoff(cfg: OutboundConfig, attempts: int) -> timedelta:
    base, cap = parse_duration(cfg.retry_base), parse_duration(cfg.retry_max)
    return min(cap, base * (2 ** max(0, attempts - 1)))


@dataclass
class FlushReport:
    sent: int = 0
    deferred: int = 0
    failed: int = 0


def recipients_of(raw: bytes, fallback: str) -> list[str]:
    """To + Cc of a built letter (headers only)."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace").replace("\r\n ", " ")
    values = [ln.split(":", 1)[1] for ln in head.split("\r\n")
              if ln.lower().startswith(("to:", "cc:"))]
    found = [a for _, a in getaddresses(values) if "@" in a]
    return found or [fallback]


def flush(app: App, transport: Transport, *, force: bool = False, batch: int = 50) -> FlushReport:
    """Send what is due (everything queued with force=True). One letter, one transaction."""
    report = FlushReport()
    cfg = app.config.outbound
    tried: set[int] = set()
    while True:
        now = app.now()
        with db.unit_of_work(app.sessions) as session:
            q = select(Outgoing).where(Outgoing.status == "queued")
            if not force:
                q = q.where(Outgoing.next_attempt_at <= now)
            if tried:
                q = q.where(Outgoing.id.not_in(tried))
            row = session.scalar(q.order_by(Outgoing.id).limit(1)
                                 .with_for_update(skip_locked=True))
            if row is None:
                return report
            tried.add(row.id)
            try:
                transport.send(app.config.service.address,
                               recipients_of(row.raw, row.recipient), row.raw)
            except PermanentError as exc:
                _fail(session, row, str(exc), now)
                report.failed += 1
            except (OSError, smtplib.SMTPException) as exc:
                row.attempts += 1
                row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                if row.attempts >= cfg.max_attempts:
                    _fail(session, row, row.last_error, now)
                    report.failed += 1
                else:
                    row.next_attempt_at = now + backoff(cfg, row.attempts)
                    report.deferred += 1
                    log.warning("outbox.deferred", outgoing_id=row.id, error=row.last_error,
                                retry_at=row.next_attempt_at.isoformat())
            else:
                row.attempts += 1
                row.status, row.sent_at, row.last_error = "sent", now, ""
                report.sent += 1
                ticket = session.get(Ticket, row.ticket_id) if row.ticket_id else None
                log.info("outbox.sent", outgoing_id=row.id, kind=row.kind, to=row.recipient,
                         message_id=row.message_id, tid=ticket.tid if ticket else None)
        if len(tried) >= batch and not force:
            return report


def _fail(session: object, row: Outgoing, error: str, now: datetime) -> None:
    row.status, row.last_error = "failed", error[:2000]
    log.error("outbox.failed", outgoing_id=row.id, to=row.recipient, error=error)
    if row.ticket_id is not None:
        from sqlalchemy.orm import Session

        assert isinstance(session, Session)
        ticket = session.get(Ticket, row.ticket_id)
        if ticket is not None:
            ticket.needs_attention = True
            ticket.attention_reason = f"письмо {row.kind} для {row.recipient} не отправлено: {error}"[:1000]
