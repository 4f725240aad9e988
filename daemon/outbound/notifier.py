"""The letters clients get: acknowledgements (§5.4, §5.5), answers relayed from staff,
closing and rating letters (§6), transcripts (§5.5).

`Notifier` is the one object the pipeline and the sweep ask for any letter; the
staff's letters are `StaffLetters`, the rows and caps `letters.LetterQueue`.

A ticket on which a robot was caught in a loop (`Ticket.automatic_stopped_at`,
the pipeline's `reply_loop` step) gets no automatic letter at all: no
acknowledgement, rating thanks or transcript.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.config.notices import active_notices
from daemon.config.schema import StaffMember
from daemon.mail.secrets import mask_secrets
from daemon.mail.threading_tid import tagged_subject
from daemon.outbound.advice import NO_ADVICE
from daemon.outbound.letters import Incoming, LevelView, cached_tagged_subject, make_environment
from daemon.outbound.russian import day_words, msk
from daemon.outbound.staff_letters import StaffLetters
from daemon.sla.schedule import days_that_differ
from daemon.storage.models import Coupon, Message, Org, Ticket

__all__ = ["Incoming", "LevelView", "Notifier", "make_environment"]


class Notifier(StaffLetters):
    def acknowledge(self, session: Session, ticket: Ticket, letter: Incoming, *,
                    resend: bool = False) -> bool:
        """The acknowledgement of §5.4/§5.5. False when it may not be sent."""
        recipient = ticket.requester if resend else (letter.requester or ticket.requester)
        # §5.11: the registration letter is the client's proof of acceptance; a proven
        # registered client's new ticket is acknowledged whatever the cap (issue 21).
        exempt = letter.new_ticket and letter.proven_client and not resend
        if ticket.automatic_stopped_at is not None or \
                not self.may_send_automatic(session, recipient, letter.sender, exempt=exempt):
            return False
        tz = self.config.tz
        level = self.level_view(ticket.sla_level)
        org = session.get(Org, ticket.org_id) if ticket.org_id is not None else None
        assignee = self.config.staff_by_email(ticket.assignee) if ticket.assignee else None
        verdicts = [] if resend else letter.verdicts
        entitled = ticket.identified_by in ("email", "domain") and not letter.demoted
        outside = (not resend and ticket.clock_started_at is not None
                   and letter.received_at is not None
                   and ticket.clock_started_at > letter.received_at)
        context = dict(
            name=ticket.requester_name, ticket=ticket, level=level, resend=resend,
            followup=not letter.new_ticket and not resend, reopened=letter.reopened,
            deadline_stands=letter.deadline_stands and not resend,
            due=msk(ticket.reaction_due, tz) if ticket.reaction_due else "",
            assignee=assignee, show_phone=ticket.sla_level == "special",
            outside_hours=outside,
            clock_start=msk(ticket.clock_started_at, tz) if ticket.clock_started_at else "",
            unreadable=letter.unreadable and not resend,
            internal_error=letter.internal_error and not resend,
            verdicts=verdicts, any_rejected=any(v.verdict == "rejected" for v in verdicts),
            infected=[] if resend else [name for name, _ in letter.infections],
            missing=[] if resend or not letter.new_ticket else self.missing_lines(ticket),
            # No oracle for strangers (issue 21): the organisation is named only to a
            # sender entitled to it, and every other sender reads the same paragraph,
            # whatever INN or login they wrote.
            org=org.name if org is not None and entitled else "",
            not_entitled=letter.new_ticket and not resend and not entitled
            and not letter.demoted,
            auth_failed=letter.new_ticket and not resend and letter.demoted,
            auth_domain=letter.auth.domain,
            emergency=ticket.emergency and letter.new_ticket and not resend,
            outage=bool(letter.outage),
            coupon=(session.get(Coupon, ticket.coupon_id)
                    if ticket.coupon_id is not None and letter.new_ticket and not resend
                    else None),
            coupon_note=letter.coupon_note if letter.new_ticket and not resend else "",
            schedule=self.schedule_lines(ticket),
            notices=self.notices_at(letter.received_at or self.now()),
            advice=NO_ADVICE if resend else letter.advice,
        )
        text = self.render("client/ack.txt.j2", **context)
        html = self.render("client/ack.html.j2", **context)
        kind = "ack-resend" if resend else ("ack" if letter.new_ticket else "ack-followup")
        self.queue(session, ticket, kind, recipient,
                   cached_tagged_subject(ticket.tid or "", ticket.subject), text, html,
                   in_reply_to=letter.message_id, references=letter.references,
                   cause=letter.sender)
        return True

    def schedule_lines(self, ticket: Ticket) -> list[str]:
        """§2.1, §7: the days with other hours than usual between the clock's start and
        the deadline, which the deadline was counted on (a shortened day, a holiday, an
        override), in words; none for a level on calendar time."""
        start, due = ticket.clock_started_at, ticket.reaction_due
        if start is None or due is None or \
                self.sla.level(ticket.sla_level).clock.value == "calendar":
            return []
        return [day_words(d.day, d.kind, d.hours)
                for d in days_that_differ(self.sla.calendar, start, due)]

    def notices_at(self, moment: datetime) -> list[str]:
        """§7: the `[[notice]]` texts whose window holds `moment`."""
        return active_notices(self.config, moment)

    def closed(self, session: Session, ticket: Ticket) -> None:
        """§6: the client is asked to rate; §5.3: reminded to change shared credentials."""
        text = self.render("client/closed.txt.j2", ticket=ticket)
        self.queue(session, ticket, "closed", ticket.requester,
                   tagged_subject(ticket.tid or "", f"Обращение закрыто: {ticket.subject}"),
                   text, None, automatic=False, auto_submitted="auto-generated")

    def rating_thanks(self, session: Session, ticket: Ticket, letter: Incoming,
                      rating: int) -> None:
        if ticket.automatic_stopped_at is not None or \
                not self.may_send_automatic(session, ticket.requester, letter.sender):
            return
        text = self.render("client/rating_thanks.txt.j2", ticket=ticket, rating=rating)
        self.queue(session, ticket, "rating-thanks", ticket.requester,
                   tagged_subject(ticket.tid or "", ticket.subject), text, None,
                   in_reply_to=letter.message_id, references=letter.references,
                   cause=letter.sender)

    def transcript(self, session: Session, ticket: Ticket, letter: Incoming) -> None:
        """§5.5: the whole correspondence, to the ticket's requester only; access details
        in it masked (§5.3: they are not mailed around again)."""
        if ticket.automatic_stopped_at is not None:
            return  # a reply loop: nothing automatic goes to this ticket
        tz = self.config.tz
        shown = [m for m in ticket.messages if m.kind in ("client", "reply")]
        messages = [{"when": msk(m.at, tz), "direction": m.direction, "from_addr": m.from_addr,
                     "subject": m.subject, "body": mask_secrets(m.body_text.strip()),
                     "attachments": [a.filename for a in m.attachments]} for m in shown]
        text = self.render("client/transcript.txt.j2", ticket=ticket, messages=messages)
        self.queue(session, ticket, "transcript", ticket.requester,
                   tagged_subject(ticket.tid or "", f"Переписка по обращению: {ticket.subject}"),
                   text, None, in_reply_to=letter.message_id, references=letter.references)

    def token_refused(self, session: Session, *, sections: tuple[str, ...], account: str,
                      server: str, token_url: str, token_file: str, error: str) -> list[str]:
        """The admins hear that an OAuth2 refresh token can no longer be renewed, and what
        stopped with it (`sections`: "imap", "outbound" or both, sharing the token): the
        head of support (everyone on the staff list when nobody is head). Their addresses."""
        heads = [s for s in self.config.staff if s.role == "head"] or list(self.config.staff)
        mailbox, relay = "imap" in sections, "outbound" in sections
        text = self.render("staff/oauth_refused.txt.j2", mailbox=mailbox, relay=relay,
                           account=account, server=server, token_url=token_url,
                           token_file=token_file, error=error)
        what = "Остановлены чтение и отправка почты" if mailbox and relay else \
            "Остановлено чтение почты (IMAP)" if mailbox else "Остановлена отправка писем (SMTP)"
        subject = f"{what}: не обновляется токен OAuth2 для {account}"
        for member in heads:
            self.queue(session, None, "oauth-refused", member.email, subject, text, None,
                       automatic=False, auto_submitted="auto-generated")
        return [m.email for m in heads]

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
