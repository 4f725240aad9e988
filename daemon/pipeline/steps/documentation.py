"""Step: documentation first (§1.2, §5.9).

A new ticket's acknowledgement lists up to `[knowledge] max_entries` knowledge-base
entries that match the letter (`daemon.tickets.knowledge`), never for robots or
staff; the ticket keeps what it was offered. A client who then answers «Спасибо,
помогло» (or writes a line `#solved`) closes the ticket with the entries recorded
(`kb_solved`): the letter starts no reaction clock, the client gets the closing
letter (§6: the rating request) and the assignee the usual notification. A broken
knowledge base never fails a letter: it just lists nothing.
"""

from __future__ import annotations

import dataclasses
import re

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from daemon.app import App
from daemon.mail.reply_text import new_text_of_reply
from daemon.pipeline.context import Letter
from daemon.storage.models import Reaction, Ticket
from daemon.tickets.knowledge import says_solved

log = structlog.get_logger("supportd.documentation")

_SOLVED_ID = re.compile(r"^[^\S\n]*+#solved[ \t]+([a-z][a-z0-9-]{0,31})\b", re.I | re.M)


def run(letter: Letter, session: Session, app: App) -> None:
    ticket, msg, p = letter.ticket, letter.message, letter.parsed
    if ticket is None or msg is None or p is None or letter.robot or letter.staff is not None:
        return
    text = new_text_of_reply(p.text)
    if letter.new_ticket:
        if msg.kind == "client":
            _offer(letter, ticket, text, app)
        return
    if msg.kind in ("client", "thanks") and ticket.status != "closed" and says_solved(text) \
            and (ticket.kb_offered or _SOLVED_ID.search(text) or "#solved" in text.lower()):
        _solved(letter, ticket, text, session, app)


def _offer(letter: Letter, ticket: Ticket, text: str, app: App) -> None:
    p = letter.parsed
    assert p is not None
    try:
        entries = app.knowledge.matching(p.subject, text, app.config.knowledge.max_entries)
    except Exception as exc:  # noqa: BLE001 - the documentation is a courtesy
        log.exception("knowledge.failed", error=str(exc))
        letter.notes.append(f"knowledge base not searched: {type(exc).__name__}: {exc}")
        return
    if entries:
        ticket.kb_offered = [e.id for e in entries]
        letter.advice = dataclasses.replace(letter.advice, entries=entries)
        letter.notes.append("documentation offered: " + ", ".join(ticket.kb_offered))


def _solved(letter: Letter, ticket: Ticket, text: str, session: Session, app: App) -> None:
    """The client says the documentation answered it: the ticket closes."""
    assert letter.message is not None
    named = _SOLVED_ID.search(text)
    entry = app.knowledge.get(named.group(1)) if named else None
    solved = [entry.id] if entry is not None else list(ticket.kb_offered or [])
    if letter.message.kind == "client":
        # The clock this letter started (the store step's newest row) is no question
        # to react to: taken back. Thanks after an answer started none.
        last = session.scalar(select(func.max(Reaction.id)).where(
            Reaction.ticket_id == ticket.id, Reaction.met_at.is_(None)))
        if last is not None:
            session.execute(delete(Reaction).where(Reaction.id == last))
    received = letter.spooled.received_at
    letter.message.kind = "solved"
    ticket.status, ticket.closed_at, ticket.awaiting_reaction = "closed", received, False
    ticket.kb_solved = ",".join(solved)[:200] or None
    app.notifier.closed(session, ticket)
    app.notifier.notify_staff(session, ticket, letter.incoming())
    letter.notes.append(f"solved by the documentation ({ticket.kb_solved or '-'}): closed")
