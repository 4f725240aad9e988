"""Big base64 attachments decoded straight from the letter's bytes, not by the parser.

The stdlib parser turns a letter into one str, splits it into lines and joins each
part's lines again: a 25 MB attachment costs ~90 MB and ~1 s in the parser before
anyone decodes it, and its base64 text then stays in the Message. So a leaf body
the guard listed as large (`guard.Body`: base64, not text or a message) is decoded
here, in 256 KB steps from the letter's bytes, and the parser gets a *skeleton*: the
letter with each such body replaced by a unique token. After the parse, the part
whose payload is a token gets the decoded body.

A body under `KEEP_BELOW` decoded is kept as one bytes object. A bigger one is not
kept at all: the pass only checks it and works out its sha256, size and the places
(`Decoded.marks`) where whole base64 quads start, and `Decoded` then reads it back
from the letter's bytes, which the pipeline holds anyway, a block at a time: the
§5.7 check reads a few small pieces of it (`Decoded.open`), the attachment store
writes it block by block (`Decoded.blocks`). No step holds the whole attachment.

The result is exactly what decoding the part's base64 text would give, because a
body is only cut when it is nothing but the base64 alphabet and line breaks, with
padding only at its end (so no boundary line can hide in it, and decoding in whole
quads equals decoding it at once); anything else is left to the parser.
"""

from __future__ import annotations

import binascii
import bisect
import hashlib
import io
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

from daemon.mail.guard import Body

STEP = 256 * 1024  # bytes of base64 text decoded at a time
KEEP_BELOW = 1 << 20  # a body decoding to fewer bytes is held decoded; bigger, read back
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


class Decoded:
    """A big base64 body, decoded on demand from the letter's bytes it lies in.

    `marks` are (offset in the letter, offset in the decoded body) pairs where a whole
    base64 quad starts, from the body's start to its end: the text between two marks
    decodes on its own to the bytes between them. `sha256` (hex) and `size` were
    worked out while the body was checked."""

    __slots__ = ("_block", "_starts", "marks", "raw", "sha256", "size")

    def __init__(self, raw: bytes, marks: list[tuple[int, int]], size: int,
                 sha256: str) -> None:
        self.raw = raw
        self.marks = marks
        self.size = size
        self.sha256 = sha256
        self._starts = [d for _, d in marks]
        self._block: tuple[int, bytes] = (-1, b"")  # the block last decoded

    def __repr__(self) -> str:
        return f"Decoded(size={self.size}, sha256={self.sha256[:12]}...)"

    def block(self, k: int) -> bytes:
        """The bytes between marks k and k + 1."""
        if self._block[0] != k:
            (a, _), (b, _) = self.marks[k], self.marks[k + 1]
            self._block = (k, binascii.a2b_base64(self.raw[a:b].translate(None, b"\r\n")))
        return self._block[1]

    def blocks(self) -> Iterator[bytes]:
        """The body from its start, one block (~190 KB) at a time; checked against its
        sha256 at the end (ValueError), so nothing wrong is stored under its name."""
        check = hashlib.sha256()
        for k in range(len(self.marks) - 1):
            block = self.block(k)
            check.update(block)
            yield block
        if check.hexdigest() != self.sha256:
            raise ValueError("a big attachment read back differs from its decoding")

    def read_at(self, offset: int, n: int) -> bytes:
        """At most `n` bytes of the body from `offset`."""
        n = max(0, min(n, self.size - offset))
        if n == 0 or offset < 0:
            return b""
        k = bisect.bisect_right(self._starts, offset) - 1
        pieces: list[bytes] = []
        while n > 0:
            block = self.block(k)
            at = offset - self.marks[k][1]
            piece = block[at:at + n]
            pieces.append(piece)
            offset, n, k = offset + len(piece), n - len(piece), k + 1
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def whole(self) -> bytes:
        """The body as one bytes object (only for what cannot read it otherwise)."""
        return b"".join(self.blocks())

    def open(self) -> io.BufferedReader:
        """A read-only, seekable file of the body (for zipfile and rarfile)."""
        return io.BufferedReader(_Reader(self), buffer_size=4096)


class _Reader(io.RawIOBase):
    def __init__(self, body: Decoded) -> None:
        self.body = body
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.body.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self.pos = base + offset
        return self.pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.body.read_at(self.pos, len(buffer))
        buffer[:len(data)] = data
        self.pos += len(data)
        return len(data)


@dataclass(frozen=True)
class Skeleton:
    source: bytes  # the letter with the cut bodies replaced by their tokens
    decoded: dict[str, bytes | Decoded]  # token -> the body, decoded or to be read back


def _last_char(raw: bytes, lo: int, hi: int) -> int:
    """The offset of the last byte of raw[lo:hi] that is no line break, or -1."""
    while hi > lo:
        at = max(lo, hi - 256)
        kept = len(raw[at:hi].rstrip(b"\r\n"))
        if kept:
            return at + kept - 1
        hi = at
    return -1


def _quad_start(raw: bytes, lo: int, hi: int, carry: int) -> int:
    """Where the last `carry` base64 characters before raw[hi] start, or -1 when
    they do not all lie in raw[lo:hi]."""
    pos = hi
    for _ in range(carry):
        pos = _last_char(raw, lo, pos)
        if pos < 0:
            return -1
    return pos


def decode_base64_body(raw: bytes, start: int, end: int, *,
                       keep_below: int = KEEP_BELOW) -> bytes | Decoded | None:
    """raw[start:end] decoded as base64, or None when it is anything but clean base64
    (other bytes, padding before the end, a length that is no whole number of quads).
    From `keep_below` decoded bytes on, a `Decoded` that reads it back when asked."""
    breaks = raw.count(b"\n", start, end) + raw.count(b"\r", start, end)
    tail = raw[max(start, end - 8):end].rstrip(b"\r\n")
    size = (end - start - breaks) // 4 * 3 - (len(tail) - len(tail.rstrip(b"=")))
    keep = size < keep_below
    # One buffer of the final size, filled in place: getvalue() then hands it over
    # without a copy (a growing buffer would peak at about twice the attachment).
    out = io.BytesIO()
    if keep and size > 0:
        out.seek(size - 1)
        out.write(b"\0")
        out.seek(0)
    digest = hashlib.sha256()
    marks = [(start, 0)]
    done = 0
    view = memoryview(raw)
    carry = b""
    for at in range(start, end, STEP):
        stop = min(at + STEP, end)
        text = carry + view[at:stop].tobytes().translate(None, b"\r\n")
        if text.translate(None, _ALPHABET + b"="):
            return None  # spaces, stray bytes: the parser's decoder decides
        last = stop >= end
        whole = len(text) if last else len(text) // 4 * 4
        carry = text[whole:]
        if b"=" in text and (not last or b"=" in text.rstrip(b"=")):
            return None  # padding in the middle: concatenated base64, not ours
        try:
            piece = binascii.a2b_base64(memoryview(text)[:whole])
        except binascii.Error:
            return None  # bad length or padding: the old text fallback applies
        done += len(piece)
        if keep:
            out.write(piece)
            continue
        digest.update(piece)
        mark = _quad_start(raw, at, stop, len(carry))
        if mark > marks[-1][0]:
            marks.append((mark, done))
    if done != max(size, 0) or (not keep and marks[-1] != (end, size)):
        return None  # cannot happen for clean base64; never hand on a wrong size
    if keep:
        return out.getvalue()
    return Decoded(raw, marks, size, digest.hexdigest())


def cut(raw: bytes, bodies: tuple[Body, ...]) -> Skeleton | None:
    """The letter without its big base64 bodies, or None when none can be cut."""
    tag = secrets.token_hex(8)
    pieces: list[bytes] = []
    decoded: dict[str, bytes | Decoded] = {}
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


def cut_parts(msg: Message, skeleton: Skeleton) -> dict[int, bytes | Decoded] | None:
    """id(part) -> decoded body for every cut part of the parsed skeleton; None when
    a token is not exactly one leaf's whole payload (the parser read the letter
    otherwise than the guard did: parse it whole instead)."""
    found: dict[int, bytes | Decoded] = {}
    for part in msg.walk():
        payload = part.get_payload() if not part.is_multipart() else None
        if isinstance(payload, str) and payload in skeleton.decoded:
            if part.get_content_maintype() in ("text", "message"):
                return None
            found[id(part)] = skeleton.decoded[payload]
    return found if len(found) == len(skeleton.decoded) else None
