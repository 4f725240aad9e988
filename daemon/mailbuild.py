"""Building outgoing letters: correct headers for every mail client and robot.

Headers are encoded by the stdlib (RFC 2047 for Russian), so nothing a client
wrote can inject a header: subjects are stripped of control characters before
they get here, and the email package refuses CR/LF in header values.
Every letter carries a stable Message-ID (decided at queue time, so retries and
restarts resend the same letter), In-Reply-To/References to the letter it
answers, and Auto-Submitted so that other robots do not answer it (RFC 3834).
"""

from __future__ import annotations

import binascii
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.policy import compat32
from email.utils import format_datetime, formataddr

# C0 and C1 controls and the Unicode line breaks: a header value is one line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


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


_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP  # readable in any mail client's "view source"


def _text(text: str, subtype: str, top: bool) -> Message:
    part = Message()
    part.set_payload(text, _UTF8_QP)  # encodes, and sets Content-Type and the CTE
    part.set_type(f"text/{subtype}")
    if not top:
        del part["MIME-Version"]
    return part


_FOLD_AT = 78  # RFC 5322 §2.1.1: lines SHOULD be at most 78 characters


def _fold(name: str, value: str) -> str:
    """An ASCII header folded at spaces before 78 characters where it can be
    (a folded line unfolds to the same value: the fold only inserts CRLF)."""
    line = f"{name}: {value}"
    if len(line) <= _FOLD_AT:
        return line
    lines: list[str] = []
    current = f"{name}:"
    for word in value.split(" "):
        if word and len(current) + 1 + len(word) > _FOLD_AT and current.strip(" :") != name:
            lines.append(current)
            current = ""
        current += " " + word
    lines.append(current)
    return "\r\n".join(lines)


def _encoded(name: str, value: str) -> str:
    """A header value that may hold Russian: ASCII folded as it is, otherwise RFC 2047
    encoded words from `Header`, every space inside a word (see `build`)."""
    if value.isascii():
        return _fold(name, value)
    words = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {words}"


def _qp_body(text: str) -> bytes:
    """Quoted-printable UTF-8 (binascii, in C), CRLF line ends."""
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")


def _text_part(text: str, subtype: str) -> list[bytes]:
    return [f"Content-Type: text/{subtype}; charset=\"utf-8\"".encode(),
            b"Content-Transfer-Encoding: quoted-printable", b"", _qp_body(text)]


def _sender(o: Outbound) -> str:
    # One encoded word for a Russian name, as formataddr makes it: a display name split
    # into several words comes back with a space inside a word from some readers.
    return _fold("From", formataddr((one_line(o.sender_name, 200), o.sender), charset="utf-8"))


def build(o: Outbound) -> bytes:
    """The letter as bytes (CRLF), written directly: our letters have one shape (text,
    or text and HTML alternatives, UTF-8 quoted-printable), and the email package's
    generator cost more than the rest of an acknowledgement. Headers are one line
    each before they get here (`one_line`), so nothing can inject a header; Russian
    goes into RFC 2047 words by the stdlib's `Header`, which puts every space inside
    the encoded words (RFC 2047 §6.2) — the new policy's folder drops the space
    between two words where it folds ("срок реакции" arrives as "срокреакции").
    Addresses that are not ASCII (SMTPUTF8) take the stdlib's generic path."""
    if not (o.sender.isascii() and o.to.isascii() and all(c.isascii() for c in o.cc)):
        return _build_generic(o)
    head = [_sender(o), _fold("To", one_line(o.to, limit=100_000))]
    if o.cc:
        head.append(_fold("Cc", one_line(", ".join(o.cc), limit=100_000)))
    head += [_encoded("Subject", one_line(o.subject)), f"Date: {format_datetime(o.date)}",
             f"Message-ID: {one_line(o.message_id)}"]
    in_reply_to = one_line(o.in_reply_to) if o.in_reply_to else ""
    refs = [one_line(r) for r in o.references if r][-20:]
    if in_reply_to and in_reply_to not in refs:
        refs.append(in_reply_to)
    if in_reply_to:
        head.append(_encoded("In-Reply-To", in_reply_to))
    if refs:
        head.append(_encoded("References", " ".join(refs)))
    if o.auto_submitted:
        # Exchange and Outlook: don't send us out-of-office answers to this.
        head += [f"Auto-Submitted: {o.auto_submitted}", "X-Auto-Response-Suppress: All"]
    if o.ticket_tid:
        head.append(f"X-Supportd-Ticket: {one_line(o.ticket_tid)}")
    head.append("MIME-Version: 1.0")
    lines = [h.encode("ascii") for h in head]
    if o.html:
        boundary = f"=_supportd_{uuid.uuid4().hex}"
        lines += [f"Content-Type: multipart/alternative; boundary=\"{boundary}\"".encode(),
                  b"", f"--{boundary}".encode(), *_text_part(o.text, "plain"),
                  f"--{boundary}".encode(), *_text_part(o.html, "html"),
                  f"--{boundary}--".encode(), b""]
    else:
        lines += _text_part(o.text, "plain")
    return b"\r\n".join(lines)


def _build_generic(o: Outbound) -> bytes:
    """The letter as bytes (CRLF). Built with the compat32 classes on purpose: the
    new policy's folder drops the space between two words when it folds the line
    at an encoded-word boundary ("срок реакции" arrives as "срокреакции"), while
    `Header` puts every space inside the encoded words (RFC 2047 §6.2)."""
    m: Message
    if o.html:
        m = MIMEMultipart("alternative")
        m.attach(_text(o.text, "plain", top=False))
        m.attach(_text(o.html, "html", top=False))
    else:
        m = _text(o.text, "plain", top=True)
    m["From"] = formataddr((one_line(o.sender_name, 200), o.sender), charset="utf-8")
    m["To"] = one_line(o.to, limit=100_000)  # a cut address is someone else's
    if o.cc:
        m["Cc"] = one_line(", ".join(o.cc), limit=100_000)
    subject = one_line(o.subject)
    m["Subject"] = Header(subject, "utf-8" if not subject.isascii() else "us-ascii",  # type: ignore[assignment]
                          header_name="Subject")
    m["Date"] = format_datetime(o.date)
    m["Message-ID"] = o.message_id
    if o.in_reply_to:
        m["In-Reply-To"] = one_line(o.in_reply_to)
    refs = [one_line(r) for r in o.references if r][-20:]
    in_reply_to = one_line(o.in_reply_to) if o.in_reply_to else ""
    if in_reply_to and in_reply_to not in refs:
        refs.append(in_reply_to)
    if refs:
        m["References"] = " ".join(refs)
    if o.auto_submitted:
        m["Auto-Submitted"] = o.auto_submitted
        # Exchange and Outlook: don't send us out-of-office answers to this.
        m["X-Auto-Response-Suppress"] = "All"
    if o.ticket_tid:
        m["X-Supportd-Ticket"] = o.ticket_tid
    return m.as_bytes(policy=compat32.clone(linesep="\r\n"))
