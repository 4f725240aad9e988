"""A staff member's reply to a ticket: commands, then the answer relayed to the client.

Only the text above the reply marker (or above the quoted notification) counts,
never the internal notification below it. Command lines at its top change the
ticket (`daemon.staff.commands`); the rest goes to the client from the support
address and meets the reaction clock. A letter with an unknown or malformed
command changes nothing and sends nothing: the staff member gets a letter saying
what was wrong, because a mistyped `#clsoe` must not reach a client as text.
A letter from a staff address that fails the configured authentication check is
not acted on either: it is kept on the ticket and the ticket is flagged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from daemon.config.schema import Config, StaffMember
from daemon.mail.reply_text import new_text_of_reply
from daemon.mail.threading_tid import parse_tid
from daemon.outbound.notifier import Incoming, Notifier
from daemon.sla.levels import CONSULTATION
from daemon.sla.policy import SlaPolicy
from daemon.staff import quarantine as held
from daemon.staff import regulation
from daemon.staff.commands import VIEW, Command, read_staff_letter
from daemon.storage.models import Message, Reaction, Ticket
from daemon.storage.quarantine import Quarantine
from daemon.trust.verdict import UNCHECKED, AuthVerdict

STANDARD_OF = {"partner-operational": "partner-standard",
               "licensee-operational": "licensee-standard"}
OPERATIONAL_OF = {v: k for k, v in STANDARD_OF.items()}


@dataclass(frozen=True)
class FromStaff:
    """A letter from a staff address on a ticket, as stored (`message`)."""

    ticket: Ticket
    message: Message
    member: StaffMember | None
    about: Incoming  # its sender, text, arrival and Message-ID
    auth: AuthVerdict = UNCHECKED  # what proves it is from the staff member


@dataclass(frozen=True)
class Desk:
    """What acting on a staff letter needs of the daemon."""

    config: Config
    sla: SlaPolicy
    notifier: Notifier
    quarantine: Quarantine | None = None  # `#spam`, `#release`
    learn: Callable[[bytes, bool], str] | None = None  # teach the spam backend (raw, spam)
    rules: regulation.Rules = regulation.Rules()  # topics, knowledge base (issue 13)


def handle_staff_letter(letter: FromStaff, session: Session, desk: Desk) -> list[str]:
    """Act on a staff letter; returns what the letter's accounting should say."""
    ticket, msg, sender = letter.ticket, letter.message, letter.about.sender
    if not believed(letter.auth, sender, desk.config):
        # Fail closed: a staff address is a claim, only a verdict proves it (issue 21).
        why = unverified_why(letter.auth, desk.config)
        msg.kind = "staff-unverified"  # kept on the ticket as an internal note
        ticket.needs_attention = True
        ticket.attention_reason = "; ".join(filter(None, [
            ticket.attention_reason, f"письмо от {sender} не прошло проверку подлинности"]))
        desk.notifier.staff_unverified(session, ticket, sender, why)
        return [f"staff letter not authenticated ({letter.auth.verdict}); "
                "not relayed, no command run"]
    staff = read_staff_letter(new_text_of_reply(letter.about.body or ""))
    problems = list(staff.problems) or check(staff.commands, ticket, session, desk) + \
        held.problems(staff.commands, desk.quarantine, session, desk.config.service.tid_prefix)
    if problems:
        msg.kind = "staff-rejected"
        desk.notifier.command_problems(session, ticket, letter.about, problems)
        return ["staff letter refused: " + "; ".join(problems)]
    names = [c.name for c in staff.commands]
    msg.body_text = staff.text
    received = _received(letter)
    notes = []
    # Participants first: an answer written with `#cc add` goes to the one added too.
    first = [c for c in staff.commands if c.name == "cc"]
    for command in first:
        apply(command, ticket, received, session, desk, sender)
    # `#faq` and `#pending REASON` add their paragraphs to the answer (issue 13).
    answer = regulation.client_text(staff.text, staff.commands, ticket, desk.rules,
                                    desk.notifier)
    if "note" in names:
        msg.kind = "note"  # internal: kept on the ticket, never sent
    elif answer:
        desk.notifier.relay_staff_reply(session, ticket, letter.member, answer)
        _record_reaction(ticket, session, received)
    elif not staff.commands:
        notes.append("staff letter with nothing above the quote; not relayed")
    for command in staff.commands:
        if command not in first:
            apply(command, ticket, received, session, desk, sender)
    asked = tuple(c for c in staff.commands if c.name in held.QUARANTINE_COMMANDS)
    if asked and desk.quarantine is not None:
        done, listing = held.run(asked, desk.quarantine, desk.learn, received, session,
                                 desk.config.service.tid_prefix, sender)
        desk.notifier.quarantine_report(session, ticket, letter.about, done, listing)
    if staff.commands:
        notes.append("commands: " + " ".join(f"#{c.name} {c.arg}".strip()
                                             for c in staff.commands))
    return notes


def believed(auth: AuthVerdict, sender: str, config: Config) -> bool:
    """A letter from a staff address is acted on only when proven (or our MTA saw the
    staff member log in), unless the admin switched that off."""
    return auth.proven or auth.submitted_by(sender) or config.auth.accept_unauthenticated_staff


def unverified_why(auth: AuthVerdict, config: Config) -> str:
    """Why a staff letter was not believed, in Russian, for the staff member."""
    if not (config.auth.trusted_ids or config.security.trusted_authserv_ids
            or config.auth.verify):
        return ("Проверка подлинности писем сотрудников не настроена: в конфигурации нет "
                "[auth] trusted_authserv_id, а собственная проверка DKIM/DMARC "
                "([auth] verify) выключена.")
    if auth.forged:
        return (f"Проверка показала подделку: DMARC {auth.dmarc}, DKIM {auth.dkim}, "
                f"SPF {auth.spf} для домена {auth.domain or '(не указан)'}.")
    return (f"Подтверждения нет: DMARC {auth.dmarc}, DKIM {auth.dkim}, SPF {auth.spf} "
            f"для домена {auth.domain or '(не указан)'}.")


def _received(letter: FromStaff) -> datetime:
    assert letter.about.received_at is not None
    return letter.about.received_at


def _record_reaction(ticket: Ticket, session: Session, now: datetime) -> None:
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    session.execute(update(Reaction).where(Reaction.ticket_id == ticket.id,
                                           Reaction.met_at.is_(None)).values(met_at=now))
    ticket.awaiting_reaction = False
    if ticket.status == "new":
        ticket.status = "open"


def check(commands: tuple[Command, ...], ticket: Ticket, session: Session,
          desk: Desk) -> list[str]:
    """What is wrong with commands that parsed: unknown level, stranger, bad TID."""
    problems = []
    levels = desk.sla.levels
    for c in commands:
        if c.name in VIEW:
            problems.append(f"#{c.name}: команды #list, #show и #find пишутся в отдельном "
                            "письме, без других команд и без ответа клиенту")
        elif c.name == "sla" and c.arg not in levels:
            problems.append(f"#sla {c.arg}: такого уровня нет; есть: {', '.join(levels)}")
        elif c.name == "assign" and desk.config.staff_by_email(c.arg) is None:
            problems.append(f"#assign {c.arg}: это не адрес сотрудника поддержки")
        elif c.name == "merge":
            number = parse_tid(c.arg.strip("[]"), desk.config.service.tid_prefix)
            target = session.get(Ticket, number) if number is not None else None
            if target is None:
                problems.append(f"#merge {c.arg}: обращения с таким номером нет")
            elif target.id == ticket.id:
                problems.append(f"#merge {c.arg}: нельзя объединить обращение с самим собой")
        elif c.name == "cc":
            problems += _cc_problems(c.arg, ticket, desk.config)
        elif c.name in regulation.NAMES:
            problems += regulation.problems(c, desk.rules)
        elif c.name == "urgent" and ticket.sla_level not in (*OPERATIONAL_OF, *STANDARD_OF):
            problems.append(f"#urgent: уровень {ticket.sla_level} не предусматривает "
                            "оперативной поддержки (только партнёры и лицензиаты, §3.1, §3.3)")
    return problems


def _cc_problems(arg: str, ticket: Ticket, config: Config) -> list[str]:
    words = arg.split()
    if len(words) != 2 or words[0] not in ("add", "remove") or "@" not in words[1]:
        return [f"#cc {arg}: пишется #cc add АДРЕС или #cc remove АДРЕС"]
    action, address = words[0], words[1].lower()
    people = ticket.participants or []
    if action == "remove" and address not in people:
        return [f"#cc remove {address}: этого адреса нет среди участников"]
    if action == "add" and (address in config.our_addresses() or address == ticket.requester):
        return [f"#cc add {address}: это адрес поддержки или самого заявителя"]
    if action == "add" and address not in people and \
            len(people) >= config.tickets.max_participants:
        return [f"#cc add {address}: у обращения уже {len(people)} участников "
                f"(предел [tickets] max_participants)"]
    return []


def apply(c: Command, ticket: Ticket, now: datetime, session: Session, desk: Desk,
          actor: str = "") -> None:
    if c.name == "close":
        ticket.status, ticket.closed_at, ticket.awaiting_reaction = "closed", now, False
        desk.notifier.closed(session, ticket)
    elif c.name in regulation.NAMES:  # #topic, #pending, #faq
        regulation.apply(c, ticket, now, actor, desk.rules)
        if c.name == "topic":
            _level_for_topic(ticket, c.arg.lower(), session, desk)
    elif c.name == "assign":
        ticket.assignee = c.arg.lower()
    elif c.name == "sla":
        retime(ticket, c.arg, session, desk.sla)
    elif c.name == "dev":
        ticket.developers_involved = True
        # A special request stays special, its clock now on working hours (§3.6: in
        # working time developers may join it); anything else goes to development.
        retime(ticket, "special" if ticket.sla_level == "special" else "development",
               session, desk.sla)
    elif c.name == "urgent":
        ticket.emergency = True
        retime(ticket, OPERATIONAL_OF.get(ticket.sla_level, ticket.sla_level), session, desk.sla)
    elif c.name == "standard":
        ticket.emergency = False
        retime(ticket, STANDARD_OF.get(ticket.sla_level, ticket.sla_level), session, desk.sla)
    elif c.name == "merge":
        target, gained = merge(ticket, c.arg, session, desk.config.service.tid_prefix)
        desk.notifier.merged(session, ticket, target, gained, actor)
    elif c.name == "cc":
        action, address = c.arg.split()
        people = list(ticket.participants or [])
        ticket.participants = ([*people, address.lower()] if action == "add"
                               else [a for a in people if a != address.lower()])
    elif c.name == "reopen":  # §6: staff decide that a closed ticket needs more work
        if ticket.status == "closed" and ticket.merged_into is None:
            ticket.status, ticket.closed_at = "open", None
    elif c.name == "resume":
        ticket.automatic_stopped_at = None  # a reply loop stopped them; staff fixed it


def _level_for_topic(ticket: Ticket, code: str, session: Session, desk: Desk) -> None:
    """§3.8 as staff's topic says: a topic in scope gives back the level the scope rule
    took (the classifier was wrong); one out of scope moves the ticket to consultation,
    as the scope step does for a new letter (a special request keeps its coupon)."""
    if code not in desk.rules.out_of_scope:
        if ticket.level_before_scope and ticket.sla_level == CONSULTATION:
            level, ticket.level_before_scope = ticket.level_before_scope, ""
            ticket.emergency = level.endswith("-operational")
            retime(ticket, level, session, desk.sla)
    elif ticket.sla_level not in (CONSULTATION, "special") and CONSULTATION in desk.sla.levels:
        ticket.level_before_scope, ticket.emergency = ticket.sla_level, False
        retime(ticket, CONSULTATION, session, desk.sla)


def retime(ticket: Ticket, level: str, session: Session, sla: SlaPolicy) -> None:
    """A new level: every unanswered reaction clock keeps its start and gets the new
    level's deadline; the ticket shows the earliest of them (§2.3)."""
    ticket.sla_level = level
    running = list(session.scalars(select(Reaction).where(
        Reaction.ticket_id == ticket.id, Reaction.met_at.is_(None)).order_by(Reaction.id)))
    if not running:
        return
    for clock in running:
        _, clock.due_at = sla.deadline(level, clock.started_at,
                                       developers_involved=ticket.developers_involved)
        clock.sla_level = level
    first = min(running, key=lambda r: (r.due_at, r.id))
    ticket.clock_started_at, ticket.reaction_due = first.started_at, first.due_at
    ticket.warn_due = sla.warn_time(level, first.started_at,
                                    developers_involved=ticket.developers_involved)
    ticket.warned_at = ticket.breach_notified_at = None


def merge(ticket: Ticket, tid: str, session: Session, prefix: str) -> tuple[Ticket, list[str]]:
    """Move this ticket's letters into `tid` and close this one as merged; returns the
    target and the addresses it gains as participants."""
    number = parse_tid(tid.strip("[]"), prefix)
    target = session.get(Ticket, number)
    assert target is not None  # checked before
    session.flush()
    session.execute(update(Message).where(Message.ticket_id == ticket.id)
                    .values(ticket_id=target.id))
    session.execute(update(Reaction).where(Reaction.ticket_id == ticket.id)
                    .values(ticket_id=target.id))
    extra = {ticket.requester, *ticket.participants} - {target.requester} - {""}
    gained = sorted(extra - set(target.participants or []))
    target.participants = sorted({*target.participants, *extra})
    ticket.status, ticket.merged_into, ticket.awaiting_reaction = "closed", target.tid, False
    session.expire(ticket, ["messages", "deadlines"])
    session.expire(target, ["messages", "deadlines"])
    return target, gained
