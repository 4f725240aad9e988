"""One letter, one context: what the steps of the pipeline share.

`Letter` carries a spooled letter through the steps that `daemon.pipeline.order`
names; each step is a small function in `daemon/pipeline/steps/` with one job. A
step ends the journey early by raising `Stop` with an outcome and a reason (a
suppressed auto-reply, a duplicate, a bounce recorded on its ticket); the runner
records that outcome in the letter's `Inbound` row. Steps never commit: the
runner owns the transaction.

A leaf: the steps and the runner import it, it imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from daemon.mail.client_replies import ReplyReading
from daemon.mail.complaints import Complaints
from daemon.mail.letter import ParsedLetter
from daemon.outbound.advice import NO_ADVICE, Advice
from daemon.outbound.notifier import Incoming
from daemon.storage.models import Message, Ticket
from daemon.storage.spool import SpooledLetter
from daemon.trust.verdict import UNCHECKED, AuthVerdict

if TYPE_CHECKING:
    from daemon.app import App
    from daemon.config.schema import StaffMember
    from daemon.mail.attachments import Verdict
    from daemon.scan.scanners import Infection
    from daemon.scan.verdict import SpamVerdict
    from daemon.tickets.registry import Identification
    from daemon.tickets.scope import Classification


class Stop(Exception):  # noqa: N818 - it is an outcome, not an error
    """End the pipeline early with an accounted outcome."""

    def __init__(self, outcome: str, reason: str) -> None:
        super().__init__(f"{outcome}: {reason}")
        self.outcome = outcome
        self.reason = reason


class Wait(Exception):  # noqa: N818 - it is an outcome, not an error
    """The letter waits in the spool and is tried again later: a scanner is away
    (`[spam] max_wait`). Raised before the letter's transaction; nothing is written."""


@dataclass
class Letter:
    spooled: SpooledLetter
    now: datetime
    parsed: ParsedLetter | None = None
    parse_error: str = ""
    internal_error: str = ""  # a bug stopped the pipeline; the runner's fallback is at work
    robot: str | None = None  # why it is an automatic letter, or None for a person
    auth: AuthVerdict = UNCHECKED  # what proves who it is from (`daemon.trust`)
    staff: StaffMember | None = None
    ticket: Ticket | None = None
    new_ticket: bool = False
    thread_note: str = ""  # how threading decided, for the log and the accounting
    requester: str = ""  # where answers go
    requester_name: str = ""
    requester_source: str = "from"  # from | reply-to | sender | envelope
    reply_to_ignored: str = ""  # a Reply-To the answers do not go to (staff see it)
    flags: list[str] = field(default_factory=list)  # why staff must look (Russian)
    demoted: bool = False  # a registered address, but the letter is proven forged
    participants_added: list[str] = field(default_factory=list)
    participants_refused: dict[str, str] = field(default_factory=dict)  # address -> why
    identification: Identification | None = None
    sla_level: str = ""
    coupon_id: int | None = None
    coupon_note: str = ""  # why a coupon named in the letter could not be used
    emergency_requested: bool = False
    outage: str = ""  # the words describing a total failure (§3.1, §3.3), if any
    reply_reading: ReplyReading | None = None  # an answered ticket's reply, read (§6)
    deadline_stands: bool = False  # a follow-up: an earlier unanswered deadline stands (§2.3)
    missing: list[str] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    message: Message | None = None  # the stored row for this letter
    content_hash: str = ""
    notes: list[str] = field(default_factory=list)  # things the accounting should say
    # What libraries said of it (a broken winmail.dat): one log line for the letter.
    complaints: Complaints = field(default_factory=Complaints)
    topic: Classification | None = None  # what the scope step found (issue 13)
    level_before_scope: str = ""  # the level the scope step moved to consultation
    advice: Advice = NO_ADVICE  # what the acknowledgement adds (issue 13)
    spam: SpamVerdict | None = None  # the spam check's verdict (`scan` step), None: off
    infections: list[Infection] = field(default_factory=list)  # malware in attachments
    quarantined: str = ""  # the quarantine entry of this letter's raw bytes (malware)

    @property
    def sender(self) -> str:
        """Who the letter identifies as its sender (registry, staff, a right to a
        ticket): the From address, unless From identifies nobody; for a letter that
        could not be read, the envelope sender."""
        if self.parsed is None:
            return (self.spooled.envelope.mail_from or "").lower()
        return "" if self.parsed.from_problem else self.parsed.from_addr

    @property
    def shown_from(self) -> str:
        """The address the letter shows as its sender, kept on its message row."""
        if self.parsed is not None and self.parsed.from_addr:
            return self.parsed.from_addr
        return (self.spooled.envelope.mail_from or "").lower()

    @property
    def subject(self) -> str:
        return self.parsed.subject if self.parsed else ""

    def incoming(self) -> Incoming:
        """What the letters this letter causes may say of it (`Notifier`)."""
        p = self.parsed
        return Incoming(
            sender=self.shown_from, requester=self.requester,
            requester_name=self.requester_name,
            received_at=self.spooled.received_at, new_ticket=self.new_ticket,
            reopened="reopened" in self.notes, unreadable=bool(self.parse_error),
            deadline_stands=self.deadline_stands,
            reading=self.reply_reading.kind if self.reply_reading else "",
            outage=self.outage,
            internal_error=bool(self.internal_error), verdicts=self.verdicts,
            coupon_note=self.coupon_note, emergency_requested=self.emergency_requested,
            auth=self.auth, demoted=self.demoted, reply_to_ignored=self.reply_to_ignored,
            participants_added=tuple(self.participants_added),
            participants_refused=tuple(self.participants_refused.items()),
            proven_client=self.auth.proven and not self.demoted
            and bool(self.identification and self.identification.entitled),
            message_id=p.message_id if p else None,
            references=tuple(p.references) if p else (), body=p.text if p else None,
            advice=self.advice,
            spam=self.spam.as_dict() if self.spam is not None else None,
            infections=tuple((i.filename, i.signature) for i in self.infections))


@dataclass(frozen=True)
class Step:
    """A named stage: a module of `daemon/pipeline/steps/` with its `run(letter, session,
    app)`, looked up at each call (a test may put a broken one in its place)."""

    name: str
    module: ModuleType

    def run(self, letter: Letter, session: Session, app: App) -> None:
        self.module.run(letter, session, app)
