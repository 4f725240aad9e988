"""The deadline sweep: warn the assignee before a reaction deadline, the head after it.

Deadlines are data (`tickets.warn_due`, `tickets.reaction_due`, set when a client
letter starts a reaction clock); one periodic job looks for what is due, so there
is no job per ticket and nothing to reschedule when a ticket changes. Each
warning is sent once per reaction clock (`warned_at`, `breach_notified_at`), in
the same transaction that marks it, so two daemons never both send it.
Tickets waiting for the client (`pending`) or closed are not chased.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy import select

from daemon.app import App
from daemon.storage import db
from daemon.storage.models import Ticket

log = structlog.get_logger("supportd.sweep")

CHASED = ("new", "open")


@dataclass
class SweepReport:
    warned: int = 0
    breached: int = 0
    expired: int = 0  # letters at [spam] reject_score gone from the quarantine


def expire_quarantine(app: App) -> int:
    """Letters held at `[spam] reject_score` leave the quarantine after `keep_days`,
    each with a log line (never silently); their raw bytes stay in the store."""
    gone = 0
    for record in app.quarantine.expired(app.now()):
        if app.quarantine.delete(str(record.get("id", ""))):
            gone += 1
            log.warning("spam.expired", quarantine=record.get("id"),
                        spool_id=record.get("spool_id"), sender=record.get("from"),
                        subject=record.get("subject"), held_at=record.get("held_at"),
                        score=(record.get("verdict") or {}).get("score"))
    return gone


def sweep(app: App, batch: int = 200) -> SweepReport:
    report = SweepReport()
    now = app.now()
    with db.unit_of_work(app.sessions) as session:
        due_soon = session.scalars(
            select(Ticket).where(Ticket.awaiting_reaction.is_(True), Ticket.status.in_(CHASED),
                                 Ticket.warned_at.is_(None), Ticket.warn_due <= now,
                                 Ticket.reaction_due > now)
            .order_by(Ticket.reaction_due).limit(batch).with_for_update(skip_locked=True))
        for ticket in due_soon:
            app.notifier.warn_assignee(session, ticket)
            ticket.warned_at = now
            report.warned += 1
            log.info("deadline.warned", tid=ticket.tid, due=ticket.reaction_due.isoformat()
                     if ticket.reaction_due else None, assignee=ticket.assignee)
        missed = session.scalars(
            select(Ticket).where(Ticket.awaiting_reaction.is_(True), Ticket.status.in_(CHASED),
                                 Ticket.breach_notified_at.is_(None), Ticket.reaction_due <= now)
            .order_by(Ticket.reaction_due).limit(batch).with_for_update(skip_locked=True))
        for ticket in missed:
            app.notifier.report_breach(session, ticket)
            ticket.breach_notified_at = now
            report.breached += 1
            log.warning("deadline.missed", tid=ticket.tid, due=ticket.reaction_due.isoformat()
                        if ticket.reaction_due else None, assignee=ticket.assignee)
    report.expired = expire_quarantine(app)
    return report
