"""Step: a sender in a loop with us (SPEC "Loops and abuse"; issue 21, item 7).

A robot that strips every auto-reply header (a forwarding rule, a home-made
responder, a ticket system of the client's) answers each of our letters at once,
and each of its answers gets an acknowledgement of ours: the hourly cap only slows
that down. When a sender on a ticket has answered each of our last five letters to
it within a minute (`daemon.mail.loops.is_reply_loop`), its letter is kept on the
ticket as an automatic one, the ticket stops every automatic letter from then on
(`Ticket.automatic_stopped_at`, read by the notifier) and is flagged for staff. Staff
still get their notifications of later client letters and may answer by hand.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from daemon.app import App
from daemon.mail.loops import LOOP_RUNS, LOOP_WITHIN, is_reply_loop, reply_pairs
from daemon.pipeline.context import Letter
from daemon.storage.models import Inbound, Message, Outgoing, Ticket

REASON = ("петля автоответов: {sender} отвечает на каждое наше письмо по обращению "
          "быстрее чем за {seconds} с, {runs} раз подряд; автоматические письма "
          "по обращению остановлены")


@cache
def _our_letters() -> Select[Any]:
    """When our last letters on a ticket to these addresses left; built once."""
    o = Outgoing.__table__.c
    return (select(o.sent_at, o.created_at)
            .where(o.ticket_id == bindparam("ticket_id"),
                   func.lower(o.recipient).in_(bindparam("to", expanding=True)))
            .order_by(o.created_at.desc(), o.id.desc()).limit(LOOP_RUNS))


@cache
def _their_duplicates() -> Select[Any]:
    """When copies of the sender's letters came that were not stored again (their
    acknowledgement was resent); built once."""
    i = Inbound.__table__.c
    return select(i.received_at).where(i.ticket_id == bindparam("ticket_id"),
                                       i.outcome == "duplicate",
                                       i.envelope_from.in_(["", bindparam("sender")]),
                                       i.received_at > bindparam("since"))


@cache
def _their_letters() -> Select[Any]:
    """When the sender's letters on a ticket came, since a moment; built once."""
    m = Message.__table__.c
    return select(m.at).where(m.ticket_id == bindparam("ticket_id"), m.direction == "in",
                              m.from_addr == bindparam("sender"), m.at > bindparam("since"))


def run(letter: Letter, session: Session, app: App) -> None:
    ticket = letter.ticket
    if ticket is None or letter.robot or letter.staff is not None:
        return
    if caught(letter, session, ticket):
        letter.robot = "reply-loop"


def caught(letter: Letter, session: Session, ticket: Ticket) -> bool:
    """Whether this letter closes a loop on `ticket`; if so the ticket is stopped and
    flagged here. Also asked by the screen before it resends an acknowledgement for a
    duplicate: a robot that answers with the same text each time is a duplicate each
    time, and each resent acknowledgement is one more turn of the loop."""
    sender = letter.sender
    if not sender or ticket.automatic_stopped_at is not None:
        return False
    p = letter.parsed
    to = sorted({sender, *([p.reply_to.lower()] if p is not None and p.reply_to else [])})
    # Timestamps need the column types' conversion, so not `db.rows`; letters that
    # join a ticket are the fewer, and the first query ends most of them.
    ours: list[datetime] = [row[0] or row[1] for row in session.execute(
        _our_letters(), {"ticket_id": ticket.id, "to": to})]
    if len(ours) < LOOP_RUNS:
        return False
    params = {"ticket_id": ticket.id, "sender": sender, "since": min(ours)}
    theirs: list[datetime] = [*session.scalars(_their_letters(), params),
                              *session.scalars(_their_duplicates(), params)]
    if not is_reply_loop(reply_pairs(ours, [*theirs, letter.spooled.received_at])):
        return False
    ticket.automatic_stopped_at = letter.now
    ticket.needs_attention = True
    reason = REASON.format(sender=sender, seconds=int(LOOP_WITHIN.total_seconds()),
                           runs=LOOP_RUNS)
    ticket.attention_reason = "; ".join(filter(None, [ticket.attention_reason, reason]))[:1000]
    letter.notes.append(f"reply loop: {LOOP_RUNS} answers within "
                        f"{int(LOOP_WITHIN.total_seconds())} s; automatic letters stopped")
    return True
