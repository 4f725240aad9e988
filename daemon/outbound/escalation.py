"""The head of support's letter (§6): a client asked them to speed a ticket up.

The head gets it at once, with the ticket's card (who, which organisation, level,
deadline, assignee, status) and the client's words; `Notifier` queues it like any
staff letter. The decision that a letter is for the head is the `escalate` step's.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from daemon.config.schema import StaffMember
from daemon.mail.threading_tid import tagged_subject
from daemon.outbound.notifier import Notifier
from daemon.outbound.russian import msk
from daemon.storage.models import Org, Ticket


def heads(notifier: Notifier) -> list[StaffMember]:
    """Who the head of support is: the staff with role "head"."""
    return [s for s in notifier.config.staff if s.role == "head"]


def tell_head(notifier: Notifier, session: Session, ticket: Ticket, sender: str,
              text: str, how: str) -> list[StaffMember]:
    """Queue the card to every head of support; returns them."""
    tz = notifier.config.tz
    org = session.get(Org, ticket.org_id) if ticket.org_id is not None else None
    assignee = notifier.config.staff_by_email(ticket.assignee) if ticket.assignee else None
    body = notifier.render(
        "staff/escalation.txt.j2", ticket=ticket, sender=sender, how=how,
        org=org.name if org is not None else "", level=notifier.level_view(ticket.sla_level),
        due=msk(ticket.reaction_due, tz) if ticket.reaction_due else "",
        received=msk(ticket.received_at, tz),
        assignee=f"{assignee.name} <{assignee.email}>" if assignee else
        (ticket.assignee or "не назначен"),
        text=text.strip()[:20_000])
    people = heads(notifier)
    for member in people:
        notifier.queue(session, ticket, "escalation", member.email,
                       tagged_subject(ticket.tid or "", f"Письмо руководителю службы: "
                                                        f"{ticket.subject or '(без темы)'}"),
                       body, None, automatic=False, auto_submitted="auto-generated")
    return people
