"""Building outgoing letters: correct headers for every mail client and robot.

Headers are encoded by the stdlib (RFC 2047 for Russian), so nothing a client
wrote can inject a header: subjects are stripped of control characters before
they get here, and the email package refuses CR/LF in header values.
Every letter carries a stable Message-ID (decided at queue time, so retries and
restarts resend the same letter), In-Reply-To/References to the letter it
answers, and Auto-Submitted so that other robots do not answer it (RFC 3834).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(text: str, limit: int = 900) -> str:
    """A header-safe single line: control characters (CR, LF, NUL...) become spaces."""
    return _CONTROL.sub(" ", text).strip()[:limit]


def new_message_id(kind: str, ticket_id: int | None, domain: str) -> str:
    tag = f"{ticket_id}" if ticket_id is not None else "x"
    return f"<supportd.{kind}.{tag}.{uuid.uuid4().hex[:16]}@{domain}>"


@dataclass(frozen=True)
class Outbound:
    sender_name: str
    sender: str
    to: str
    subject: str
    text: str
    html: str | None
    message_id: str
    date: datetime
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    auto_submitted: str | None = "auto-replied"  # None for a person's letter (a staff reply)
    cc: tuple[str, ...] = ()
    ticket_tid: str | None = None


def _address(name: str, addr: str) -> Address:
    local, _, domain = addr.partition("@")
    return Address(display_name=one_line(name, 200), username=local, domain=domain)


def build(o: Outbound) -> bytes:
    m = EmailMessage()
    m["From"] = _address(o.sender_name, o.sender)
    m["To"] = o.to
    if o.cc:
        m["Cc"] = ", ".join(o.cc)
    m["Subject"] = one_line(o.subject)
    m["Date"] = format_datetime(o.date)
    m["Message-ID"] = o.message_id
    if o.in_reply_to:
        m["In-Reply-To"] = o.in_reply_to
    refs = [r for r in o.references if r][-20:]
    if o.in_reply_to and o.in_reply_to not in refs:
        refs.append(o.in_reply_to)
    if refs:
        m["References"] = " ".join(refs)
    if o.auto_submitted:
        m["Auto-Submitted"] = o.auto_submitted
        # Exchange and Outlook: don't send us out-of-office answers to this.
        m["X-Auto-Response-Suppress"] = "All"
    if o.ticket_tid:
        m["X-Supportd-Ticket"] = o.ticket_tid
    m.set_content(o.text, cte="quoted-printable")
    if o.html:
        m.add_alternative(o.html, subtype="html", cte="quoted-printable")
    return m.as_bytes(policy=SMTP)
