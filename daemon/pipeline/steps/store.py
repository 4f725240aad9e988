"""Step: write the ticket, the message, its attachments and its reaction clock.

A new ticket takes its number from the database (the row's primary key), so two
daemons on one PostgreSQL never hand out one TID twice. A client letter on a
ticket starts a new reaction clock of the ticket's level (§2.3) and reopens a
closed ticket (§6). A new ticket's row is written whole, clock included, and the
letter's rows right after it, each with one INSERT (`db.insert_now`).
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Select, func, literal_column, select
from sqlalchemy.orm import Session

from daemon.app import App
from daemon.mail.attachments import unjudged
from daemon.mail.client_replies import RATING, THANKS, read_reply
from daemon.mail.client_requests import asks_for_transcript, mentions_credentials
from daemon.mail.reply_text import new_text_of_reply
from daemon.mail.threading_tid import format_tid, normalize_subject
from daemon.pipeline.context import Letter
from daemon.sla.policy import ReactionClock, standing_clock
from daemon.storage import db
from daemon.storage.models import Attachment, Message, Reaction, Ticket
from daemon.tickets.participants import admit

UNREADABLE = "письмо не удалось разобрать; исходный текст сохранён"


def pick_assignee(session: Session, app: App) -> str | None:
    """The agent with the fewest open tickets (§5.1); config order breaks ties."""
    agents = [s.email.lower() for s in app.config.staff if s.role == "agent"] or \
             [s.email.lower() for s in app.config.staff if s.role == "head"]
    if not agents:
        return None
    # 'closed' written into the SQL, not bound: a plan made for any value (PostgreSQL's
    # generic plan of a prepared statement) cannot use ix_tickets_open_assignee, the
    # index of open tickets only, and reads every ticket the agents ever had (issue 5).
    load = dict(db.rows(session, _open_per_agent(tuple(agents))))
    return min(agents, key=lambda a: (load.get(a, 0), agents.index(a)))


@cache
def _open_per_agent(agents: tuple[str, ...]) -> Select[tuple[str, int]]:
    """Built once for the configured agents (issue 5)."""
    t = Ticket.__table__.c
    return (select(t.assignee, func.count())
            .where(t.status != literal_column("'closed'"), t.assignee.in_(agents))
            .group_by(t.assignee))


def _new_ticket(letter: Letter, session: Session, app: App) -> Ticket:
    p = letter.parsed
    subject = normalize_subject(p.subject, app.config.service.tid_prefix) if p else ""
    admitted = _admit(letter, app, [], [*p.to, *p.cc, letter.sender] if p else [],
                      requester=letter.requester, earned=True)
    ticket = Ticket(subject=subject[:2000], status="new", sla_level=letter.sla_level,
                    requester=letter.requester or "", requester_name=letter.requester_name[:200],
                    requester_source=letter.requester_source,
                    participants=sorted(admitted), received_at=letter.spooled.received_at,
                    assignee=pick_assignee(session, app), missing_info=list(letter.missing),
                    emergency=letter.sla_level.endswith("-operational"),
                    coupon_id=letter.coupon_id)
    if letter.topic is not None:  # issue 13: the scope step's finding, kept for the report
        ticket.topic = ticket.topic_auto = letter.topic.topic
        ticket.topic_score = letter.topic.score
        ticket.level_before_scope = letter.level_before_scope
    ident = letter.identification
    if ident is not None and ident.org is not None:
        ticket.org_id, ticket.identified_by = ident.org.id, ident.how
    if letter.internal_error:
        ticket.needs_attention = True
        ticket.attention_reason = f"ошибка при обработке письма: {letter.internal_error}"
    elif letter.parse_error:
        ticket.needs_attention = True
        ticket.attention_reason = f"{UNREADABLE}: {letter.parse_error}"
    elif p is not None and p.defects:
        ticket.needs_attention = True
        ticket.attention_reason = "нарушена структура письма: " + ", ".join(p.defects)[:500]
    for flag in letter.flags:
        ticket.needs_attention = True
        ticket.attention_reason = "; ".join(filter(None, [ticket.attention_reason, flag]))
    if letter.thread_note.startswith("tid-not-yours"):
        ticket.needs_attention = True
        ticket.attention_reason = (ticket.attention_reason + "; " if ticket.attention_reason
                                   else "") + f"в теме чужой номер {letter.thread_note[14:]}"
    ticket.id = next_ticket_number(session)
    ticket.tid = format_tid(ticket.id, app.config.service.tid_prefix)
    letter.new_ticket = True
    return ticket  # not written yet: run() writes it once its clock is set


def _admit(letter: Letter, app: App, current: list[str], candidates: list[str], *,
           requester: str, earned: bool) -> list[str]:
    """The participants after this letter; what was added or refused goes to staff."""
    a = admit(current, candidates, requester=requester, ours=app.config.our_addresses(),
              cap=app.config.tickets.max_participants, earned=earned)
    letter.participants_added += a.added
    letter.participants_refused.update(a.refused)
    if a.refused:
        letter.notes.append(f"{len(a.refused)} address(es) not added to the correspondence")
    return a.participants


def next_ticket_number(session: Session) -> int:
    """The new ticket's number, from the database before the row is written (so the
    row goes in whole, TID included, with the rest of the letter's rows). PostgreSQL:
    the table's sequence, safe for several daemons; SQLite: one past the highest,
    which is what SQLite itself would pick, under the write lock every transaction
    takes at its start (BEGIN IMMEDIATE, daemon/storage/db.py)."""
    if session.get_bind().dialect.name == "postgresql":
        return int(db.rows(session, _NEXTVAL)[0][0])
    return int(db.rows(session, _HIGHEST)[0][0] or 0) + 1


_NEXTVAL = select(func.nextval(func.pg_get_serial_sequence("tickets", "id")))
_HIGHEST = select(func.max(Ticket.__table__.c.id))


def message_kind(letter: Letter, ticket: Ticket) -> str:
    if letter.robot:
        return "auto-reply"
    if letter.staff is not None and not letter.new_ticket:
        return "staff"
    if not letter.new_ticket and letter.parsed is not None:
        text = new_text_of_reply(letter.parsed.text)
        if asks_for_transcript(text):
            return "transcript-request"  # §5.5: answered at once, no reaction clock
        if ticket.status == "closed" or not ticket.awaiting_reaction:  # answered
            reading = letter.reply_reading = read_reply(text)
            # §6: thanks and ratings are recorded and never reopen, nor start a clock.
            if reading.kind in (RATING, THANKS):
                return reading.kind
            if ticket.status == "closed" and not reading.reopens:
                return "unclear"  # stays closed; staff are asked whether to reopen
    return "client"


def start_reaction_clock(ticket: Ticket, letter: Letter, app: App) -> dict[str, object]:
    """Start this letter's clock; the returned `Reaction` row is the caller's to write.

    The ticket shows the earliest unanswered clock (§2.3, `standing_clock`): a
    follow-up before the first reaction gets its own row, but the deadline, the
    warning and what was already sent about them stay."""
    received, dev = letter.spooled.received_at, ticket.developers_involved
    start, due = app.sla.deadline(ticket.sla_level, received, developers_involved=dev)
    new = ReactionClock(start, due, app.sla.warn_time(ticket.sla_level, received,
                                                      developers_involved=dev))
    unanswered = None
    if ticket.awaiting_reaction and ticket.status in ("new", "open") and \
            ticket.clock_started_at and ticket.reaction_due and ticket.warn_due:
        unanswered = ReactionClock(ticket.clock_started_at, ticket.reaction_due, ticket.warn_due)
    standing = standing_clock(unanswered, new)
    if standing is new:
        ticket.clock_started_at, ticket.reaction_due, ticket.warn_due = \
            new.start, new.due, new.warn
        ticket.warned_at, ticket.breach_notified_at = None, None
    else:
        letter.deadline_stands = True
    ticket.awaiting_reaction = True
    return dict(ticket_id=ticket.id, sla_level=ticket.sla_level, started_at=start, due_at=due)


def run(letter: Letter, session: Session, app: App) -> None:
    new = letter.ticket is None
    ticket = _new_ticket(letter, session, app) if new else letter.ticket
    assert ticket is not None
    letter.ticket = ticket
    p = letter.parsed
    kind = message_kind(letter, ticket)
    if letter.reply_reading is not None and letter.reply_reading.rating is not None:
        ticket.rating = letter.reply_reading.rating  # a rating, or one beside a new question
    if kind == "client" and p is not None and mentions_credentials(p.text):
        ticket.credentials_shared = True  # §5.3: remind to change them on closing
    reaction = None
    if kind == "client":
        if ticket.status == "closed":
            ticket.status, ticket.closed_at = "open", None
            letter.notes.append("reopened")
        elif ticket.status == "pending":
            ticket.status = "open"
        if not new and p is not None:
            # New addresses only from the ticket's own side, proven (issue 21).
            earned = letter.auth.proven and letter.sender in (
                ticket.requester, *(ticket.participants or []))
            after = _admit(letter, app, list(ticket.participants or []), [*p.to, *p.cc],
                           requester=ticket.requester, earned=earned)
            if after != list(ticket.participants or []):
                ticket.participants = after
        reaction = start_reaction_clock(ticket, letter, app)
    if new:
        db.insert_now(session, ticket)
    if reaction is not None:
        db.insert_row(session, Reaction.__table__, reaction)  # type: ignore[arg-type]
    msg = db.insert_now(session, Message(
        ticket_id=ticket.id, direction="in", kind=kind, from_addr=letter.shown_from,
        to_addrs=p.to if p else list(letter.spooled.envelope.rcpt_to),
        cc_addrs=p.cc if p else [], subject=(p.subject if p else "")[:2000],
        message_id=p.message_id if p else None, at=letter.spooled.received_at,
        body_text=(p.text if p else "")[:1_000_000],
        raw_path=app.raw_locator(letter.spooled),
        content_hash=letter.content_hash or None,
        auth=letter.auth.as_dict() if letter.auth.source else None,
        spam=letter.spam.as_dict() if letter.spam is not None else None))
    letter.message = msg
    db.expire_loaded(session, ticket, "messages", "deadlines")
    if p is not None and p.attachments:
        if len(letter.verdicts) != len(p.attachments):  # the attachments step failed
            letter.verdicts = [unjudged(a.filename, a.size) for a in p.attachments]
        rows = []
        infected = {i.index for i in letter.infections}
        for index, (raw, verdict) in enumerate(zip(p.attachments, letter.verdicts,
                                                   strict=True)):
            if index in infected:  # malware: never where staff download files
                digest, path = raw.sha256, None
            else:  # a big attachment is written block by block, decoded from the letter
                digest, path = app.keep_attachment(
                    session,
                    raw.content if isinstance(raw.content, bytes) else raw.content.blocks(),
                    raw.sha256)
            rows.append(dict(
                message_id=msg.id, filename=verdict.filename,
                declared_type=raw.content_type[:255], detected_type=verdict.detected_type,
                size=verdict.size, sha256=digest, stored_path=path,
                verdict=verdict.verdict, reason=verdict.reason))
        db.insert_row(session, Attachment.__table__, rows)  # type: ignore[arg-type]
