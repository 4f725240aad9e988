"""The letters staff get: notifications, deadline warnings, refusals, merges.

Staff notifications about one sender to one agent are folded (issue 21): at most one
in `[abuse] notification_fold`; the letters that came meanwhile are on their
tickets, and the next notification says how many there were.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from daemon.config.schema import StaffMember, parse_duration
from daemon.mail.addresses import mailbox_key
from daemon.mail.reply_text import REPLY_MARKER
from daemon.mail.secrets import mask_secrets
from daemon.mail.threading_tid import tagged_subject
from daemon.outbound.letters import Incoming, LetterQueue, cached_tagged_subject
from daemon.outbound.russian import duration_words, msk
from daemon.storage import db
from daemon.storage.models import NotificationFold, Outgoing, Ticket

_O = Outgoing.__table__.c
_F = NotificationFold.__table__.c
_LAST_NOTIFICATION = select(func.max(_O.created_at)).where(
    _O.kind == "notification", _O.recipient_key == bindparam("recipient"),
    _O.cause_key == bindparam("cause"))
_FOLDED_SINCE = select(Ticket.__table__.c.tid).join_from(
    NotificationFold.__table__, Ticket.__table__, _F.ticket_id == Ticket.__table__.c.id).where(
    _F.recipient_key == bindparam("recipient"), _F.cause_key == bindparam("cause"),
    _F.created_at > bindparam("since")).order_by(_F.id)


class StaffLetters(LetterQueue):
    def notify_staff(self, session: Session, ticket: Ticket, letter: Incoming) -> None:
        recipients = self.recipients_for(ticket)
        if not recipients:
            return
        window = parse_duration(self.config.abuse.notification_fold)
        prefix = "Новое обращение" if letter.new_ticket else "Письмо клиента"
        subject = cached_tagged_subject(ticket.tid or "",
                                        f"{prefix}: {ticket.subject or '(без темы)'}")
        texts: dict[tuple[str, ...], str] = {}  # by the TIDs of the letters folded into it
        for member in recipients:
            folded = self._folded(session, member.email, letter.sender, window)
            if folded is None:  # one went to this agent about this sender a moment ago
                self._fold(session, ticket, member.email, letter.sender)
                continue
            if folded not in texts:
                texts[folded] = self._notification(ticket, letter, list(folded))
            self.queue(session, ticket, "notification", member.email, subject,
                       texts[folded], None, automatic=False,
                       auto_submitted="auto-generated", cause=letter.sender)

    def _folded(self, session: Session, recipient: str, sender: str,
                window: timedelta) -> tuple[str, ...] | None:
        """None when a notification to `recipient` about `sender` went out within
        `window` (this one folds); else the TIDs of the letters folded since the last."""
        if not sender:
            return ()
        keys = {"recipient": mailbox_key(recipient), "cause": mailbox_key(sender)}
        last = session.scalar(_LAST_NOTIFICATION, keys)  # typed: an aware datetime
        now = self.now()
        if last is not None and now - window <= last <= now:  # (a clock set back: no fold)
            return None
        return tuple(str(r[0]) for r in db.rows(
            session, _FOLDED_SINCE, **keys, since=last or datetime.min.replace(tzinfo=UTC)))

    def _fold(self, session: Session, ticket: Ticket, recipient: str, sender: str) -> None:
        """A notification not sent: remembered, and counted by the next one sent."""
        db.insert_row(session, NotificationFold.__table__, dict(  # type: ignore[arg-type]
            ticket_id=ticket.id, recipient_key=mailbox_key(recipient),
            cause_key=mailbox_key(sender), created_at=self.now()))

    def _notification(self, ticket: Ticket, letter: Incoming, folded: list[str]) -> str:
        body = letter.body if letter.body is not None else "(текст письма не удалось разобрать)"
        shown = mask_secrets(body[:100_000])  # §5.3: staff read them in the stored letter
        return self.render(
            "staff/notification.txt.j2", reply_marker=REPLY_MARKER, ticket=ticket, folded=folded,
            fold_window=duration_words(parse_duration(self.config.abuse.notification_fold),
                                       "calendar"),
            new_ticket=letter.new_ticket, reopened=letter.reopened, reading=letter.reading,
            sender=f"{letter.requester_name} <{letter.sender}>".strip(),
            level=self.level_view(ticket.sla_level),
            due=msk(ticket.reaction_due, self.config.tz) if ticket.reaction_due else "",
            emergency_requested=letter.emergency_requested, outage=letter.outage,
            auth=letter.auth, reply_to_ignored=letter.reply_to_ignored,
            participants_added=letter.participants_added,
            participants_refused=letter.participants_refused,
            missing=self.missing_lines(ticket) if letter.new_ticket else [],
            verdicts=letter.verdicts, spam=letter.spam, infections=letter.infections,
            body=shown, secrets_masked=shown != body[:100_000])

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

    def quarantine_report(self, session: Session, ticket: Ticket, letter: Incoming,
                          done: list[str], listing: list[dict[str, Any]] | None) -> None:
        """What `#spam` / `#release` did, and the held letters, to the staff member."""
        tz = self.config.tz
        rows = [{**r, "held": msk(datetime.fromisoformat(r["held_at"]), tz)
                 if r.get("held_at") else ""} for r in listing or []]
        text = self.render("staff/quarantine.txt.j2", ticket=ticket, done=done, rows=rows,
                           listed=listing is not None)
        self.queue(session, ticket, "quarantine", letter.sender,
                   tagged_subject(ticket.tid or "", "Карантин писем"),
                   text, None, automatic=False, auto_submitted="auto-replied",
                   in_reply_to=letter.message_id, references=letter.references)

    def command_problems(self, session: Session, ticket: Ticket, letter: Incoming,
                         problems: list[str]) -> None:
        text = self.render("staff/command_problems.txt.j2", ticket=ticket, problems=problems)
        self.queue(session, ticket, "command-error", letter.sender,
                   tagged_subject(ticket.tid or "", f"Команды не выполнены: {ticket.subject}"),
                   text, None, automatic=False, auto_submitted="auto-replied",
                   in_reply_to=letter.message_id, references=letter.references)

    def staff_unverified(self, session: Session, ticket: Ticket, sender: str, why: str) -> None:
        """A letter from a staff address nobody proved: its owner hears why nothing
        was done (a forger does not, unless they hold the staff mailbox itself)."""
        text = self.render("staff/unverified.txt.j2", ticket=ticket, sender=sender, why=why)
        self.queue(session, ticket, "staff-unverified", sender,
                   tagged_subject(ticket.tid or "",
                                  f"Письмо не принято: нет подтверждения отправителя: "
                                  f"{ticket.subject}"),
                   text, None, automatic=False, auto_submitted="auto-generated")

    def merged(self, session: Session, source: Ticket, target: Ticket, gained: list[str],
               actor: str) -> None:
        """§5.5 keeps correspondence to its own side: staff see whose each side gains."""
        text = self.render("staff/merged.txt.j2", source=source, target=target,
                           gained=gained, actor=actor,
                           source_participants=list(source.participants or []))
        recipients = {m.email.lower(): m for m in
                      [*self.recipients_for(target), *filter(None, [
                          self.config.staff_by_email(actor)])]}
        for member in recipients.values():
            self.queue(session, target, "merged", member.email,
                       tagged_subject(target.tid or "", f"Объединено с {source.tid}: "
                                                        f"{target.subject}"),
                       text, None, automatic=False, auto_submitted="auto-generated")
