"""Parsing a raw letter into plain values the pipeline decides on.

One stdlib parse per letter (compat32, the Message mail-parser itself builds), one
walk over it: attachments are chosen by mail-parser's rules (RFC 2231 and 2047
file names, Content-ID parts, rtf, whole attached multiparts) and decoded once;
text parts are decoded here with charset repair (`header_decode`); the defect
categories are the stdlib's and mail-parser's own header diagnostics (addresses,
dates, Received, MIME headers, failed charsets), which flag the ticket for staff.
This module turns them into a `ParsedLetter` of plain Python values and never
raises on bad mail: a letter mail-parser's rules give up on keeps the stdlib's
plainer view, and a letter the stdlib cannot read raises `Unparseable`, which
the pipeline turns into a ticket flagged for staff with the raw bytes kept whole.

Hostile mail is bounded in work before any of that (`daemon.mail.guard`): a header too
big is trimmed in the copy that is parsed, a body too complex is not parsed at all
(headers only, `ParsedLetter.degraded` says why), and the decoded text, the
charset guessing and the address lists have per-letter budgets. Every limit met
is listed in `defects`, which flags the ticket for staff.
"""

from __future__ import annotations

import base64
import contextlib
import email
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.header import Header
from email.message import Message
from email.utils import parsedate_to_datetime

import tnefparse
from mailparser.utils import (
    as_string_safe,
    decode_header_part,
    find_between,
    mime_header_view,
    ported_string,
    random_string,
    raw_payload,
)

from daemon.mail import complaints, guard, skeleton
from daemon.mail.addresses import (
    clean_message_id,
    message_ids,
    read_from,
    safe_parseaddr,
    usable_address,
    usable_addresses,
)
from daemon.mail.header_checks import HeaderChecks
from daemon.mail.header_decode import _CYRILLIC_LABELS, _LATIN_LABELS, _codec
from daemon.mail.header_decode import _decode_bytes as decode_bytes
from daemon.mail.html_text import html_to_text
from daemon.mail.threading_tid import decode_subject as _decode_subject


class Unparseable(Exception):
    """The letter's bytes could not be read as a message at all."""


@dataclass(frozen=True)
class RawAttachment:
    filename: str
    content_type: str
    # The bytes; for a big base64 attachment a `skeleton.Decoded`, read back from the
    # letter's bytes when needed and never held whole (its sha256 and size are known).
    content: bytes | skeleton.Decoded = field(repr=False)
    inline: bool = False

    @property
    def size(self) -> int:
        return len(self.content) if isinstance(self.content, bytes) else self.content.size

    @property
    def sha256(self) -> str:
        """The content's sha256, hex."""
        if isinstance(self.content, bytes):
            return hashlib.sha256(self.content).hexdigest()
        return self.content.sha256


@dataclass
class ParsedLetter:
    # The stdlib view, for header checks (loops, bounces). A big base64 attachment's
    # body is not in it (see `daemon.mail.skeleton`): it is in `attachments`.
    message: Message
    from_name: str
    from_addr: str  # who From names (`addresses.read_from`): identity and answers
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
    degraded: str = ""  # why only the header was parsed (guard limits), or ""
    from_repaired: str = ""  # how `from_addr` was found when From read plainly gave none
    from_problem: str = ""  # why From identifies nobody (several addresses, …), or ""
    sender_addr: str = ""  # the Sender header's address
    return_path: str = ""  # the Return-Path header's address (the envelope sender an MTA kept)

    def header(self, name: str) -> str:
        value = self.message.get(name)
        return "" if value is None else str(value)


def decode_subject(value: str | Header) -> str:
    """`header_decode.decode_subject`, which lets a ValueError out of codecs.lookup for
    a charset label with a NUL in it (``=?utf-8\\0?q?x?=``); NULs go anyway."""
    try:
        return _decode_subject(value)
    except ValueError:
        return _decode_subject(str(value).replace("\x00", ""))


def _label(label: str | None) -> str | None:
    """A charset label codecs.lookup can be asked about (no NUL), or None."""
    return (label or "").replace("\x00", "") or None


def _decoded_header(msg: Message, name: str) -> str:
    value = msg.get(name)
    if value is None:
        return ""
    # The value itself, not str(value): compat32 turns raw 8-bit bytes into U+FFFD.
    return decode_subject(value)


class _MailView:
    """Attachments and defect categories of a message, chosen by mail-parser's rules
    (`MailParser.parse`, 4.x) in one walk, each attachment decoded once.

    A part is an attachment when it has a file name (RFC 2231 and 2047 decoded), a
    Content-ID and a type other than text/plain or text/html (named after the id),
    is text/rtf, or is `Content-Disposition: attachment` (a random name); a
    multipart attached as a whole is kept flattened. Parts inside an attached
    container are never inline bodies."""

    def __init__(self, msg: Message, cut: dict[int, bytes | skeleton.Decoded]) -> None:
        self.cut = cut  # bodies decoded before the parse (`skeleton`), by id(part)
        self.checks = HeaderChecks(msg)
        self.categories: dict[str, None] = dict.fromkeys(sorted(self.checks.defects_categories))
        self.attachments: list[RawAttachment] = []
        parts: list[tuple[Message, bool]] = []
        attached: set[int] = set()  # ids of parts inside an attached container
        for p in msg.walk():
            for defect in p.defects:
                self.categories[type(defect).__name__] = None
            inside = id(p) in attached
            parts.append((p, inside))
            if p.is_multipart():
                disposition = p.get_content_disposition()
                if inside or disposition not in (None, "inline") or (
                        disposition != "inline" and bool(p.get_filename())):
                    attached.update(id(c) for c in p.get_payload())
        if "StartBoundaryNotFoundDefect" in self.categories:
            boundary = msg.get_boundary()
            epilogue = find_between(msg.epilogue, "--" + boundary,  # type: ignore[operator]
                                    "--" + boundary + "--")  # type: ignore[operator]
            if epilogue is not None:
                with contextlib.suppress(Exception):  # mail-parser only logs it
                    parts.append((email.message_from_string(epilogue), True))
        for i, (p, inside) in enumerate(parts):
            self._part(i, p, inside)

    @property
    def defects(self) -> list[str]:
        return [*self.categories, *(c for c in sorted(self.checks.defects_categories)
                                    if c not in self.categories)]

    def _part(self, i: int, p: Message, inside: bool) -> None:
        meta, meta_defects = mime_header_view(p)
        filename = decode_header_part(meta.get_filename(), defects=meta_defects)
        if meta_defects:
            self.categories["MimeHeaderDefect"] = None
        disposition = ported_string(meta.get_content_disposition()).lower()
        if p.is_multipart() and disposition != "attachment":
            return
        content_id = ported_string(meta.get("content-id"))
        subtype = ported_string(meta.get_content_subtype())
        inline_body = (not inside and not p.is_multipart() and disposition == "inline"
                       and p.get_content_type() in ("text/plain", "text/html"))
        attachment = True
        if filename:
            pass
        elif content_id and subtype not in ("html", "plain"):
            filename = content_id
        elif subtype in ("rtf"):  # sic: mail-parser tests substring of "rtf"
            filename = f"{random_string()}.rtf"
        elif disposition == "attachment":
            filename = f"{random_string()}.txt"
        else:
            attachment = False
        if id(p) in self.cut and not attachment:
            raise _ParseWhole  # a body mail-parser would read as text after all
        if attachment:
            content = self.cut[id(p)] if id(p) in self.cut else _attachment_bytes(p, meta)
            self.attachments.append(RawAttachment(
                filename=str(filename), content_type=ported_string(meta.get_content_type()),
                content=content,
                inline=ported_string(meta.get("content-disposition")).lower().startswith(
                    "inline")))
        if not attachment or inline_body:
            # Only for its CharsetDecodeDefect: our bodies are read by _TextReader.
            self.checks._decode_body_payload(p, meta.get_content_charset("utf-8"), i)
            self.categories.update(dict.fromkeys(sorted(self.checks.defects_categories)))


def _attachment_bytes(p: Message, meta: Message) -> bytes:
    """An attachment's content, decoded once, as mail-parser's payload decoded again
    would be: base64 from the text on the wire (broken base64 is kept as that text),
    a multipart flattened in its charset, anything else as the stdlib decodes it."""
    if p.is_multipart():
        flat = "".join(as_string_safe(m) for m in p.get_payload(decode=False))
        return flat.encode(meta.get_content_charset() or "utf-8", "replace")
    encoding = ported_string(meta.get("content-transfer-encoding", "")).strip().lower()
    if encoding != "base64":
        return p.get_payload(decode=True)  # type: ignore[return-value]
    wire = raw_payload(p)
    if not isinstance(wire, str):  # the declared charset could not be applied
        return bytes(wire)
    try:
        return base64.b64decode(wire)
    except (ValueError, TypeError):
        return wire.encode("latin-1", "replace")


TNEF_TYPES = ("application/ms-tnef", "application/vnd.ms-tnef")


def expand_tnef(attachments: list[RawAttachment]) -> list[RawAttachment]:
    """Outlook's winmail.dat holds the real attachments: judge those, not the wrapper.

    A TNEF blob that cannot be read is kept as it is (its verdict says so); what was
    wrong with it is noted once for the letter's log line (`complaints`)."""
    out: list[RawAttachment] = []
    for a in attachments:
        if a.content_type.lower() in TNEF_TYPES or a.filename.lower() == "winmail.dat":
            blob = a.content if isinstance(a.content, bytes) else a.content.whole()
            name = a.filename or "winmail.dat"
            try:
                inner = [RawAttachment(filename=t.long_filename() or t.name or "attachment",
                                       content_type="", content=bytes(t.data))
                         for t in tnefparse.TNEF(blob, do_checksum=False).attachments]
            except Exception as exc:
                complaints.note("tnefparse", f"{name} cannot be read: {complaints.summary(exc)}")
                inner = []
            else:
                if not _adds_up(blob):
                    complaints.note("tnefparse", f"{name} is damaged: its parts do not add up "
                                                 f"to its {len(blob)} bytes (cut short?)")
            if inner:
                out.extend(inner)
                continue
        out.append(a)
    return out


def _adds_up(blob: bytes) -> bool:
    """The TNEF objects' declared sizes add up to the blob's (tnefparse reads what
    there is of a cut one, and passes over a few stray bytes at its end)."""
    offset = 6  # signature and key
    while offset + 12 < len(blob):  # tnefparse's own walk over the objects
        offset += int.from_bytes(blob[offset + 5:offset + 9], "little") + 11
    return offset == len(blob)


def _clean(text: str) -> str:
    """NULs out (PostgreSQL text refuses them), line ends as \\n."""
    return text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")


class _ParseWhole(Exception):
    """The skeleton was read otherwise than expected: parse the letter whole."""


def parse(raw: bytes) -> ParsedLetter:
    if not raw or raw.isspace():  # not raw.strip(): a copy of the whole letter
        raise Unparseable("the letter is empty")
    decision = guard.inspect(raw)
    # Big base64 attachments are decoded from the bytes, the rest parsed around them.
    bones = skeleton.cut(raw, decision.large) if decision.large else None
    if bones is not None:
        try:
            return _parse(decision, bones)
        except _ParseWhole:
            pass
    return _parse(decision, None)


def _parse(decision: guard.Decision, bones: skeleton.Skeleton | None) -> ParsedLetter:
    notes = [f"guard: {n}" for n in decision.notes]
    source = decision.to_parse if bones is None else bones.source
    reader = _TextReader()
    try:
        # One stdlib parse (compat32: the Message mail-parser itself would build).
        msg = email.message_from_bytes(source)
    except Exception as exc:
        raise Unparseable(f"no parser could read it: {exc}") from exc
    del source
    cut: dict[int, bytes | skeleton.Decoded] = {}
    if bones is not None:
        found = skeleton.cut_parts(msg, bones)
        if found is None:
            raise _ParseWhole
        cut = reader.cut = found
    try:
        # Before any body is decoded: decoding adds defects that mail-parser,
        # which collects them first, never saw.
        view = _MailView(msg, cut)
        attachments, defects = view.attachments, view.defects
    except _ParseWhole:
        raise
    except Exception as exc:  # mail-parser's rules gave up; the stdlib's are simpler
        attachments, defects = [], [f"mail-parser: {type(exc).__name__}: {exc}"]
        reader.stdlib_attachments = True
    try:
        # Bodies are decoded here, not by mail-parser: the declared charset is often
        # wrong (windows-1251 labelled iso-8859-1), and header_decode can tell.
        text_parts, html_parts = reader.bodies(msg)
    except _ParseWhole:
        raise
    except Exception as exc:
        raise Unparseable(f"no parser could read it: {exc}") from exc
    if reader.stdlib_attachments:
        attachments = reader.attachments
    if msg is None or (len(msg.keys()) == 0 and not msg.get_payload()):
        raise Unparseable(decision.reason or "no headers and no body")
    if decision.headers_only:
        # The copy parsed had no body, so any defects about it are ours to explain.
        defects, text_parts, html_parts, attachments = [], [], [], []
    defects = notes + reader.notes + defects  # first: staff see the reason cut to 500

    sender = read_from(msg.get_all("From") or [], decode_subject)
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
        from_name=_clean(decode_subject(sender.name)),
        from_addr=sender.address,
        from_repaired=sender.repaired,
        from_problem=sender.problem,
        sender_addr=_one_address(msg, "Sender"),
        return_path=_one_address(msg, "Return-Path"),
        to=usable_addresses(msg.get_all("To") or []),
        cc=usable_addresses(msg.get_all("Cc") or []),
        reply_to=_one_address(msg, "Reply-To"),
        subject=_clean(_decoded_header(msg, "Subject")),
        message_id=clean_message_id(msg.get("Message-ID")),
        in_reply_to=message_ids(msg.get("In-Reply-To")),
        references=message_ids(msg.get("References")),
        date=date,
        text=text,
        html=html_text,
        attachments=expand_tnef(attachments),
        defects=defects,
        degraded=decision.reason if decision.headers_only else "",
    )


def _one_address(msg: Message, name: str) -> str:
    """The first address of a header (Reply-To, Sender, Return-Path), usable, or ""."""
    address = usable_address(safe_parseaddr(msg.get(name, ""))[1])
    return address if "@" in address else ""


def _is_attachment(part: Message) -> bool:
    return bool(part.get_filename()) or part.get_content_disposition() == "attachment"


_NON_ASCII = re.compile(rb"[\x80-\xff]")
_GUESSES = ("utf-8", "cp1251", "koi8-r", "cp866", "latin-1")  # what decode_bytes picks from


def _is_utf8_label(label: str | None) -> bool:
    return (label or "").lower().replace("_", "-") in ("utf-8", "utf8")


class _TextReader:
    """Decodes a letter's text parts within its budgets: at most `MAX_TEXT_CHARS` of
    text and of HTML, and `CHARSET_BUDGET` bytes read by the charset guess, which costs
    ~8 us a byte (a 5 MB windows-1251 body labelled iso-8859-1 took 41 s whole)."""

    def __init__(self) -> None:
        self.room = {"text": guard.MAX_TEXT_CHARS, "html": guard.MAX_TEXT_CHARS}
        self.guess_left = guard.CHARSET_BUDGET
        self.last_codec: str | None = None
        self.notes: list[str] = []
        self.stdlib_attachments = False  # also collect named and attached leaves
        self.attachments: list[RawAttachment] = []
        # Bodies decoded before the parse, by id(part); all are attachments.
        self.cut: dict[int, bytes | skeleton.Decoded] = {}

    def bodies(self, msg: Message) -> tuple[list[str], list[str]]:
        """The text and HTML of the parts that are neither named nor attached."""
        texts: list[str] = []
        htmls: list[str] = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            attached = _is_attachment(part)
            if id(part) in self.cut and not attached:
                raise _ParseWhole  # a body we would read as text after all
            if attached and not self.stdlib_attachments:
                continue
            if id(part) in self.cut:
                name = decode_subject(part.get_filename() or "")
                self.attachments.append(RawAttachment(name, part.get_content_type(),
                                                      self.cut[id(part)]))
                continue
            payload = part.get_payload(decode=True) or b""
            if not isinstance(payload, bytes):
                payload = str(payload).encode("utf-8", "replace")
            if attached:
                name = decode_subject(part.get_filename() or "")
                self.attachments.append(RawAttachment(name, part.get_content_type(), payload))
                continue
            kind = "html" if part.get_content_type() == "text/html" else "text"
            room = self.room[kind]
            label = _label(part.get_content_charset())
            text = self.decode(payload[:room * 4], label) if room else ""
            if len(text) > room or (not room and payload):
                text = text[:room]
                note = f"guard: {kind} cut at {guard.MAX_TEXT_CHARS} characters"
                if note not in self.notes:
                    self.notes.append(note)
            self.room[kind] = room - len(text)
            (htmls if kind == "html" else texts).append(text)
        return texts, htmls

    def decode(self, payload: bytes, label: str | None) -> str:
        """A text part's words. A UTF-8 label is believed (a few broken bytes become
        U+FFFD); Latin, Cyrillic or missing labels are checked, since site scripts and
        old clients send windows-1251 or KOI8-R under iso-8859-1, us-ascii or nothing.
        A long part is judged by a sample, then decoded whole in the charset that
        reads the sample alike; past the budget, in the charset last chosen."""
        if _is_utf8_label(label):
            return payload.decode("utf-8", "replace")
        if payload.isascii() or (len(payload) <= guard.CHARSET_SAMPLE
                                 and len(payload) <= self.guess_left):
            self.guess_left -= 0 if payload.isascii() else len(payload)
            return decode_bytes(payload, label)
        codec = _codec(label)
        if codec is not None and codec not in _LATIN_LABELS | _CYRILLIC_LABELS:
            try:  # a label that is not often abused is believed when it decodes
                return payload.decode(codec)
            except UnicodeError:
                pass
        try:  # valid UTF-8 wins: single-byte Cyrillic practically never is
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            pass
        return payload.decode(self._codec_for(payload, label), "replace")

    def _codec_for(self, payload: bytes, label: str | None) -> str:
        if self.guess_left <= 0:
            return self.last_codec or _codec(label) or "utf-8"
        first = _NON_ASCII.search(payload)
        start = max(0, (first.start() if first else 0) - 256) & ~3
        sample = payload[start:start + (min(guard.CHARSET_SAMPLE, self.guess_left) & ~3)]
        self.guess_left -= len(sample)
        guess = decode_bytes(sample, label)
        for name in dict.fromkeys(filter(None, (_codec(label), *_GUESSES))):
            try:
                if sample.decode(name, "replace") == guess:
                    self.last_codec = name
                    return name
            except LookupError:
                continue
        return self.last_codec or "utf-8"
