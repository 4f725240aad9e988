"""The report's facts read from the database (`report.Facts`): plain values out.

Each query reads one kind of row for the period, by an indexed time column where
there is one; the figures themselves are `report.compute`'s, never SQL's, so there
is one definition of each.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from daemon.mail.client_requests import rating_comment, rating_of
from daemon.mail.reply_text import new_text_of_reply
from daemon.reports.report import (
    NO_ORG,
    Facts,
    RatingFact,
    ReactionFact,
    Report,
    TicketFact,
    compute,
)
from daemon.storage.models import Inbound, Message, Org, Reaction, Ticket


def gather(session: Session, start: datetime, end: datetime, now: datetime) -> Facts:
    """The facts of the period [start, end) and the open tickets at `now`."""
    return Facts(start=start, end=end, now=now,
                 tickets=_tickets(session, start, end), reactions=_reactions(session, start, end),
                 ratings=_ratings(session, start, end), reopened=_reopened(session, start, end),
                 open_by_agent=open_by_agent(session),
                 replies_by_agent=_replies(session, start, end))


def _tickets(session: Session, start: datetime, end: datetime) -> tuple[TicketFact, ...]:
    orgs = {i: name for i, name in session.execute(select(Org.id, Org.name))}
    rows = session.execute(
        select(Ticket.tid, Ticket.sla_level, Ticket.org_id, Ticket.received_at, Ticket.assignee,
               Ticket.topic, Ticket.topic_auto)
        .where(Ticket.received_at >= start, Ticket.received_at < end).order_by(Ticket.id))
    return tuple(TicketFact(tid or "", level, orgs.get(org_id, NO_ORG) if org_id else NO_ORG,
                            at, assignee or "", topic or "", auto or "")
                 for tid, level, org_id, at, assignee, topic, auto in rows)


def _reactions(session: Session, start: datetime, end: datetime) -> tuple[ReactionFact, ...]:
    first = select(Reaction.ticket_id, func.min(Reaction.id).label("first_id")).group_by(
        Reaction.ticket_id).subquery()
    rows = session.execute(
        select(Ticket.tid, Reaction.sla_level, Reaction.started_at, Reaction.due_at,
               Reaction.met_at, Reaction.id == first.c.first_id, Ticket.assignee)
        .join(Ticket, Ticket.id == Reaction.ticket_id)
        .join(first, first.c.ticket_id == Reaction.ticket_id)
        .where(Reaction.started_at >= start, Reaction.started_at < end).order_by(Reaction.id))
    return tuple(ReactionFact(tid or "", level, started, due, met, bool(is_first),
                              assignee or "")
                 for tid, level, started, due, met, is_first, assignee in rows)


def _ratings(session: Session, start: datetime, end: datetime) -> tuple[RatingFact, ...]:
    rows = session.execute(
        select(Ticket.tid, Message.at, Message.body_text)
        .join(Ticket, Ticket.id == Message.ticket_id)
        .where(Message.kind == "rating", Message.at >= start, Message.at < end)
        .order_by(Message.id))
    found = []
    for tid, at, body in rows:
        text = new_text_of_reply(body or "")
        value = rating_of(text)
        if value is not None:
            found.append(RatingFact(tid or "", at, value, rating_comment(text)))
    return tuple(found)


def _reopened(session: Session, start: datetime, end: datetime) -> tuple[str, ...]:
    """A client letter that reopened a closed ticket says so in its accounting."""
    rows = session.scalars(
        select(Ticket.tid).join(Inbound, Inbound.ticket_id == Ticket.id)
        .where(Inbound.received_at >= start, Inbound.received_at < end,
               Inbound.reason.like("%reopened%")).distinct())
    return tuple(sorted(t for t in rows if t))


def open_by_agent(session: Session) -> dict[str, int]:
    """Tickets not closed, per assignee (the partial index of open tickets serves it)."""
    rows = session.execute(
        select(Ticket.assignee, func.count()).where(
            Ticket.status != literal_column("'closed'"), Ticket.assignee.is_not(None))
        .group_by(Ticket.assignee))
    return {a: int(n) for a, n in rows if a}


def _replies(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    rows = session.execute(
        select(Message.from_addr, func.count()).where(
            Message.kind == "staff", Message.direction == "in",
            Message.at >= start, Message.at < end).group_by(Message.from_addr))
    return {a.lower(): int(n) for a, n in rows if a}


def bounds(first: date, last: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The period of whole days `first`..`last` in `tz`: [start, end) as aware moments."""
    start = datetime.combine(first, time(0), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


def make(session: Session, first: date, last: date, now: datetime, *, tz: tzinfo,
         working: Callable[[datetime, datetime], timedelta]) -> Report:
    """The report of the days `first`..`last` as the database has them at `now`."""
    start, end = bounds(first, last, tz)
    return compute(gather(session, start, end, now), working, tz)
