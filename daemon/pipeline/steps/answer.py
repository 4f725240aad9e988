"""Step: the letters this letter causes, queued in the same transaction.

A client letter gets its acknowledgement (§5.4, §5.5) and the assignee a
notification; a staff reply is relayed to the client and meets the reaction
clock (its commands change the ticket); a rating is thanked; a transcript
request is answered with the correspondence; automatic letters get nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from daemon.app import App
from daemon.pipeline.context import Letter
from daemon.staff.regulation import Rules
from daemon.staff.reply import Desk, FromStaff, handle_staff_letter


def staff_rules(app: App) -> Rules:
    """What `#topic` and `#faq` check against (issue 13)."""
    return Rules(frozenset(app.scope.by_code), {e.id: e for e in app.knowledge.entries},
                 frozenset(code for code, t in app.scope.by_code.items() if not t.in_scope))


def run(letter: Letter, session: Session, app: App) -> None:
    ticket, msg = letter.ticket, letter.message
    assert ticket is not None and msg is not None
    about = letter.incoming()
    if msg.kind == "client":
        if letter.infections and not (letter.auth.proven and not letter.demoted):
            # Malware from a sender nobody proved: a forged From gets no mail from us.
            letter.notes.append("ack not sent: malware from an unauthenticated sender")
        elif not app.notifier.acknowledge(session, ticket, about):
            letter.notes.append("ack not sent: hourly cap or no address")
        app.notifier.notify_staff(session, ticket, about)
    elif msg.kind == "staff":
        letter.notes += handle_staff_letter(
            FromStaff(ticket, msg, letter.staff, about, letter.auth), session,
            Desk(app.config, app.sla, app.notifier, app.quarantine,
                 lambda raw, spam: app.scanners.learn(raw, spam=spam), staff_rules(app)))
    elif msg.kind == "rating":
        app.notifier.rating_thanks(session, ticket, about, ticket.rating or 0)
    elif msg.kind == "unclear" or (msg.kind == "thanks" and ticket.status != "closed"):
        # §6: a closed ticket stays closed, and staff decide (#reopen); thanks on an
        # open ticket start no clock, but its assignee may now close it.
        app.notifier.notify_staff(session, ticket, about)
    elif msg.kind == "transcript-request":
        if letter.sender == ticket.requester:
            app.notifier.transcript(session, ticket, about)
        else:  # §5.5: to its requester only
            letter.notes.append(f"transcript not sent: {letter.sender} is not the requester")
