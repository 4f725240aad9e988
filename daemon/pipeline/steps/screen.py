"""Step: robots, bounces and duplicates (SPEC "Loops and abuse", regulation §5.11).

Robots are known by their headers (`mail/loops.py`) or, when those look like a
person's, by what they say (`mail/robot_text.py`: free-text bounces, out-of-office
replies). A bounce of one of our letters is recorded on its ticket and ends here:
found by the returned Message-ID, or else by the TID in the returned copy when we
wrote on that ticket to an address the bounce names. Other automatic letters go
on only as far as threading (an out-of-office naming a TID is kept on its ticket)
and are never answered. A letter we already have (same
Message-ID, or the same sender, subject and text resent within the window)
opens nothing new: the acknowledgement for its ticket is sent again, because a
client who resends usually never got the first one.

Two daemons on one PostgreSQL may hold the two copies of one letter at the same
moment (an MTA that retried, a client that sent twice). The lookups below are
plain SELECTs, so both transactions could see "nothing yet" and both open a
ticket. Each lookup is therefore serialised per key with a transaction-scoped
advisory lock (`pg_advisory_xact_lock`), taken before the SELECT and held to
the commit: the second copy waits, then sees the first copy's committed message
and becomes a duplicate. Locks are taken in one order (Message-ID, then content
hash). A batch of letters shares one transaction, so the runner first takes every
lock its letters will need, sorted (`lock_keys`, `serialize_all`): two batches
then never wait for each other in a circle. SQLite serialises writers anyway;
there the lock is a no-op.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from daemon.app import App
from daemon.config.schema import parse_duration
from daemon.mail.loops import BounceInfo, auto_reply_reason, bounce_of
from daemon.mail.returned_copy import returned_copy
from daemon.mail.robot_text import robot_by_content
from daemon.mail.threading_tid import format_tid, normalize_subject
from daemon.pipeline.context import Letter, Stop
from daemon.pipeline.steps import reply_loop
from daemon.storage import db
from daemon.storage.models import Message, Outgoing, Ticket

_SPACE = re.compile(r"\s+")

# Advisory lock namespaces (the first key of pg_advisory_xact_lock(int, int)), in
# the one order a transaction may take them: source key (the runner), Message-ID,
# content hash.
LOCK_SOURCE_KEY = 0x5D00
LOCK_MESSAGE_ID = 0x5D01
LOCK_CONTENT = 0x5D02


def serialize_on(session: Session, namespace: int, key: str) -> None:
    """Wait until no other transaction is deciding about `key`; hold it to our commit."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(sql("SELECT pg_advisory_xact_lock(:ns, hashtext(:key))"),
                    {"ns": namespace, "key": key})


def serialize_all(session: Session, keys: list[tuple[int, str]]) -> None:
    """Take many locks in the one global order (namespace, key)."""
    for namespace, key in sorted(set(keys)):
        serialize_on(session, namespace, key)


def lock_keys(letter: Letter, app: App) -> list[tuple[int, str]]:
    """The locks this step (and the runner) may take for a parsed letter."""
    keys: list[tuple[int, str]] = []
    if letter.spooled.envelope.source_key:
        keys.append((LOCK_SOURCE_KEY, letter.spooled.envelope.source_key))
    p = letter.parsed
    if p is None:
        return keys
    if p.message_id:
        keys.append((LOCK_MESSAGE_ID, p.message_id))
    digest = content_hash(letter.shown_from, p.subject, p.text, app.config.service.tid_prefix,
                          [a.sha256 for a in p.attachments])
    if digest is not None:
        keys.append((LOCK_CONTENT, digest))
    return keys


def content_hash(sender: str, subject: str, text: str, prefix: str,
                 attachments: list[str]) -> str | None:
    """What makes a resend a resend: sender, subject, text and attachments alike
    (`attachments`: their sha256s, hex, as worked out when they were decoded).
    None for a letter with nothing in it to compare."""
    body = _SPACE.sub(" ", text).strip()
    if not body and not attachments:
        return None
    parts = [sender.lower(), normalize_subject(subject, prefix), body, *sorted(attachments)]
    return hashlib.sha256("\0".join(parts).encode("utf-8", "replace")).hexdigest()


def run(letter: Letter, session: Session, app: App) -> None:
    p = letter.parsed
    if p is None:
        return
    letter.robot = auto_reply_reason(p.message, letter.spooled.envelope.mail_from,
                                     app.config.our_addresses()) or robot_by_content(
        p.message, p.subject, p.text, replying=bool(p.in_reply_to or p.references))
    if letter.robot:
        _record_bounce(letter, session, app)
        return
    if p.message_id:
        # The same Message-ID from the same sender: the same letter delivered twice.
        # (From someone else it is a clash of careless generators, not a duplicate.)
        serialize_on(session, LOCK_MESSAGE_ID, p.message_id)
        prior = db.rows(session, _same_message_id(), message_id=p.message_id,
                        sender=letter.shown_from)
        if prior:
            ticket_id = prior[0][0]
            _resend_ack(letter, session, app, ticket_id, answer=False)
            raise Stop("duplicate", f"same Message-ID as a letter on ticket {ticket_id}")
    digest = content_hash(letter.shown_from, p.subject, p.text, app.config.service.tid_prefix,
                          [a.sha256 for a in p.attachments])
    if digest is None:
        return
    letter.content_hash = digest
    serialize_on(session, LOCK_CONTENT, digest)
    since = letter.now - parse_duration(app.config.screen.duplicate_window)
    earlier = db.rows(session, _same_content(), content_hash=digest, since=since)
    if earlier:
        _resend_ack(letter, session, app, earlier[0][0], answer=True)
        raise Stop("duplicate", f"resent within {app.config.screen.duplicate_window}")


# The two lookups every letter makes, built once (issue 5: building and compiling a
# statement per letter cost more than running it). Only the ticket's id is read.
@cache
def _same_message_id() -> Select[tuple[int]]:
    m = Message.__table__.c
    return select(m.ticket_id).where(m.message_id == bindparam("message_id"),
                                     m.direction == "in",
                                     m.from_addr == bindparam("sender")).limit(1)


@cache
def _same_content() -> Select[tuple[int]]:
    m = Message.__table__.c
    return select(m.ticket_id).where(m.content_hash == bindparam("content_hash"),
                                     m.direction == "in",
                                     m.at >= bindparam("since")).limit(1)


def _resend_ack(letter: Letter, session: Session, app: App, ticket_id: int | None, *,
                answer: bool) -> None:
    """`answer`: the copy is a new letter with the same text (a robot answering each of
    our letters alike is one), not the same letter delivered again; so it may close a
    reply loop."""
    ticket = session.get(Ticket, ticket_id) if ticket_id is not None else None
    if ticket is None:
        return
    letter.ticket = ticket
    if answer and reply_loop.caught(letter, session, ticket):
        return  # the ticket is stopped and flagged; nothing more goes to it
    sent = app.notifier.acknowledge(session, ticket, letter.incoming(), resend=True)
    if not sent:
        letter.notes.append("ack not resent: hourly cap")


def _record_bounce(letter: Letter, session: Session, app: App) -> None:
    assert letter.parsed is not None
    # A mail system wrote it (its words, or Exchange's "System Administrator"@host):
    # a free-text bounce then needs no bounce-like sender or subject to be read.
    info = bounce_of(letter.parsed.message,
                     machine=(letter.robot or "").startswith(("bounce-text", "system-sender")))
    if info is None:
        return
    ours, how = None, ""
    if info.original_message_id:
        ours = session.scalar(select(Outgoing).where(
            Outgoing.message_id == info.original_message_id))
    if ours is None:
        ours, how = _ours_by_tid(letter, session, app, info)
    if ours is None:
        raise Stop("suppressed", f"bounce of a letter we do not know ({letter.robot}{how})")
    why = f" ({'; '.join(filter(None, [letter.robot, how]))})"
    primary = info.primary
    if not info.failed:
        raise Stop("bounce", f"delivery of our {ours.kind} to {ours.recipient} delayed{why}")
    ours.status = "bounced"
    diagnostic = primary.diagnostic if primary is not None else ""
    ours.last_error = f"{info.status} {diagnostic}".strip()[:2000]
    if ours.ticket_id is not None:
        ticket = session.get(Ticket, ours.ticket_id)
        if ticket is not None:
            letter.ticket = ticket
            ticket.needs_attention = True
            ticket.attention_reason = (f"письмо {ours.kind} для {ours.recipient} не доставлено: "
                                       f"{ours.last_error or 'причина не указана'}")[:1000]
            session.add(Message(ticket=ticket, direction="in", kind="bounce",
                                from_addr=letter.shown_from, subject=letter.subject,
                                message_id=letter.parsed.message_id, at=letter.spooled.received_at,
                                body_text=letter.parsed.text[:20000],
                                raw_path=app.raw_locator(letter.spooled)))
    raise Stop("bounce", f"bounce of our {ours.kind} to {ours.recipient}: "
                         f"{info.status or 'no status code'}{why}")


def _ours_by_tid(letter: Letter, session: Session, app: App,
                 info: BounceInfo) -> tuple[Outgoing | None, str]:
    """Our letter a bounce returns, found by the TID in the returned copy: the latest
    letter we wrote on that ticket to an address the bounce names. A TID is easy to
    guess; a letter of ours to a named address is the proof. (letter, how) - `how`
    says so in the accounting."""
    assert letter.parsed is not None
    copy = returned_copy(letter.parsed.message, info, app.config.service.tid_prefix)
    if copy.tid is None:
        return None, ""
    tid = format_tid(copy.tid, app.config.service.tid_prefix)
    if not copy.addresses:
        return None, f"; names {tid} but no address"
    ours = session.scalar(
        select(Outgoing).where(Outgoing.ticket_id == copy.tid,
                               func.lower(Outgoing.recipient).in_(sorted(copy.addresses)))
        .order_by(Outgoing.id.desc()).limit(1))
    if ours is None:
        return None, f"; names {tid}, but we wrote to none of its addresses there"
    return ours, f"found by {tid} in the returned copy"
