"""Building outgoing letters: correct headers for every mail client and robot.

Russian in a header goes into RFC 2047 encoded words, written here exactly as the
stdlib's `Header` writes them (a property test holds the two byte for byte), and
nothing a client wrote can inject a header: every header value is one line
(`one_line`) before it gets here.
Every letter carries a stable Message-ID (decided at queue time, so retries and
restarts resend the same letter), In-Reply-To/References to the letter it
answers, and Auto-Submitted so that other robots do not answer it (RFC 3834).
"""

from __future__ import annotations

import binascii
import os
import re
import string
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, formataddr
from functools import lru_cache

# C0 and C1 controls and the Unicode line breaks: a header value is one line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str, limit: int = 900) -> str:
    """A header-safe single line: control characters (CR, LF, NUL...) become spaces."""
    if text.isascii() and text.isprintable():  # no control character: most values
        return text.strip()[:limit]
    return _CONTROL.sub(" ", text).strip()[:limit]


def new_message_id(kind: str, ticket_id: int | None, domain: str) -> str:
    tag = f"{ticket_id}" if ticket_id is not None else "x"
    return f"<supportd.{kind}.{tag}.{os.urandom(8).hex()}@{domain}>"


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
    # PNG images the HTML shows as <img src="cid:NAME">: (NAME, bytes) (the report's charts)
    images: tuple[tuple[str, bytes], ...] = ()


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


# RFC 2047 encoded words written as the stdlib writes UTF-8 ones (`email.charset`,
# SHORTEST): base64 when it is strictly shorter than Q, else Q; a line at most 78
# characters. `Header` finds where to cut by encoding every prefix of the text again
# (quadratic, and most of an acknowledgement's cost); the same cuts are found here in
# the text encoded once.
_CHROME = len("=?utf-8?b??=")
# Q writes these bytes as themselves, a space as "_", every other byte as "=XX"
# (RFC 2047 §4.2; the stdlib's choice of safe bytes).
_Q_LITERAL = frozenset((string.ascii_letters + string.digits + "-!*+/").encode())
_Q_TABLE = ["_" if b == 0x20 else chr(b) if b in _Q_LITERAL else f"={b:02X}"
            for b in range(256)]
_Q_ONE_CHARACTER = bytes(sorted(_Q_LITERAL | {0x20}))
_Q_CONTINUATION = ("=8", "=9", "=A", "=B")  # bytes 0x80-0xBF: inside a UTF-8 sequence


def _b_length(size: int) -> int:
    return -(-size // 3) * 4  # four characters for every three bytes, the last padded


def _use_base64(data: bytes) -> bool:
    q_length = len(data) + 2 * len(data.translate(None, _Q_ONE_CHARACTER))
    return _b_length(len(data)) < q_length


def _b_text(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _q_text(data: bytes) -> str:
    return data.decode("latin-1").translate(_Q_TABLE)


def _word(data: bytes) -> str:
    """One encoded word for all of `data` (UTF-8), as `Charset.header_encode` writes it."""
    if _use_base64(data):
        return f"=?utf-8?b?{_b_text(data)}?="
    return f"=?utf-8?q?{_q_text(data)}?="


def _b_pieces(data: bytes, room: int) -> list[str]:
    """Base64 texts for the words of a header: `room` characters on the first line, the
    rest on continuation lines; each ends where a character ends."""
    pieces: list[str] = []
    while _b_length(len(data)) > room:
        cut = room // 4 * 3
        while data[cut] & 0xC0 == 0x80:
            cut -= 1
        pieces.append(_b_text(data[:cut]))
        data = data[cut:]
        room = _FOLD_AT - 1 - _CHROME
    pieces.append(_b_text(data))
    return pieces


def _q_pieces(data: bytes, room: int) -> list[str]:
    """Q texts, cut like `_b_pieces`: never inside an "=XX" nor inside a character."""
    text = _q_text(data)
    pieces: list[str] = []
    while len(text) > room:
        cut = room
        if text[cut - 1] == "=":
            cut -= 1
        elif text[cut - 2] == "=":
            cut -= 2
        while text.startswith(_Q_CONTINUATION, cut):
            cut -= 3
        pieces.append(text[:cut])
        text = text[cut:]
        room = _FOLD_AT - 1 - _CHROME
    pieces.append(text)
    return pieces


def _encoded(name: str, value: str) -> str:
    """A header value that may hold Russian: ASCII folded as it is, otherwise the RFC 2047
    words that `Header(value, "utf-8", header_name=name)` writes, every space inside a
    word (see `build`). `name` is short: its first line has room for a word."""
    if value.isascii():
        return _fold(name, value)
    data = value.encode("utf-8")
    room = _FOLD_AT - len(name) - 2 - _CHROME
    if _use_base64(data):
        words = [f"=?utf-8?b?{piece}?=" for piece in _b_pieces(data, room)]
    else:
        words = [f"=?utf-8?q?{piece}?=" for piece in _q_pieces(data, room)]
    return f"{name}: " + "\r\n ".join(words)


def _qp_body(text: str) -> bytes:
    """Quoted-printable UTF-8 (binascii, in C), CRLF line ends."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = text.encode("utf-8")
    return binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")


def _text_part(text: str, subtype: str) -> list[bytes]:
    return [f"Content-Type: text/{subtype}; charset=\"utf-8\"".encode(),
            b"Content-Transfer-Encoding: quoted-printable", b"", _qp_body(text)]


def _alternative(text: str, html: str) -> list[bytes]:
    boundary = f"=_supportd_{os.urandom(16).hex()}"
    return [f"Content-Type: multipart/alternative; boundary=\"{boundary}\"".encode(),
            b"", f"--{boundary}".encode(), *_text_part(text, "plain"),
            f"--{boundary}".encode(), *_text_part(html, "html"),
            f"--{boundary}--".encode(), b""]


def _base64_lines(data: bytes) -> list[bytes]:
    encoded = binascii.b2a_base64(data, newline=False)
    return [encoded[i:i + 76] for i in range(0, len(encoded), 76)]


@lru_cache(maxsize=256)
def _from(sender_name: str, sender: str) -> str:
    """The From header. Our letters have a few senders (the desk, its staff): made once."""
    # One encoded word for a Russian name, as formataddr makes it: a display name split
    # into several words comes back with a space inside a word from some readers.
    name = one_line(sender_name, 200)
    if name.isascii():
        return _fold("From", formataddr((name, sender)))
    return _fold("From", f"{_word(name.encode('utf-8'))} <{sender}>")


def _sender(o: Outbound) -> str:
    return _from(o.sender_name, o.sender)


def build(o: Outbound) -> bytes:
    """The letter as bytes (CRLF), written directly: our letters have one shape (text,
    or text and HTML alternatives, UTF-8 quoted-printable), and the email package's
    generator cost more than the rest of an acknowledgement. Headers are one line
    each before they get here (`one_line`), so nothing can inject a header; Russian
    goes into RFC 2047 words as the stdlib's `Header` writes them, every space inside
    the encoded words (RFC 2047 §6.2) — the new policy's folder drops the space
    between two words where it folds ("срок реакции" arrives as "срокреакции").
    An address that is not ASCII (клиент@почта.рф) is written as it is, in UTF-8
    (RFC 6532; an encoded word is no address), and the outbox sends such a letter
    with SMTPUTF8."""
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
    lines = [h.encode() for h in head]  # ASCII but for such addresses
    if o.html and o.images:
        # multipart/related: the alternatives first, then the images the HTML names
        # by Content-ID (RFC 2387); mail clients show them inline, not as attachments.
        related = f"=_supportd_{os.urandom(16).hex()}"
        lines += [f"Content-Type: multipart/related; boundary=\"{related}\"; "
                  f"type=\"multipart/alternative\"".encode(), b"", f"--{related}".encode(),
                  *_alternative(o.text, o.html)]
        for name, png in o.images:
            cid = one_line(name)
            lines += [f"--{related}".encode(), b"Content-Type: image/png",
                      b"Content-Transfer-Encoding: base64", f"Content-ID: <{cid}>".encode(),
                      f"Content-Disposition: inline; filename=\"{cid.split('@')[0]}.png\""
                      .encode(), b"", *_base64_lines(png)]
        lines += [f"--{related}--".encode(), b""]
    elif o.html:
        lines += _alternative(o.text, o.html)
    else:
        lines += _text_part(o.text, "plain")
    return b"\r\n".join(lines)
