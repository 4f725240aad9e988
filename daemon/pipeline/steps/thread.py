"""Step: find the ticket a letter belongs to (SPEC step 4, regulation §5.5).

The TID in the subject decides, whatever reply prefixes surround it; failing
that, In-Reply-To/References pointing at a letter of ours. Either way the sender
must have a right to the ticket (its requester, a participant, or staff):
a stranger naming someone's TID opens a ticket of their own and never sees or
joins the other one.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from daemon.app import App
from daemon.mail.threading_tid import find_tid
from daemon.pipeline.context import Letter, Stop
from daemon.storage.models import Message, Ticket


def may_write(ticket: Ticket, sender: str, app: App) -> bool:
    sender = sender.lower()
    if not sender:
        return False
    if sender == ticket.requester or sender in (ticket.participants or []):
        return True
    return app.config.staff_by_email(sender) is not None


@cache
def _ours_among() -> Select[tuple[int]]:
    """The ticket of the first of our letters among a letter's references; built once
    (issue 5)."""
    m = Message.__table__.c
    return select(m.ticket_id).where(m.message_id.in_(bindparam("refs", expanding=True)),
                                     m.direction == "out").limit(1)


def run(letter: Letter, session: Session, app: App) -> None:
    letter.staff = app.config.staff_by_email(letter.sender) if letter.sender else None
    p = letter.parsed
    if p is not None and letter.ticket is None:
        number = find_tid(p.subject, app.config.service.tid_prefix)
        if number is not None:
            ticket = session.get(Ticket, number)
            if ticket is None:
                letter.thread_note = "tid-unknown"
            elif may_write(ticket, letter.sender, app):
                letter.ticket, letter.thread_note = ticket, "tid"
            else:
                letter.thread_note = f"tid-not-yours:{ticket.tid}"
        if letter.ticket is None and not letter.thread_note.startswith("tid-not-yours"):
            refs = list(dict.fromkeys([*p.in_reply_to, *reversed(p.references)]))
            if refs:
                ticket_id = session.connection().execute(
                    _ours_among(), {"refs": refs[:50]}).scalar()
                ticket = session.get(Ticket, ticket_id) if ticket_id is not None else None
                if ticket is not None and may_write(ticket, letter.sender, app):
                    letter.ticket, letter.thread_note = ticket, "references"
    if letter.robot:
        if letter.ticket is None:
            raise Stop("suppressed", letter.robot)
        letter.notes.append(f"automatic ({letter.robot}): kept, not answered")
