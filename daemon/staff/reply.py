"""A staff member's reply to a ticket: commands, then the answer relayed to the client.

Only the text above the reply marker (or above the quoted notification) counts,
never the internal notification below it. Command lines at its top change the
ticket (`daemon.commands`); the rest goes to the client from the support
address and meets the reaction clock. A letter with an unknown or malformed
command changes nothing and sends nothing: the staff member gets a letter saying
what was wrong, because a mistyped `#clsoe` must not reach a client as text.
A letter from a staff address that fails the configured authentication check is
not acted on either: it is kept on the ticket and the ticket is flagged.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from daemon.app import App
from daemon.authcheck import authenticated
from daemon.commands import Command, read_staff_letter
from daemon.models import Message, Reaction, Ticket
from daemon.pipeline import Letter
from daemon.reply_text import new_text_of_reply
from daemon.threading_tid import parse_tid

STANDARD_OF = {"partner-operational": "partner-standard",
               "licensee-operational": "licensee-standard"}
OPERATIONAL_OF = {v: k for k, v in STANDARD_OF.items()}


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
    staff = read_staff_letter(new_text_of_reply(p.text))
    problems = list(staff.problems) or check(staff.commands, ticket, session, app)
    if problems:
        msg.kind = "staff-rejected"
        app.notifier.command_problems(session, ticket, letter, problems)
        letter.notes.append("staff letter refused: " + "; ".join(problems))
        return
    names = [c.name for c in staff.commands]
    msg.body_text = staff.text
    if "note" in names:
        msg.kind = "note"  # internal: kept on the ticket, never sent
    elif staff.text:
        app.notifier.relay_staff_reply(session, ticket, letter, staff.text)
        _record_reaction(ticket, session, letter)
    elif not staff.commands:
        letter.notes.append("staff letter with nothing above the quote; not relayed")
    for command in staff.commands:
        apply(command, ticket, letter, session, app)
    if staff.commands:
        letter.notes.append("commands: " + " ".join(f"#{c.name} {c.arg}".strip()
                                                     for c in staff.commands))


def _record_reaction(ticket: Ticket, session: Session, letter: Letter) -> None:
    now = letter.spooled.received_at
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    session.execute(update(Reaction).where(Reaction.ticket_id == ticket.id,
                                           Reaction.met_at.is_(None)).values(met_at=now))
    ticket.awaiting_reaction = False
    if ticket.status == "new":
        ticket.status = "open"


def check(commands: tuple[Command, ...], ticket: Ticket, session: Session,
          app: App) -> list[str]:
    """What is wrong with commands that parsed: unknown level, stranger, bad TID."""
    problems = []
    for c in commands:
        if c.name == "sla" and c.arg not in app.levels:
            problems.append(f"#sla {c.arg}: такого уровня нет; есть: {', '.join(app.levels)}")
        elif c.name == "assign" and app.config.staff_by_email(c.arg) is None:
            problems.append(f"#assign {c.arg}: это не адрес сотрудника поддержки")
        elif c.name == "merge":
            number = parse_tid(c.arg.strip("[]"), app.config.service.tid_prefix)
            target = session.get(Ticket, number) if number is not None else None
            if target is None:
                problems.append(f"#merge {c.arg}: обращения с таким номером нет")
            elif target.id == ticket.id:
                problems.append(f"#merge {c.arg}: нельзя объединить обращение с самим собой")
        elif c.name == "urgent" and ticket.sla_level not in (*OPERATIONAL_OF, *STANDARD_OF):
            problems.append(f"#urgent: уровень {ticket.sla_level} не предусматривает "
                            "оперативной поддержки (только партнёры и лицензиаты, §3.1, §3.3)")
    return problems


def apply(c: Command, ticket: Ticket, letter: Letter, session: Session, app: App) -> None:
    now = letter.spooled.received_at
    if c.name == "close":
        ticket.status, ticket.closed_at, ticket.awaiting_reaction = "closed", now, False
        app.notifier.closed(session, ticket)
    elif c.name == "pending":
        ticket.status = "pending"  # §5.10: waiting for the client; no chasing
    elif c.name == "assign":
        ticket.assignee = c.arg.lower()
    elif c.name == "sla":
        retime(ticket, c.arg, session, app)
    elif c.name == "dev":
        ticket.developers_involved = True
        # A special request stays special, its clock now on working hours (§3.6: in
        # working time developers may join it); anything else goes to development.
        retime(ticket, "special" if ticket.sla_level == "special" else "development",
               session, app)
    elif c.name == "urgent":
        ticket.emergency = True
        retime(ticket, OPERATIONAL_OF.get(ticket.sla_level, ticket.sla_level), session, app)
    elif c.name == "standard":
        ticket.emergency = False
        retime(ticket, STANDARD_OF.get(ticket.sla_level, ticket.sla_level), session, app)
    elif c.name == "merge":
        merge(ticket, c.arg, session, app)


def retime(ticket: Ticket, level: str, session: Session, app: App) -> None:
    """A new level: the running reaction clock keeps its start and gets a new deadline."""
    ticket.sla_level = level
    running = session.scalar(select(Reaction).where(
        Reaction.ticket_id == ticket.id, Reaction.met_at.is_(None)).order_by(Reaction.id.desc()))
    if running is None:
        return
    _, due = app.deadline(level, running.started_at,
                          developers_involved=ticket.developers_involved)
    running.sla_level, running.due_at = level, due
    ticket.reaction_due = due
    ticket.warn_due = app.warn_time(level, running.started_at,
                                    developers_involved=ticket.developers_involved)
    ticket.warned_at = ticket.breach_notified_at = None


def merge(ticket: Ticket, tid: str, session: Session, app: App) -> None:
    """Move this ticket's letters into `tid` and close this one as merged."""
    number = parse_tid(tid.strip("[]"), app.config.service.tid_prefix)
    target = session.get(Ticket, number)
    assert target is not None  # checked before
    session.flush()
    session.execute(update(Message).where(Message.ticket_id == ticket.id)
                    .values(ticket_id=target.id))
    session.execute(update(Reaction).where(Reaction.ticket_id == ticket.id)
                    .values(ticket_id=target.id))
    extra = {ticket.requester, *ticket.participants} - {target.requester}
    target.participants = sorted({*target.participants, *extra})
    ticket.status, ticket.merged_into, ticket.awaiting_reaction = "closed", target.tid, False
    session.expire(ticket, ["messages", "deadlines"])
    session.expire(target, ["messages", "deadlines"])
