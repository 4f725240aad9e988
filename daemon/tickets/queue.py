"""The order of arrival (§2.1): a ticket's place in the queue of its level.

«Обращения в службу технической поддержки обрабатываются в порядке их
поступления»: the queue of a level is its tickets waiting for a reaction (new or
open, a clock running), in the order their clocks started; a ticket's place is one
more than the tickets ahead of it.
"""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from daemon.storage.models import Ticket

WAITING = ("new", "open")


def queue_position(session: Session, ticket: Ticket) -> int | None:
    """1 for the next ticket of its level; None when it waits for nothing."""
    start = ticket.clock_started_at
    if start is None or not ticket.awaiting_reaction or ticket.status not in WAITING:
        return None
    t = Ticket.__table__.c
    ahead = session.scalar(select(func.count()).select_from(Ticket.__table__).where(
        t.sla_level == ticket.sla_level, t.status.in_(WAITING),
        t.awaiting_reaction.is_(True), t.id != ticket.id,
        or_(t.clock_started_at < start, and_(t.clock_started_at == start, t.id < ticket.id))))
    return int(ahead or 0) + 1
