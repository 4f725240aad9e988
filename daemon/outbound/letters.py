"""Letters as rows: rendering, MIME, the caps on automatic letters; what letters say.

Each letter is rendered from a Jinja2 template in `daemon/templates/emails/`
(`client/…` for clients, `staff/…` for staff), built into MIME once, and queued
as an `Outgoing` row plus a `Message` row on its ticket — in the caller's
transaction, so a letter is queued if and only if the ticket change it reports
is committed. The outbox worker sends it later.

Automatic letters are capped per hour (`outbound.auto_cap_per_hour`), counted per
target mailbox (case and `+tag` folded) and per sender of the letter that caused
them, so that neither a robot that strips every auto-reply header nor a stranger
rotating addresses can pull us into a mail loop or make us mail a third party.
`Notifier` (notifier.py) and `StaffLetters` (staff_letters.py) build on this.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any, NamedTuple

from jinja2 import Template
from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from daemon.config.schema import Config, StaffMember
from daemon.mail.addresses import mailbox_key
from daemon.mail.attachments import Verdict
from daemon.mail.threading_tid import tagged_subject
from daemon.outbound.advice import NO_ADVICE, Advice
from daemon.outbound.mailbuild import Outbound, build, new_message_id, one_line
from daemon.outbound.russian import duration_words
from daemon.outbound.templating import make_environment
from daemon.sla.policy import SlaPolicy
from daemon.storage import db
from daemon.storage.models import Message, Outgoing, Ticket
from daemon.tickets.completeness import MISSING_LABELS_RU
from daemon.trust.verdict import UNCHECKED, AuthVerdict


@cache
def _automatic_since(by: str) -> Select[Any]:
    """Automatic letters since a time, to one mailbox (`by` = recipient_key) or caused by
    one sender (cause_key). Built once: they run for every client letter (issue 5)."""
    o = Outgoing.__table__.c
    return select(func.count()).select_from(Outgoing.__table__).where(
        o[by] == bindparam("key"), o.automatic.is_(True), o.created_at >= bindparam("since"))


# A ticket's letters share their subjects (every acknowledgement of a ticket, every
# notification of its follow-ups): the pure `tagged_subject` is asked once for each.
cached_tagged_subject = lru_cache(maxsize=1024)(tagged_subject)


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
    deadline_stands: bool = False  # a follow-up: an earlier, unanswered deadline stands
    outage: str = ""  # the words describing a total failure: why it was proposed urgent
    reading: str = ""  # an answered ticket's reply read (§6): thanks, rating, unclear, …
    unreadable: bool = False  # the letter could not be parsed
    internal_error: bool = False  # a bug stopped the pipeline; this is its fallback
    verdicts: Sequence[Verdict] = ()
    coupon_note: str = ""  # why a coupon named in the letter could not be used
    auth: AuthVerdict = UNCHECKED  # what proves who it is from
    demoted: bool = False  # from a registered address, but proven not to be
    reply_to_ignored: str = ""  # a Reply-To the answers do not go to
    participants_added: tuple[str, ...] = ()  # copied in on the correspondence by it
    participants_refused: tuple[tuple[str, str], ...] = ()  # (address, why) not copied in
    proven_client: bool = False  # from a registered address, and proven to be
    emergency_requested: bool = False
    message_id: str | None = None
    references: tuple[str, ...] = ()
    body: str | None = None  # its text; None when it could not be read
    advice: Advice = NO_ADVICE  # scope, documentation, queue, head of support (issue 13)
    spam: dict[str, Any] | None = None  # the spam verdict (`daemon.scan.verdict`)
    infections: tuple[tuple[str, str], ...] = ()  # (file, signature) removed as malware


class LetterQueue:
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

    def automatic_last_hour(self, session: Session, by: str, address: str) -> int:
        """Automatic letters in the last hour to `address`'s mailbox (by="recipient_key")
        or caused by its letters (by="cause_key"), this transaction's included (`queue`
        writes its rows at once)."""
        since = self.now() - timedelta(hours=1)
        return int(db.rows(session, _automatic_since(by), key=mailbox_key(address),
                           since=since)[0][0])

    def may_send_automatic(self, session: Session, recipient: str, cause: str = "", *,
                           exempt: bool = False) -> bool:
        """May an automatic letter go to `recipient`, caused by a letter from `cause`?
        `exempt`: the cap does not apply (a proven registered client's new ticket)."""
        if not recipient or "@" not in recipient:
            return False
        if recipient.lower() in self.config.our_addresses():
            return False
        local = recipient.split("@", 1)[0].lower()
        if local in ("mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply"):
            return False
        if exempt:
            return True
        cap = self.config.outbound.auto_cap_per_hour
        if self.automatic_last_hour(session, "recipient_key", recipient) >= cap:
            return False
        return not cause or self.automatic_last_hour(session, "cause_key", cause) < cap

    def queue(self, session: Session, ticket: Ticket | None, kind: str, recipient: str,
              subject: str, text: str, html: str | None, *, automatic: bool = True,
              auto_submitted: str | None = "auto-replied", in_reply_to: str | None = None,
              references: tuple[str, ...] = (), cc: tuple[str, ...] = (),
              sender_name: str | None = None, cause: str = "",
              images: tuple[tuple[str, bytes], ...] = ()) -> None:
        """Queue a letter: its `Outgoing` row, and its `Message` row on the ticket, each
        written at once with one INSERT; the ticket's row must be written already.
        `cause`: the sender of the letter that made us write it (the caps count it)."""
        now = self.now()
        service = self.config.service
        ticket_id = ticket.id if ticket is not None else None
        mid = new_message_id(kind, ticket_id, service.domain)
        raw = build(Outbound(
            sender_name=sender_name or service.name,
            sender=service.address, to=recipient, subject=subject, text=text,
            html=html, message_id=mid, date=now, in_reply_to=in_reply_to,
            references=references, auto_submitted=auto_submitted, cc=cc,
            ticket_tid=ticket.tid if ticket is not None else None, images=images))
        line = one_line(subject)
        out_id = db.insert_id(session, Outgoing.__table__, dict(  # type: ignore[arg-type]
            ticket_id=ticket_id, kind=kind, automatic=automatic,
            recipient=recipient, subject=line, message_id=mid, raw=raw,
            created_at=now, next_attempt_at=now, recipient_key=mailbox_key(recipient),
            cause_key=mailbox_key(cause) if cause else None))
        if ticket is not None:
            db.insert_row(session, Message.__table__, dict(  # type: ignore[arg-type]
                ticket_id=ticket_id, direction="out", kind=kind, from_addr=service.address,
                to_addrs=[recipient, *cc], subject=line, message_id=mid, at=now,
                body_text=text, outgoing_id=out_id))
            db.expire_loaded(session, ticket, "messages")

    def missing_lines(self, ticket: Ticket) -> list[str]:
        return [MISSING_LABELS_RU[c] for c in ticket.missing_info if c in MISSING_LABELS_RU]

    def recipients_for(self, ticket: Ticket) -> list[StaffMember]:
        if ticket.assignee:
            member = self.config.staff_by_email(ticket.assignee)
            if member is not None:
                return [member]
        return [s for s in self.config.staff if s.role in ("agent", "head")]
