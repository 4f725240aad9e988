"""Step: letters to the head of support (§6).

A client may write to the head of support asking to speed a ticket up: to the
configured second address (`[service] head_address`), or with the words
«руководителю службы» in a letter on an existing ticket. The head gets the
ticket's card and deadline at once (`outbound/escalation.py`), the ticket is marked
escalated, and the client's acknowledgement says who received it. Staff and robots
are not escalated, and a ticket escalated less than an hour ago is not escalated
again (the letter reaches its assignee as usual).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy.orm import Session

from daemon.app import App
from daemon.mail.reply_text import new_text_of_reply
from daemon.outbound.escalation import tell_head
from daemon.pipeline.context import Letter
from daemon.tickets.head import for_head

AGAIN_AFTER = timedelta(hours=1)  # one letter to the head per ticket in this time


def run(letter: Letter, session: Session, app: App) -> None:
    ticket, msg, p = letter.ticket, letter.message, letter.parsed
    if ticket is None or msg is None or p is None or letter.robot or letter.staff is not None \
            or msg.kind != "client":
        return
    text = new_text_of_reply(p.text)
    how = for_head(app.config.service.head_address,
                   [*letter.spooled.envelope.rcpt_to, *p.to, *p.cc], text,
                   not letter.new_ticket)
    if not how:
        return
    received = letter.spooled.received_at
    if ticket.escalated_at is not None and received - ticket.escalated_at < AGAIN_AFTER:
        # A client (or a loop) pleading every few minutes: the head heard it already.
        letter.notes.append(f"not escalated again: the head was told at "
                            f"{ticket.escalated_at.isoformat()}")
        return
    people = tell_head(app.notifier, session, ticket, letter.shown_from, text, how)
    if not people:
        letter.flags.append("клиент просит руководителя службы, но в [[staff]] нет "
                            "сотрудника с ролью head")
        ticket.needs_attention = True
        ticket.attention_reason = "; ".join(filter(None, [
            ticket.attention_reason, "клиент обратился к руководителю службы"]))
        return
    ticket.escalated_at = received
    ticket.escalated_to = ", ".join(m.email for m in people)
    letter.advice = dataclasses.replace(letter.advice,
                                        escalated_to=", ".join(m.name for m in people))
    letter.notes.append(f"escalated to {ticket.escalated_to} ({how})")
