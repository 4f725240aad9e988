"""The outbox worker: queued letters out through SMTP or into a Maildir, with retries.

Each letter was rendered when queued, so a retry sends the same bytes with the
same Message-ID. Rows are claimed with SELECT … FOR UPDATE SKIP LOCKED, so
several daemons on one PostgreSQL never send one letter twice; SQLite ignores the
clause and serialises writers instead. A temporary refusal (4xx, a connection
error) backs off exponentially; a permanent one (5xx) or too many attempts marks
the letter failed and its ticket for staff.

Exactly once, as far as it can be had. On PostgreSQL the row stays locked while
the relay is spoken to, and is marked sent in the same transaction. On SQLite,
whose one write lock would stop the pipeline for every letter sent, one sender at
a time (a lock file in the spool) reads what is due, hands it over, and then marks
it in one short transaction; the journal below covers the time in between. If the daemon dies
before the relay's "250", nothing was handed over (a relay takes a letter only
with its 250) and the row is still queued: it is sent again, once. The window
that remains is between the relay's 250 and our commit. A database that goes
away in that window (the commit fails) must not make us send again, so the
letter's id is first written to a journal in the spool (`sent/ID`, fsync'd);
every flush, on any daemon sharing the spool, first marks journalled rows sent
and only then claims new ones (and a claimed row found in the journal is marked,
not sent). What is left is a kill -9 (or a power cut)
between the relay's 250 and the journal's fsync, a millisecond: the letter is
then sent again with the same Message-ID (at least once, never lost).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import smtplib
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import getaddresses
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import structlog
from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from daemon.config.schema import Config, OutboundConfig, parse_duration
from daemon.outbound.oauth2 import OAuthError, TokenSettings, TokenSource, uses_oauth
from daemon.outbound.smtp_relay import PermanentError, SmtpTransport
from daemon.storage import db
from daemon.storage.models import Outgoing, Ticket
from daemon.storage.spool import Spool, fsync_dir

log = structlog.get_logger("supportd.outbox")


@dataclass(frozen=True)
class Outbox:
    """What sending needs: the config, the database, the spool (its journal of letters
    handed over, its lock file), a clock. Built by `App` (`App.outbox`)."""

    config: Config
    sessions: sessionmaker[Session]
    spool: Spool
    now: Callable[[], datetime]
    sign: Callable[[bytes], bytes] | None = None  # DKIM (`dkim_sign.Signer`), if configured

    @property
    def dialect(self) -> str:
        return str(self.sessions.kw["bind"].dialect.name)


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


def make_transport(cfg: OutboundConfig,
                   on_refusal: Callable[[OAuthError], None] | None = None) -> Transport:
    """The relay (`smtp_relay`) or the Maildir. `on_refusal`: told once when the relay's
    OAuth2 refresh token is refused (`token_alarm`)."""
    if cfg.transport == "smtp":
        tokens = TokenSource(TokenSettings.of("outbound", cfg), on_refusal=on_refusal) \
            if uses_oauth(cfg) else None
        return SmtpTransport(cfg, tokens)
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
    # UTF-8: an internationalised address is written as it is (mailbuild.build).
    head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace").replace("\r\n ", " ")
    values = [ln.split(":", 1)[1] for ln in head.split("\r\n")
              if ln.lower().startswith(("to:", "cc:"))]
    found = [a for _, a in getaddresses(values) if "@" in a]
    return found or [fallback]


class SentJournal:
    """Letters the relay has taken but whose "sent" is not committed yet: one empty
    file per Outgoing id under `<spool>/sent/`, written durably before the commit."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def record(self, outgoing_id: int) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / str(outgoing_id), os.O_WRONLY | os.O_CREAT, 0o640)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(self.root)

    def has(self, outgoing_id: int) -> bool:
        return (self.root / str(outgoing_id)).exists()

    def forget(self, outgoing_id: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / str(outgoing_id)).unlink()

    def pending(self) -> list[int]:
        try:
            return sorted(int(f.name) for f in self.root.iterdir() if f.name.isdigit())
        except FileNotFoundError:
            return []


def journal_of(box: Outbox) -> SentJournal:
    return SentJournal(box.spool.sent)


def reconcile(box: Outbox, journal: SentJournal) -> int:
    """Mark sent what the journal says the relay took; returns how many rows changed.
    A row another worker holds locked is its business (it commits or journals)."""
    ids = journal.pending()
    if not ids:
        return 0
    changed, settled = 0, []
    with db.unit_of_work(box.sessions) as session:
        rows = session.scalars(select(Outgoing).where(Outgoing.id.in_(ids))
                               .with_for_update(skip_locked=True)).all()
        locked_elsewhere = set(ids) - {r.id for r in rows}
        if locked_elsewhere:
            existing = set(session.scalars(select(Outgoing.id).where(
                Outgoing.id.in_(locked_elsewhere))).all())
            settled += sorted(locked_elsewhere - existing)  # rows that are gone
        now = box.now()
        for row in rows:
            settled.append(row.id)
            if row.status == "queued":
                _mark_sent(row, now)
                changed += 1
                log.warning("outbox.sent_recovered", outgoing_id=row.id, kind=row.kind,
                            message_id=row.message_id,
                            hint="the relay took it before the database went away")
    for outgoing_id in settled:
        journal.forget(outgoing_id)
    return changed


def flush(box: Outbox, transport: Transport, *, force: bool = False, batch: int = 50,
          stop: Callable[[], bool] = lambda: False) -> FlushReport:
    """Send what is due (everything queued with force=True); `stop` is asked before
    each letter (a daemon that is stopping ends after the one in hand).

    Journalled letters (the relay took them, the commit did not happen) are marked
    sent first, so no daemon sharing the spool sends them again."""
    report = FlushReport()
    journal = journal_of(box)
    if box.dialect == "sqlite":
        with _one_sender(box):
            reconcile(box, journal)
            _send_serialised(box, transport, journal, report, force=force, batch=batch,
                             stop=stop)
        return report
    reconcile(box, journal)
    tried: set[int] = set()
    while not stop() and _send_one(box, transport, journal, report, tried, force=force):
        if len(tried) >= batch and not force:
            break
    return report


def _due(force: bool, now: datetime, tried: set[int]) -> Select[Any]:
    q = select(Outgoing).where(Outgoing.status == "queued")
    if not force:
        q = q.where(Outgoing.next_attempt_at <= now)
    if tried:
        q = q.where(Outgoing.id.not_in(tried))
    return q.order_by(Outgoing.id)


def _send_one(box: Outbox, transport: Transport, journal: SentJournal, report: FlushReport,
              tried: set[int], *, force: bool) -> bool:
    """PostgreSQL: claim, send and account one due letter in one transaction, the row
    locked (SKIP LOCKED: daemons sharing the database never take one letter twice);
    False when none is due."""
    now = box.now()
    handed_over: int | None = None
    try:
        with db.unit_of_work(box.sessions) as session:
            row = session.scalar(_due(force, now, tried).limit(1)
                                 .with_for_update(skip_locked=True))
            if row is None:
                return False
            tried.add(row.id)
            # Journalled: another worker's relay took it and its commit failed after
            # our reconcile ran (its connection lost, not the server): don't resend.
            recovered = journal.has(row.id)
            outcome = SENT if recovered else _hand_over(box, transport, journal, row)
            if outcome.kind == "sent":
                handed_over = row.id  # before anything that touches the database again
            _account(box, session, row, outcome, now, report, recovered=recovered)
    except Exception as exc:
        if handed_over is not None:
            _not_recorded(handed_over, exc)
        raise
    if handed_over is not None:
        journal.forget(handed_over)
    return True


@contextlib.contextmanager
def _one_sender(box: Outbox) -> Iterator[None]:
    """SQLite: one sender at a time per spool (the daemon's outbox, `outbox flush`),
    by a lock file, instead of holding the database's single write lock while the
    relay is spoken to: the pipeline would wait for every letter sent (issue 5)."""
    box.spool.root.mkdir(parents=True, exist_ok=True)
    fd = db.open_lock_file(box.spool.root / "outbox.lock")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # and the lock with it


def _send_serialised(box: Outbox, transport: Transport, journal: SentJournal,
                     report: FlushReport, *, force: bool, batch: int,
                     stop: Callable[[], bool]) -> None:
    """SQLite, the only sender (`_one_sender`): read due letters, hand them over with
    the database untouched, then record what became of them in one short
    transaction. The journal covers the time in between, as it covers a commit that
    fails: a letter the relay took is never sent again."""
    tried: set[int] = set()
    while (force or len(tried) < batch) and not stop():
        now = box.now()
        with box.sessions() as session:
            rows = session.scalars(_due(force, now, tried).limit(16)).all()
            if not rows:
                return
            tids = _tids(session, rows)
        outcomes: list[tuple[Outgoing, HandOver, bool]] = []
        for row in rows:
            if outcomes and stop():
                break  # those handed over are marked below; the rest stay queued
            tried.add(row.id)
            recovered = journal.has(row.id)
            outcomes.append((row, SENT if recovered else
                             _hand_over(box, transport, journal, row), recovered))
        handed_over = [row.id for row, outcome, _ in outcomes if outcome.kind == "sent"]
        # The common case, sent: one UPDATE for all of them (loading each row back,
        # its letter included, cost the outbox half its time). The rest as before.
        sent: list[tuple[Outgoing, HandOver, bool]] = []
        others: list[tuple[Outgoing, HandOver, bool]] = []
        for row, outcome, recovered in outcomes:
            (sent if outcome.kind == "sent" and not recovered else others).append(
                (row, outcome, recovered))
        try:
            with db.unit_of_work(box.sessions) as session:
                marked = set(session.scalars(
                    _MARK_SENT.where(_OUT.id.in_([row.id for row, _, _ in sent])),
                    {"now": now})) if sent else set()
                for row, _, _ in sent:
                    if row.id in marked:  # else bounced meanwhile (below)
                        _log_sent(row, tids.get(row.ticket_id), report)
                for old, outcome, recovered in others:
                    current = session.get(Outgoing, old.id)
                    if current is not None and current.status == "queued":
                        _account(box, session, current, outcome, now, report,
                                 recovered=recovered)
        except Exception as exc:
            for outgoing_id in handed_over:
                _not_recorded(outgoing_id, exc)
            raise
        for outgoing_id in handed_over:
            journal.forget(outgoing_id)


# Not queued any more: a bounce came back (and was recorded) between the hand-over
# and this mark; the bounce is the newer news, and the letter is neither counted nor
# logged as sent (RETURNING says which rows were marked; SQLite has it since 3.35).
_OUT = Outgoing.__table__.c
_MARK_SENT = (update(Outgoing.__table__)  # type: ignore[arg-type]
              .where(_OUT.status == "queued")
              .values(status="sent", attempts=_OUT.attempts + 1,
                      sent_at=bindparam("now"), last_error="")
              .returning(_OUT.id))


def _tids(session: Session, rows: Sequence[Outgoing]) -> dict[int | None, str]:
    """The TIDs of the tickets these letters belong to (for the log)."""
    ids = {row.ticket_id for row in rows if row.ticket_id is not None}
    if not ids:
        return {}
    return dict(session.execute(select(Ticket.id, Ticket.tid)  # type: ignore[arg-type]
                                .where(Ticket.id.in_(ids))).all())


def _log_sent(row: Outgoing, tid: str | None, report: FlushReport) -> None:
    report.sent += 1
    log.info("outbox.sent", outgoing_id=row.id, kind=row.kind, to=row.recipient,
             message_id=row.message_id, tid=tid)


def _not_recorded(outgoing_id: int, exc: Exception) -> None:
    cause = str(getattr(exc, "orig", None) or exc) or repr(exc)
    log.warning("outbox.sent_not_recorded", outgoing_id=outgoing_id,
                error=cause.splitlines()[0][:300],
                hint="journalled; marked sent once the database is back")


def _mark_sent(row: Outgoing, now: datetime) -> None:
    row.attempts += 1
    row.status, row.sent_at, row.last_error = "sent", now, ""


class HandOver(NamedTuple):
    kind: str  # sent (journalled by then) | permanent | temporary (a refusal)
    error: str = ""


SENT = HandOver("sent")


def _hand_over(box: Outbox, transport: Transport, journal: SentJournal, row: Outgoing
               ) -> HandOver:
    """Give one letter to the transport, the database untouched."""
    try:
        raw = box.sign(row.raw) if box.sign is not None else row.raw
        transport.send(box.config.service.address, recipients_of(row.raw, row.recipient), raw)
    except PermanentError as exc:
        return HandOver("permanent", str(exc))
    except (OSError, smtplib.SMTPException, OAuthError) as exc:
        # OAuthError: no token for the relay; the letter is not at fault, so it waits.
        return HandOver("temporary", f"{type(exc).__name__}: {exc}")
    # The relay has it now. Write that down before anything else can fail.
    try:
        journal.record(row.id)
    except OSError as exc:  # a full spool disk: the commit still counts
        log.warning("outbox.journal_failed", outgoing_id=row.id, error=str(exc))
    return SENT


def _account(box: Outbox, session: Session, row: Outgoing, outcome: HandOver, now: datetime,
             report: FlushReport, *, recovered: bool) -> None:
    """Write down on the row what became of its hand-over."""
    if outcome.kind == "sent":
        _mark_sent(row, now)
        if recovered:
            log.warning("outbox.sent_recovered", outgoing_id=row.id, kind=row.kind,
                        message_id=row.message_id)
            return
        ticket = session.get(Ticket, row.ticket_id) if row.ticket_id else None
        _log_sent(row, ticket.tid if ticket else None, report)
        return
    if outcome.kind == "permanent":
        _fail(session, row, outcome.error, now)
        report.failed += 1
        return
    cfg = box.config.outbound
    row.attempts += 1
    row.last_error = outcome.error[:2000]
    if row.attempts >= cfg.max_attempts:
        _fail(session, row, row.last_error, now)
        report.failed += 1
    else:
        row.next_attempt_at = now + backoff(cfg, row.attempts)
        report.deferred += 1
        log.warning("outbox.deferred", outgoing_id=row.id, error=row.last_error,
                    retry_at=row.next_attempt_at.isoformat())


def _fail(session: Session, row: Outgoing, error: str, now: datetime) -> None:
    row.status, row.last_error = "failed", error[:2000]
    log.error("outbox.failed", outgoing_id=row.id, to=row.recipient, error=error)
    if row.ticket_id is not None:
        ticket = session.get(Ticket, row.ticket_id)
        if ticket is not None:
            ticket.needs_attention = True
            ticket.attention_reason = (f"письмо {row.kind} для {row.recipient} "
                                       f"не отправлено: {error}")[:1000]
