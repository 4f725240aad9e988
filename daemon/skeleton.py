"""Big base64 attachments decoded straight from the letter's bytes, not by the parser.

The stdlib parser turns a letter into one str, splits it into lines and joins each
part's lines again: a 25 MB attachment costs ~90 MB and ~1 s in the parser before
anyone decodes it, and its base64 text then stays in the Message. So a leaf body
the guard listed as large (`guard.Body`: base64, not text or a message) is decoded
here, in 256 KB steps from the letter's bytes, into one bytes object, and the parser
gets a *skeleton*: the letter with each such body replaced by a unique token.
After the parse, the part whose payload is a token gets the decoded bytes.

The result is exactly what decoding the part's base64 text would give, because a
body is only cut when it is nothing but the base64 alphabet and line breaks, with
padding only at its end (so no boundary line can hide in it, and decoding in whole
quads equals decoding it at once); anything else is left to the parser.
"""

from __future__ import annotations

import binascii
import io
import secrets
from dataclasses import dataclass
from email.message import Message

from daemon.guard import Body

STEP = 256 * 1024  # bytes of base64 text decoded at a time
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@dataclass(frozen=True)
class Skeleton:
    source: bytes  # the letter with the cut bodies replaced by their tokens
    decoded: dict[str, bytes]  # token -> the body, decoded


def decode_base64_body(raw: bytes, start: int, end: int) -> bytes | None:
    """raw[start:end] decoded as base64, or None when it is anything but clean base64
    (other bytes, padding before the end, a length that is no whole number of quads)."""
    breaks = raw.count(b"\n", start, end) + raw.count(b"\r", start, end)
    tail = raw[max(start, end - 8):end].rstrip(b"\r\n")
    size = (end - start - breaks) // 4 * 3 - (len(tail) - len(tail.rstrip(b"=")))
    # One buffer of the final size, filled in place: getvalue() then hands it over
    # without a copy (a growing buffer would peak at about twice the attachment).
    out = io.BytesIO()
    if size > 0:
        out.seek(size - 1)
        out.write(b"\0")
        out.seek(0)
    view = memoryview(raw)
    carry = b""
    for at in range(start, end, STEP):
        text = carry + view[at:min(at + STEP, end)].tobytes().translate(None, b"\r\n")
        if text.translate(None, _ALPHABET + b"="):
            return None  # spaces, stray bytes: the parser's decoder decides
        last = at + STEP >= end
        whole = len(text) if last else len(text) // 4 * 4
        carry = text[whole:]
        if b"=" in text and (not last or b"=" in text.rstrip(b"=")):
            return None  # padding in the middle: concatenated base64, not ours
        try:
            out.write(binascii.a2b_base64(memoryview(text)[:whole]))
        except binascii.Error:
            return None  # bad length or padding: the old text fallback applies
    if out.tell() != max(size, 0):
        return None  # cannot happen for clean base64; never hand on a wrong size
    return out.getvalue()


def cut(raw: bytes, bodies: tuple[Body, ...]) -> Skeleton | None:
    """The letter without its big base64 bodies, or None when none can be cut."""
    tag = secrets.token_hex(8)
    pieces: list[bytes] = []
    decoded: dict[str, bytes] = {}
    pos = 0
    for n, body in enumerate(bodies):
        if not body.base64 or body.content_type.startswith(("text/", "message/")):
            continue  # text is read by the body decoder, messages are walked
        content = decode_base64_body(raw, body.start, body.end)
        if content is None:
            continue
        token = f"supportdcut{n}x{tag}"  # itself base64: a harmless body if left alone
        pieces += [raw[pos:body.start], token.encode("ascii")]
        decoded[token] = content
        pos = body.end
    if not decoded:
        return None
    pieces.append(raw[pos:])
    return Skeleton(b"".join(pieces), decoded)


def cut_parts(msg: Message, skeleton: Skeleton) -> dict[int, bytes] | None:
    """id(part) -> decoded body for every cut part of the parsed skeleton; None when
    a token is not exactly one leaf's whole payload (the parser read the letter
    otherwise than the guard did: parse it whole instead)."""
    found: dict[int, bytes] = {}
    for part in msg.walk():
        payload = part.get_payload() if not part.is_multipart() else None
        if isinstance(payload, str) and payload in skeleton.decoded:
            if part.get_content_maintype() in ("text", "message"):
                return None
            found[id(part)] = skeleton.decoded[payload]
    return found if len(found) == len(skeleton.decoded) else None
