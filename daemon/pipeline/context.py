"""One letter, one context, one pipeline.

`Letter` carries a spooled letter through the ordered `STEPS`; each step is a
small function in `daemon/steps/` with one job. A step ends the journey early by
raising `Stop` with an outcome and a reason (a suppressed auto-reply, a
duplicate, a bounce recorded on its ticket); the runner records that outcome in
the letter's `Inbound` row. Steps never commit: the runner owns the transaction.

To add a rule: write a step module, add its name to `STEPS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from daemon.letter import ParsedLetter
from daemon.models import Message, Ticket
from daemon.spool import SpooledLetter

if TYPE_CHECKING:
    from daemon.app import App
    from daemon.attachments import Verdict
    from daemon.config import StaffMember
    from daemon.registry import Identification


class Stop(Exception):  # noqa: N818 - it is an outcome, not an error
    """End the pipeline early with an accounted outcome."""

    def __init__(self, outcome: str, reason: str) -> None:
        super().__init__(f"{outcome}: {reason}")
        self.outcome = outcome
        self.reason = reason


@dataclass
class Letter:
    spooled: SpooledLetter
    now: datetime
    parsed: ParsedLetter | None = None
    parse_error: str = ""
    internal_error: str = ""  # a bug stopped the pipeline; the runner's fallback is at work
    robot: str | None = None  # why it is an automatic letter, or None for a person
    staff: StaffMember | None = None
    ticket: Ticket | None = None
    new_ticket: bool = False
    thread_note: str = ""  # how threading decided, for the log and the accounting
    requester: str = ""
    requester_name: str = ""
    identification: Identification | None = None
    sla_level: str = ""
    coupon_id: int | None = None
    coupon_note: str = ""  # why a coupon named in the letter could not be used
    emergency_requested: bool = False
    missing: list[str] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    message: Message | None = None  # the stored row for this letter
    content_hash: str = ""
    notes: list[str] = field(default_factory=list)  # things the accounting should say

    @property
    def sender(self) -> str:
        if self.parsed and self.parsed.from_addr:
            return self.parsed.from_addr
        return (self.spooled.envelope.mail_from or "").lower()

    @property
    def subject(self) -> str:
        return self.parsed.subject if self.parsed else ""


@dataclass
class Step:
    name: str
    run: Callable[[Letter, Session, App], None]


def steps() -> tuple[Step, ...]:
    from daemon.steps import (
        answer,
        attachments,
        classify,
        identify,
        parse,
        screen,
        store,
        thread,
    )

    return (
        Step("parse", parse.run),
        Step("screen", screen.run),
        Step("thread", thread.run),
        Step("identify", identify.run),
        Step("classify", classify.run),
        Step("attachments", attachments.run),
        Step("store", store.run),
        Step("answer", answer.run),
    )
