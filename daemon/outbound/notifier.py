"""The letters the daemon writes: acknowledgements, staff notifications, relayed replies.

Each letter is rendered from a Jinja2 template in `templates/emails/`
(`client/…` for clients, `staff/…` for staff), built into MIME once, and queued
as an `Outgoing` row plus a `Message` row on its ticket — in the caller's
transaction, so a letter is queued if and only if the ticket change it reports
is committed. The outbox worker sends it later.

Automatic letters to one address are capped per hour (`outbound.auto_cap_per_hour`)
so that even a robot that strips every auto-reply header cannot pull us into a
mail loop; and a ticket on which such a robot was caught in a loop
(`Ticket.automatic_stopped_at`, the pipeline's `reply_loop` step) gets no automatic
letter at all: no acknowledgement, rating thanks or transcript.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any, NamedTuple

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape
from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from daemon.config.schema import Config, StaffMember
from daemon.mail.attachments import Verdict
from daemon.mail.reply_text import REPLY_MARKER
from daemon.mail.threading_tid import tagged_subject
from daemon.outbound.mailbuild import Outbound, build, new_message_id, one_line
from daemon.outbound.russian import duration_words, msk
from daemon.sla.policy import SlaPolicy
from daemon.storage import db
from daemon.storage.models import Coupon, Message, Org, Outgoing, Ticket
from daemon.tickets.completeness import MISSING_LABELS_RU


@cache
def _automatic_since() -> Select[Any]:
    """Built once: it runs for every client letter (issue 5)."""
    o = Outgoing.__table__.c
    return select(func.count()).select_from(Outgoing.__table__).where(
        o.recipient == bindparam("recipient"), o.automatic.is_(True),
        o.created_at >= bindparam("since"))


# A ticket's letters share their subjects (every acknowledgement of a ticket, every
# notification of its follow-ups): the pure `tagged_subject` is asked once for each.
_tagged_subject = lru_cache(maxsize=1024)(tagged_subject)


def make_environment(config: Config) -> Environment:
    return Environment(loader=FileSystemLoader(str(config.templates_dir)),
                       autoescape=select_autoescape(["html.j2"]),
                       undefined=StrictUndefined, keep_trailing_newline=True,
                       # Templates are read once per process (SIGHUP reads them anew):
                       # new templates deployed under old code must not meet it.
                       auto_reload=False,
                       trim_blocks=False, lstrip_blocks=False)


class LevelView(NamedTuple):
    """What the templates show of an SLA level. Attributes, not a dict's keys: Jinja
    looks `level.title` up as an attribute first, and a dict's miss is an exception."""

    code: str
    title: str
    clause: str
    reaction_words: str

    # It was a dict: a customised template may still read it as one.
    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default) if key in self._fields else default

    def items(self) -> Any:
        return self._asdict().items()


@dataclass(frozen=True)
class Incoming:
    """What the daemon's letters say of the letter that caused them: the pipeline
    builds it from its context (`Letter.incoming`), the notifier reads nothing else."""

    sender: str
    requester: str = ""
    requester_name: str = ""
    received_at: datetime | None = None
    new_ticket: bool = False
    reopened: bool = False
    unreadable: bool = False  # the letter could not be parsed
    internal_error: bool = False  # a bug stopped the pipeline; this is its fallback
    verdicts: Sequence[Verdict] = ()
    coupon_note: str = ""  # why a coupon named in the letter could not be used
    emergency_requested: bool = False
    message_id: str | None = None
    references: tuple[str, ...] = ()
    body: str | None = None  # its text; None when it could not be read


class Notifier:
    """Built anew with the config (`App.reconfigure`), so it keeps what it derives from
    the config and the SLA levels: the templates, the levels' views."""

    def __init__(self, config: Config, sla: SlaPolicy, clock: Callable[[], datetime]) -> None:
        self.config = config
        self.sla = sla
        self.now = clock
        self.env = make_environment(config)
        self._templates: dict[str, Template] = {}
        self._levels: dict[str, LevelView] = {}

    # ------------------------------------------------------------ helpers

    def render(self, template: str, **context: Any) -> str:
        """The template, looked up once, rendered with `service` and `calendar`."""
        t = self._templates.get(template)
        if t is None:
            t = self._templates[template] = self.env.get_template(
                template, globals={"service": self.config.service,
                                   "calendar": self.config.calendar})
        return t.render(context)

    def level_view(self, code: str) -> LevelView:
        view = self._levels.get(code)
        if view is None:
            level = self.sla.level(code)
            view = self._levels[code] = LevelView(
                code, level.title_ru, level.clause,
                duration_words(level.reaction, level.clock.value))
        return view

    def automatic_sent_last_hour(self, session: Session, recipient: str) -> int:
        """Automatic letters to `recipient` in the last hour, this transaction's included
        (`queue` writes its rows at once)."""
        since = self.now() - timedelta(hours=1)
        return int(db.rows(session, _automatic_since(), recipient=recipient, since=since)[0][0])

    def may_send_automatic(self, session: Session, recipient: str) -> bool:
        if not recipient or "@" not in recipient:
            return False
        if recipient.lower() in self.config.our_addresses():
            return False
        local = recipient.split("@", 1)[0].lower()
        if local in ("mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply"):
            return False
        return self.automatic_sent_last_hour(session, recipient) < \
            self.config.outbound.auto_cap_per_hour

    def queue(self, session: Session, ticket: Ticket | None, kind: str, recipient: str,
              subject: str, text: str, html: str | None, *, automatic: bool = True,
              auto_submitted: str | None = "auto-replied", in_reply_to: str | None = None,
              references: tuple[str, ...] = (), cc: tuple[str, ...] = (),
              sender_name: str | None = None) -> None:
        """Queue a letter: its `Outgoing` row, and its `Message` row on the ticket, each
        written at once with one INSERT; the ticket's row must be written already."""
        now = self.now()
        service = self.config.service
        ticket_id = ticket.id if ticket is not None else None
        mid = new_message_id(kind, ticket_id, service.domain)
        raw = build(Outbound(
            sender_name=sender_name or service.name,
            sender=service.address, to=recipient, subject=subject, text=text,
            html=html, message_id=mid, date=now, in_reply_to=in_reply_to,
            references=references, auto_submitted=auto_submitted, cc=cc,
            ticket_tid=ticket.tid if ticket is not None else None))
        line = one_line(subject)
        out_id = db.insert_id(session, Outgoing.__table__, dict(  # type: ignore[arg-type]
            ticket_id=ticket_id, kind=kind, automatic=automatic,
            recipient=recipient, subject=line, message_id=mid, raw=raw,
            created_at=now, next_attempt_at=now))
        if ticket is not None:
            db.insert_row(session, Message.__table__, dict(  # type: ignore[arg-type]
                ticket_id=ticket_id, direction="out", kind=kind, from_addr=service.address,
                to_addrs=[recipient, *cc], subject=line, message_id=mid, at=now,
                body_text=text, outgoing_id=out_id))
            db.expire_loaded(session, ticket, "messages")

    # ------------------------------------------------------------ letters

    def acknowledge(self, session: Session, ticket: Ticket, letter: Incoming, *,
                    resend: bool = False) -> bool:
        """The acknowledgement of §5.4/§5.5. False when it may not be sent."""
        recipient = ticket.requester if resend else (letter.requester or ticket.requester)
        if ticket.automatic_stopped_at is not None or \
                not self.may_send_automatic(session, recipient):
            return False
        tz = self.config.tz
        level = self.level_view(ticket.sla_level)
        org = session.get(Org, ticket.org_id) if ticket.org_id is not None else None
        assignee = self.config.staff_by_email(ticket.assignee) if ticket.assignee else None
        verdicts = [] if resend else letter.verdicts
        outside = (not resend and ticket.clock_started_at is not None
                   and letter.received_at is not None
                   and ticket.clock_started_at > letter.received_at)
        context = dict(
            name=ticket.requester_name, ticket=ticket, level=level, resend=resend,
            followup=not letter.new_ticket and not resend, reopened=letter.reopened,
            due=msk(ticket.reaction_due, tz) if ticket.reaction_due else "",
            assignee=assignee, show_phone=ticket.sla_level == "special",
            outside_hours=outside,
            clock_start=msk(ticket.clock_started_at, tz) if ticket.clock_started_at else "",
            unreadable=letter.unreadable and not resend,
            internal_error=letter.internal_error and not resend,
            verdicts=verdicts, any_rejected=any(v.verdict == "rejected" for v in verdicts),
            missing=[] if resend or not letter.new_ticket else self.missing_lines(ticket),
            unidentified=letter.new_ticket and not resend and ticket.org_id is None,
            org=org.name if org is not None else "",
            not_entitled=(letter.new_ticket and not resend and org is not None
                          and ticket.identified_by not in ("email", "domain")
                          and org.category in ("partner", "licensee")),
            emergency=ticket.emergency and letter.new_ticket and not resend,
            coupon=(session.get(Coupon, ticket.coupon_id)
                    if ticket.coupon_id is not None and letter.new_ticket and not resend
                    else None),
            coupon_note=letter.coupon_note if letter.new_ticket and not resend else "",
        )
        text = self.render("client/ack.txt.j2", **context)
        html = self.render("client/ack.html.j2", **context)
        kind = "ack-resend" if resend else ("ack" if letter.new_ticket else "ack-followup")
        self.queue(session, ticket, kind, recipient,
                   _tagged_subject(ticket.tid or "", ticket.subject), text, html,
                   in_reply_to=letter.message_id, references=letter.references)
        return True

    def missing_lines(self, ticket: Ticket) -> list[str]:
        return [MISSING_LABELS_RU[c] for c in ticket.missing_info if c in MISSING_LABELS_RU]

    def recipients_for(self, ticket: Ticket) -> list[StaffMember]:
        if ticket.assignee:
            member = self.config.staff_by_email(ticket.assignee)
            if member is not None:
                return [member]
        return [s for s in self.config.staff if s.role in ("agent", "head")]

    def notify_staff(self, session: Session, ticket: Ticket, letter: Incoming) -> None:
        recipients = self.recipients_for(ticket)
        if not recipients:
            return
        body = letter.body if letter.body is not None else "(текст письма не удалось разобрать)"
        # One text for every recipient: nothing in it depends on who reads it.
        text = self.render(
            "staff/notification.txt.j2", reply_marker=REPLY_MARKER, ticket=ticket,
            new_ticket=letter.new_ticket, reopened=letter.reopened,
            sender=f"{letter.requester_name} <{letter.sender}>".strip(),
            level=self.level_view(ticket.sla_level),
            due=msk(ticket.reaction_due, self.config.tz) if ticket.reaction_due else "",
            emergency_requested=letter.emergency_requested,
            missing=self.missing_lines(ticket) if letter.new_ticket else [],
            verdicts=letter.verdicts, body=body[:100_000])
        prefix = "Новое обращение" if letter.new_ticket else "Письмо клиента"
        subject = _tagged_subject(ticket.tid or "", f"{prefix}: {ticket.subject or '(без темы)'}")
        for member in recipients:
            self.queue(session, ticket, "notification", member.email, subject, text,
                       None, automatic=False, auto_submitted="auto-generated")

    def _deadline_letter(self, session: Session, ticket: Ticket, recipients: list[StaffMember],
                         missed: bool) -> None:
        tz = self.config.tz
        due = msk(ticket.reaction_due, tz) if ticket.reaction_due else ""
        left = ""
        if not missed and ticket.reaction_due is not None:
            calendar_clock = self.sla.level(ticket.sla_level).clock.value == "calendar"
            rest = self.sla.time_left(ticket.sla_level, self.now(), ticket.reaction_due)
            minutes = max(1, int(rest.total_seconds() // 60))
            left = duration_words(timedelta(minutes=minutes) if minutes % 60
                                  else timedelta(hours=minutes // 60),
                                  "calendar" if calendar_clock else "working")
        text = self.render("staff/deadline.txt.j2", ticket=ticket, missed=missed, due=due,
                           left=left, level=self.level_view(ticket.sla_level))
        what = "Срок реакции истёк" if missed else "Приближается срок реакции"
        for member in recipients:
            self.queue(session, ticket, "breach" if missed else "warning", member.email,
                       tagged_subject(ticket.tid or "",
                                      f"{what}: {ticket.subject or '(без темы)'}"),
                       text, None, automatic=False, auto_submitted="auto-generated")

    def warn_assignee(self, session: Session, ticket: Ticket) -> None:
        self._deadline_letter(session, ticket, self.recipients_for(ticket), missed=False)

    def report_breach(self, session: Session, ticket: Ticket) -> None:
        """§6: the head of support hears of a missed deadline (the assignee too)."""
        heads = [s for s in self.config.staff if s.role == "head"]
        people = {m.email.lower(): m for m in [*heads, *self.recipients_for(ticket)]}
        self._deadline_letter(session, ticket, list(people.values()), missed=True)

    def command_problems(self, session: Session, ticket: Ticket, letter: Incoming,
                         problems: list[str]) -> None:
        text = self.render("staff/command_problems.txt.j2", ticket=ticket, problems=problems)
        self.queue(session, ticket, "command-error", letter.sender,
                   tagged_subject(ticket.tid or "", f"Команды не выполнены: {ticket.subject}"),
                   text, None, automatic=False, auto_submitted="auto-replied",
                   in_reply_to=letter.message_id, references=letter.references)

    def closed(self, session: Session, ticket: Ticket) -> None:
        """§6: the client is asked to rate; §5.3: reminded to change shared credentials."""
        text = self.render("client/closed.txt.j2", ticket=ticket)
        self.queue(session, ticket, "closed", ticket.requester,
                   tagged_subject(ticket.tid or "", f"Обращение закрыто: {ticket.subject}"),
                   text, None, automatic=False, auto_submitted="auto-generated")

    def rating_thanks(self, session: Session, ticket: Ticket, letter: Incoming,
                      rating: int) -> None:
        if ticket.automatic_stopped_at is not None or \
                not self.may_send_automatic(session, ticket.requester):
            return
        text = self.render("client/rating_thanks.txt.j2", ticket=ticket, rating=rating)
        self.queue(session, ticket, "rating-thanks", ticket.requester,
                   tagged_subject(ticket.tid or "", ticket.subject), text, None,
                   in_reply_to=letter.message_id, references=letter.references)

    def transcript(self, session: Session, ticket: Ticket, letter: Incoming) -> None:
        """§5.5: the whole correspondence, to the ticket's requester only."""
        if ticket.automatic_stopped_at is not None:
            return  # a reply loop: nothing automatic goes to this ticket
        tz = self.config.tz
        shown = [m for m in ticket.messages if m.kind in ("client", "reply")]
        messages = [{"when": msk(m.at, tz), "direction": m.direction, "from_addr": m.from_addr,
                     "subject": m.subject, "body": m.body_text.strip(),
                     "attachments": [a.filename for a in m.attachments]} for m in shown]
        text = self.render("client/transcript.txt.j2", ticket=ticket, messages=messages)
        self.queue(session, ticket, "transcript", ticket.requester,
                   tagged_subject(ticket.tid or "", f"Переписка по обращению: {ticket.subject}"),
                   text, None, in_reply_to=letter.message_id, references=letter.references)

    def relay_staff_reply(self, session: Session, ticket: Ticket, member: StaffMember | None,
                          text: str) -> None:
        body = self.render("client/reply.txt.j2", ticket=ticket, text=text)
        refs = tuple(r for r in session.scalars(select(Message.message_id).where(
            Message.ticket_id == ticket.id, Message.direction == "in",
            Message.kind == "client", Message.message_id.is_not(None))
            .order_by(Message.id)) if r)
        name = f"{member.name}, {self.config.service.name}" if member else None
        self.queue(session, ticket, "reply", ticket.requester,
                   tagged_subject(ticket.tid or "", ticket.subject), body, None,
                   automatic=False, auto_submitted=None,
                   in_reply_to=refs[-1] if refs else None, references=refs[:-1],
                   cc=tuple(ticket.participants or ()), sender_name=name)
