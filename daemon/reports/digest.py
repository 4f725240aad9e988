"""The agents' morning digest: one letter to each agent with open tickets.

Their open tickets (not closed) ordered as they should be worked: the late ones
first (the deadline passed with no reply), then those waiting for a reaction by
deadline, then the rest (answered, or waiting for the client, §5.10). Each line
has the TID, the client, the level and the time left in working hours (calendar
time for a level on a calendar clock, §3.6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import literal_column, select
from sqlalchemy.orm import Session

from daemon.outbound.letters import LetterQueue
from daemon.outbound.russian import duration_words, msk, plural
from daemon.storage.models import Ticket


@dataclass(frozen=True)
class Line:
    tid: str
    subject: str
    client: str
    level: str
    status: str
    due: str  # Moscow time, or ""
    state: str  # late | due | answered
    left: str  # "осталось 3 рабочих часа", "просрочено на 2 рабочих часа", ""


def order_key(t: Ticket, now: datetime) -> tuple[int, datetime, int]:
    """Late first, then by deadline; tickets with no reaction awaited last."""
    waiting = t.awaiting_reaction and t.reaction_due is not None and t.status != "pending"
    if waiting and t.reaction_due is not None:
        return (0 if t.reaction_due <= now else 1, t.reaction_due, t.id)
    return (2, datetime.max.replace(tzinfo=now.tzinfo), t.id)


def _words(delta: timedelta, calendar_clock: bool) -> str:
    """"2 рабочих часа 30 мин", "45 рабочих минут" (calendar hours for §3.6)."""
    minutes = max(1, int(delta.total_seconds() // 60))
    clock = "calendar" if calendar_clock else "working"
    hours, rest = divmod(minutes, 60)
    if not hours:
        return duration_words(timedelta(minutes=minutes), clock)
    words = duration_words(timedelta(hours=hours), clock)
    return f"{words} {rest} мин" if rest else words


def lines_of(queue: LetterQueue, tickets: list[Ticket], now: datetime) -> list[Line]:
    tz = queue.config.tz
    out = []
    for t in sorted(tickets, key=lambda t: order_key(t, now)):
        rank = order_key(t, now)[0]
        left = ""
        if rank < 2 and t.reaction_due is not None:
            calendar_clock = _calendar(queue, t.sla_level)
            if rank == 0:
                gone = (now - t.reaction_due) if calendar_clock else \
                    queue.sla.calendar.working_between(t.reaction_due, now)
                left = "просрочено на " + _words(gone, calendar_clock)
            else:
                rest = (t.reaction_due - now) if calendar_clock else \
                    queue.sla.calendar.working_between(now, t.reaction_due)
                left = "осталось " + _words(rest, calendar_clock)
        out.append(Line(t.tid or "", t.subject or "(без темы)", t.requester, t.sla_level,
                        t.status, msk(t.reaction_due, tz) if t.reaction_due and rank < 2
                        else "", ("late", "due", "answered")[rank], left))
    return out


def _calendar(queue: LetterQueue, level: str) -> bool:
    try:
        return queue.sla.level(level).clock.value == "calendar"
    except KeyError:
        return False


def queue_digests(session: Session, queue: LetterQueue, now: datetime) -> int:
    """One digest to each agent with open tickets; how many were queued."""
    tickets = session.scalars(select(Ticket).where(
        Ticket.status != literal_column("'closed'"), Ticket.assignee.is_not(None)))
    by_agent: dict[str, list[Ticket]] = {}
    for t in tickets:
        by_agent.setdefault((t.assignee or "").lower(), []).append(t)
    sent = 0
    for agent, own in sorted(by_agent.items()):
        member = queue.config.staff_by_email(agent)
        if member is None:
            continue  # no longer on the staff: the head's report shows these
        lines = lines_of(queue, own, now)
        late = sum(1 for x in lines if x.state == "late")
        text = queue.render("staff/digest.txt.j2", member=member, lines=lines, late=late,
                            today=f"{now.astimezone(queue.config.tz):%d.%m.%Y}",
                            count=len(lines),
                            count_words=plural(len(lines), "открытое обращение",
                                               "открытых обращения", "открытых обращений"))
        subject = f"Ваши открытые обращения на {now.astimezone(queue.config.tz):%d.%m.%Y}: " \
                  f"{len(lines)}" + (f", просрочено {late}" if late else "")
        queue.queue(session, None, "digest", member.email, subject, text, None,
                    automatic=False, auto_submitted="auto-generated")
        sent += 1
    return sent
