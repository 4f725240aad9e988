"""Parsing a raw letter into plain values the pipeline decides on.

mail-parser does the heavy lifting over the stdlib email package (charsets,
RFC 2047 words, RFC 2231 names, defects); this module turns its result into a
`ParsedLetter` of plain Python values and never raises on bad mail: a letter
mail-parser cannot read is retried with the stdlib alone, and a letter neither
can read raises `Unparseable`, which the pipeline turns into a ticket flagged
for staff with the raw bytes kept whole.
"""

from __future__ import annotations

import base64
import email
import email.policy
import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

import mailparser
import tnefparse

from daemon.header_decode import _decode_bytes as decode_bytes
from daemon.threading_tid import decode_subject


class Unparseable(Exception):
    """The letter's bytes could not be read as a message at all."""


@dataclass(frozen=True)
class RawAttachment:
    filename: str
    content_type: str
    content: bytes = field(repr=False)
    inline: bool = False


@dataclass
class ParsedLetter:
    message: Message  # the stdlib view, for header checks (loops, bounces)
    from_name: str
    from_addr: str
    to: list[str]
    cc: list[str]
    reply_to: str
    subject: str
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    date: datetime | None
    text: str
    html: str
    attachments: list[RawAttachment]
    defects: list[str]

    def header(self, name: str) -> str:
        value = self.message.get(name)
        return "" if value is None else str(value)


_MSGID = re.compile(r"<[^<>\s]+>")


def message_ids(value: str | None) -> list[str]:
    """Message-IDs in a header (In-Reply-To, References), angle brackets kept."""
    if not value:
        return []
    return _MSGID.findall(str(value))


def clean_message_id(value: str | None) -> str | None:
    ids = message_ids(value)
    if ids:
        return ids[0][:998]
    value = (value or "").strip()
    return value[:998] or None


_BARE_ADDR = re.compile(r"[^\s<>()\[\]\\,;:\"@]+@[^\s<>()\[\]\\,;:\"@]+")


def _safe_getaddresses(values: list[str]) -> list[tuple[str, str]]:
    """getaddresses; for a pathological header (the stdlib recurses once per word,
    so thousands of encoded words raise RecursionError) the bare addresses in it."""
    strings = [str(v) for v in values]
    try:
        return getaddresses(strings)
    except RecursionError:
        return [("", a) for a in _BARE_ADDR.findall(" ".join(strings))]


def _safe_parseaddr(value: str) -> tuple[str, str]:
    pairs = _safe_getaddresses([value])
    return pairs[0] if pairs else ("", "")


def _addresses(values: list[str]) -> list[str]:
    return [a.lower() for _, a in _safe_getaddresses(values) if "@" in a]


_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)
_BREAKS = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h\d)\b[^>]*>", re.I)


def html_to_text(markup: str) -> str:
    """Good-enough text from an HTML-only letter, for staff and for reading rules."""
    text = _BREAKS.sub("\n", markup)
    text = _TAGS.sub("", text)
    text = html.unescape(text)
    lines = [re.sub(r"[ \t\xa0]+", " ", ln).strip() for ln in text.splitlines()]
    out = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


def _decoded_header(msg: Message, name: str) -> str:
    value = msg.get(name)
    if value is None:
        return ""
    # The value itself, not str(value): compat32 turns raw 8-bit bytes into U+FFFD.
    return decode_subject(value)


def _attachments_from(mp: mailparser.MailParser) -> list[RawAttachment]:
    out: list[RawAttachment] = []
    for a in mp.attachments:
        payload = a.get("payload") or ""
        if a.get("binary"):
            try:
                content = base64.b64decode(payload)
            except (ValueError, TypeError):
                content = payload.encode("latin-1", "replace")
        else:
            content = payload.encode(a.get("charset") or "utf-8", "replace") \
                if isinstance(payload, str) else bytes(payload)
        disposition = (a.get("content-disposition") or "").lower()
        out.append(RawAttachment(filename=str(a.get("filename") or ""),
                                 content_type=str(a.get("mail_content_type") or ""),
                                 content=content, inline=disposition.startswith("inline")))
    return out


TNEF_TYPES = ("application/ms-tnef", "application/vnd.ms-tnef")


def expand_tnef(attachments: list[RawAttachment]) -> list[RawAttachment]:
    """Outlook's winmail.dat holds the real attachments: judge those, not the wrapper.

    A TNEF blob that cannot be read is kept as it is (its verdict says so)."""
    out: list[RawAttachment] = []
    for a in attachments:
        if a.content_type.lower() in TNEF_TYPES or a.filename.lower() == "winmail.dat":
            try:
                inner = tnefparse.TNEF(a.content, do_checksum=False).attachments
            except Exception:
                inner = []
            if inner:
                out.extend(RawAttachment(filename=t.long_filename() or t.name or "attachment",
                                         content_type="", content=bytes(t.data))
                           for t in inner)
                continue
        out.append(a)
    return out


def _clean(text: str) -> str:
    """NULs out (PostgreSQL text refuses them), line ends as \\n."""
    return text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")


def parse(raw: bytes) -> ParsedLetter:
    if not raw.strip():
        raise Unparseable("the letter is empty")
    try:
        mp = mailparser.parse_from_bytes(raw)
        msg = mp.message
        # Bodies are decoded here, not by mail-parser: the declared charset is often
        # wrong (windows-1251 labelled iso-8859-1), and header_decode can tell.
        text_parts, html_parts, _ = _stdlib_bodies(msg)
        attachments = _attachments_from(mp)
        defects = [str(d) for d in mp.defects_categories]
    except Exception as exc:  # mail-parser gave up; the stdlib is more forgiving
        try:
            msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        except Exception:
            raise Unparseable(f"no parser could read it: {exc}") from exc
        text_parts, html_parts, attachments = _stdlib_bodies(msg)
        defects = [f"mail-parser: {type(exc).__name__}: {exc}"]
    if msg is None or (len(msg.keys()) == 0 and not msg.get_payload()):
        raise Unparseable("no headers and no body")

    from_name, from_addr = _safe_parseaddr(str(msg.get("From", "")))
    try:
        date = parsedate_to_datetime(str(msg["Date"])) if msg.get("Date") else None
        if date is not None and date.tzinfo is None:
            date = None
    except (TypeError, ValueError, IndexError):
        date = None
    text = _clean("\n".join(t for t in text_parts if t)).strip()
    html_text = _clean("\n".join(h for h in html_parts if h))
    if not text and html_text:
        text = html_to_text(html_text)
    return ParsedLetter(
        message=msg,
        from_name=_clean(decode_subject(from_name)),
        from_addr=from_addr.strip().lower(),
        to=_addresses(msg.get_all("To") or []),
        cc=_addresses(msg.get_all("Cc") or []),
        reply_to=_safe_parseaddr(str(msg.get("Reply-To", "")))[1].lower(),
        subject=_clean(_decoded_header(msg, "Subject")),
        message_id=clean_message_id(msg.get("Message-ID")),
        in_reply_to=message_ids(msg.get("In-Reply-To")),
        references=message_ids(msg.get("References")),
        date=date,
        text=text,
        html=html_text,
        attachments=expand_tnef(attachments),
        defects=defects,
    )


def _decode_body(payload: bytes, label: str | None) -> str:
    """A text part's words. A UTF-8 label is believed (a few broken bytes become
    U+FFFD); Latin, Cyrillic or missing labels are checked, since site scripts and old
    clients send windows-1251 or KOI8-R under iso-8859-1, us-ascii or nothing."""
    if label and label.lower().replace("_", "-") in ("utf-8", "utf8"):
        return payload.decode("utf-8", "replace")
    return decode_bytes(payload, label)


def _stdlib_bodies(msg: Message) -> tuple[list[str], list[str], list[RawAttachment]]:
    texts: list[str] = []
    htmls: list[str] = []
    atts: list[RawAttachment] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        if not isinstance(payload, bytes):
            payload = str(payload).encode("utf-8", "replace")
        name = part.get_filename()
        ctype = part.get_content_type()
        if name or part.get_content_disposition() == "attachment":
            atts.append(RawAttachment(decode_subject(name or ""), ctype, payload))
            continue
        text = _decode_body(payload, part.get_content_charset())
        (htmls if ctype == "text/html" else texts).append(text)
    return texts, htmls, atts
