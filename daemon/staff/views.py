"""What staff can ask the desk by e-mail (issue 12): `#list`, `#list all`, `#show TID`,
`#find TEXT|INN|address`. Answered only to proven staff; nothing is changed.

`#list` is the writer's open tickets, ordered as the morning digest orders them
(late first); `#list all` is everyone's, for the head of support alone. `#show`
is a ticket's card and its last letters. `#find` looks for an INN (the
organisation's tickets), an address (tickets it wrote or is copied on) or words
in subjects and letters; the newest matches first, at most `FOUND`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, literal_column, or_, select
from sqlalchemy.orm import Session

from daemon.config.schema import StaffMember
from daemon.mail.threading_tid import parse_tid
from daemon.outbound.letters import Incoming, LetterQueue
from daemon.outbound.russian import msk
from daemon.reports.digest import Line, lines_of
from daemon.staff.commands import Command
from daemon.storage.models import Message, Org, Ticket
from daemon.tickets.identity import valid_inn

FOUND = 20  # matches shown by #find
LETTERS = 5  # last letters shown by #show
EXCERPT = 600  # characters of each


@dataclass(frozen=True)
class Answer:
    """One command's answer, as the template shows it."""

    title: str
    lines: list[Line] | None = None  # #list, #find
    card: dict[str, Any] | None = None  # #show
    refusal: str = ""


def answer(session: Session, queue: LetterQueue, member: StaffMember, commands: tuple[
        Command, ...], letter: Incoming, now: datetime) -> None:
    """Queue one letter answering `commands` to the staff member who wrote them."""
    answers = [_one(session, queue, member, c, now) for c in commands]
    text = queue.render("staff/query_answer.txt.j2", member=member, answers=answers)
    subject = "Ответ на запрос: " + ", ".join(f"#{c.name} {c.arg}".strip() for c in commands)
    queue.queue(session, None, "staff-query", member.email, subject[:200], text, None,
                automatic=False, auto_submitted="auto-replied",
                in_reply_to=letter.message_id, references=letter.references)


def _one(session: Session, queue: LetterQueue, member: StaffMember, c: Command,
         now: datetime) -> Answer:
    if c.name == "list":
        return _list(session, queue, member, c.arg == "all", now)
    if c.name == "show":
        return _show(session, queue, c.arg)
    return _find(session, queue, c.arg, now)


def _open() -> Any:
    return Ticket.status != literal_column("'closed'")


def _list(session: Session, queue: LetterQueue, member: StaffMember, everyone: bool,
          now: datetime) -> Answer:
    if everyone and member.role != "head":
        return Answer("#list all", refusal="Команда #list all доступна только руководителю "
                                           "службы поддержки. Ваши обращения: #list.")
    q = select(Ticket).where(_open())
    if not everyone:
        q = q.where(Ticket.assignee == member.email.lower())
    tickets = list(session.scalars(q))
    title = "Все открытые обращения" if everyone else "Ваши открытые обращения"
    return Answer(f"{title}: {len(tickets)}", lines=lines_of(queue, tickets, now))


def _show(session: Session, queue: LetterQueue, arg: str) -> Answer:
    number = parse_tid(arg.strip("[]"), queue.config.service.tid_prefix)
    ticket = session.get(Ticket, number) if number is not None else None
    if ticket is None:
        return Answer(f"#show {arg}", refusal=f"Обращения {arg} нет.")
    tz = queue.config.tz
    org = session.get(Org, ticket.org_id) if ticket.org_id is not None else None
    letters = list(session.scalars(select(Message).where(
        Message.ticket_id == ticket.id, Message.kind.in_(("client", "reply", "staff", "note")))
        .order_by(Message.id.desc()).limit(LETTERS)))
    card = dict(
        ticket=ticket, org=f"{org.name} (ИНН {org.inn or '—'})" if org else "не определена",
        received=msk(ticket.received_at, tz),
        due=msk(ticket.reaction_due, tz) if ticket.reaction_due else "",
        awaiting=ticket.awaiting_reaction and ticket.status not in ("closed", "pending"),
        letters=[dict(at=msk(m.at, tz), kind=m.kind, who=m.from_addr,
                      text=_excerpt(m.body_text)) for m in reversed(letters)])
    return Answer(f"Обращение {ticket.tid}", card=card)


_SPACES = re.compile(r"\s+")


def _excerpt(text: str) -> str:
    flat = _SPACES.sub(" ", text or "").strip()
    return flat if len(flat) <= EXCERPT else flat[:EXCERPT].rstrip() + " …"


def _find(session: Session, queue: LetterQueue, what: str, now: datetime) -> Answer:
    what = what.strip()
    q = select(Ticket)
    if what.isdigit() and valid_inn(what):
        org_ids = list(session.scalars(select(Org.id).where(Org.inn == what)))
        q = q.where(Ticket.org_id.in_(org_ids))
    elif "@" in what and " " not in what:
        address = what.lower().strip("<>")
        q = q.where(or_(Ticket.requester == address,
                        cast(Ticket.participants, String).like(f'%"{address}"%')))
    else:
        # SQLite folds only ASCII letters in LIKE: the word as written, in lower case and
        # capitalised covers how Russian is usually written (PostgreSQL's ILIKE folds all).
        forms = {what, what.lower(), what.capitalize()}
        words = [f"%{_escape(f)}%" for f in forms]
        in_letters = select(Message.ticket_id).where(
            or_(*(Message.body_text.ilike(w, escape="\\") for w in words)))
        q = q.where(or_(*(Ticket.subject.ilike(w, escape="\\") for w in words),
                        Ticket.id.in_(in_letters)))
    tickets = list(session.scalars(q.order_by(Ticket.id.desc()).limit(FOUND)))
    lines = [_found_line(queue, t, now) for t in tickets]
    more = f" (показаны последние {FOUND})" if len(tickets) == FOUND else ""
    return Answer(f"Поиск «{what}»: найдено {len(tickets)}{more}", lines=lines)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _found_line(queue: LetterQueue, t: Ticket, now: datetime) -> Line:
    [line] = lines_of(queue, [t], now)
    if t.status == "closed":
        return Line(line.tid, line.subject, line.client, line.level, "closed", "", "closed", "")
    return line
