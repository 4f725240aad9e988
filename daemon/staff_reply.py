"""A staff member's reply to a ticket: relay it to the client, record the reaction.

Only the text above the reply marker (or above the quoted notification) goes to
the client, never the internal notification below it. A letter from a staff
address that fails the configured authentication check is not relayed: it is
kept on the ticket and the ticket is flagged, because a forged staff letter must
not reach a client from our address.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.app import App
from daemon.authcheck import authenticated
from daemon.models import Reaction
from daemon.pipeline import Letter
from daemon.reply_text import new_text_of_reply


def handle_staff_letter(letter: Letter, session: Session, app: App) -> None:
    ticket, msg, p = letter.ticket, letter.message, letter.parsed
    assert ticket is not None and msg is not None and p is not None
    trusted = app.config.security.trusted_authserv_ids
    if trusted and not authenticated(p.message.get_all("Authentication-Results") or [],
                                     trusted, letter.sender):
        msg.kind = "staff-unverified"
        ticket.needs_attention = True
        ticket.attention_reason = f"письмо от {letter.sender} не прошло проверку подлинности"
        letter.notes.append("staff letter failed authentication; not relayed")
        return
    text = new_text_of_reply(p.text)
    if not text.strip():
        letter.notes.append("staff letter with nothing above the quote; not relayed")
        return
    msg.body_text = text
    app.notifier.relay_staff_reply(session, ticket, letter, text)
    now = letter.spooled.received_at
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    for r in session.scalars(select(Reaction).where(Reaction.ticket_id == ticket.id,
                                                     Reaction.met_at.is_(None))):
        r.met_at = now
    ticket.awaiting_reaction = False
    if ticket.status == "new":
        ticket.status = "open"
