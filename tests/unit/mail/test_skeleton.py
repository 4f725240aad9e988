"""Big base64 attachments decoded from the letter's bytes (`daemon.mail.skeleton`).

Whatever is cut out, `letter.parse` must give what parsing the letter whole gives;
whatever cannot be decoded exactly as the parser would is left to the parser.
"""

from __future__ import annotations

import base64
import email
import hashlib
import io
import random
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from daemon.mail import guard, letter, skeleton
from daemon.mail.attachments import judge
from tests.unit.mail.test_attachments import bmp

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "eml"


def zip_with_bmp(size: int, seed: int = 1) -> bytes:
    """A ZIP holding a BMP of about `size` bytes (allowed packed, §5.7)."""
    side = max(2, int((size / 3) ** 0.5))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("screen.bmp", bmp(side, side))
        z.writestr("data.bin", random.Random(seed).randbytes(size // 10))
    return buf.getvalue()


def big_letter(content: bytes, *, encoded: bytes | None = None, ctype: str =
               "application/zip", name: str = "выгрузка.zip", eol: bytes = b"\r\n") -> bytes:
    body = encoded if encoded is not None else base64.encodebytes(content)
    head = (b"From: =?utf-8?b?0JjQstCw0L0=?= <ivan@client.example>\r\n"
            b"To: techsupport@example.ru\r\nSubject: big\r\nMessage-ID: <big@client.example>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n")
    quoted = "".join(f"%{b:02X}" for b in name.encode())  # RFC 2231
    part = (f"--b1\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: base64\r\n"
            f"Content-Disposition: attachment; filename*=utf-8''{quoted}\r\n\r\n").encode()
    text = b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello, the dump.\r\n"
    return (head + text + part + body.replace(b"\n", eol).rstrip(b"\r\n") + b"\r\n--b1--\r\n")


def data(a: letter.RawAttachment) -> bytes:
    """An attachment's bytes, read back whole when it was too big to keep."""
    return a.content if isinstance(a.content, bytes) else a.content.whole()


def whole(raw: bytes) -> letter.ParsedLetter:
    return letter._parse(guard.inspect(raw), None)


def same(a: letter.ParsedLetter, b: letter.ParsedLetter) -> None:
    assert (a.text, a.html, a.subject, a.from_name, sorted(a.defects)) == \
           (b.text, b.html, b.subject, b.from_name, sorted(b.defects))
    assert [(x.filename, x.content_type, data(x), x.inline, x.size, x.sha256)
            for x in a.attachments] == \
           [(x.filename, x.content_type, data(x), x.inline, x.size, x.sha256)
            for x in b.attachments]


def test_a_big_attachment_is_decoded_once_and_kept_out_of_the_parsed_message() -> None:
    content = zip_with_bmp(3_000_000)
    raw = big_letter(content)
    decision = guard.inspect(raw)
    assert len(decision.large) == 1 and decision.large[0].base64
    p = letter.parse(raw)
    [a] = p.attachments
    assert a.filename == "выгрузка.zip" and data(a) == content
    assert isinstance(a.content, skeleton.Decoded)  # over 1 MB: read back, not held
    assert a.sha256 == hashlib.sha256(content).hexdigest() and a.size == len(content)
    leaf = [q for q in p.message.walk() if q.get_filename()][0]
    assert len(leaf.get_payload()) < 100  # the token, not 4 MB of base64
    same(p, whole(raw))
    v = judge(a.filename, a.content, a.content_type)
    assert v.accepted and [e.detected_type for e in v.entries] == ["bmp", "unknown"]


@pytest.mark.parametrize("eol", [b"\r\n", b"\n"])
@pytest.mark.parametrize("size", [48_000, 49_152, 70_001, 1_048_577, 2_000_000])
def test_any_size_and_line_end_decodes_as_the_parser_would(size: int, eol: bytes) -> None:
    content = random.Random(size).randbytes(size)
    raw = big_letter(content, eol=eol)
    p = letter.parse(raw)
    assert data(p.attachments[0]) == content
    assert isinstance(p.attachments[0].content, bytes) == (size < skeleton.KEEP_BELOW)
    same(p, whole(raw))


@pytest.mark.parametrize("damage", [
    lambda b: b[:5000] + b" " + b[5000:],  # a space: the stdlib's decoder decides
    lambda b: b[:-3],  # a length that is no whole number of quads
    lambda b: b[:70000] + b"==" + b[70000:],  # padding in the middle
    lambda b: b[:80000] + b"\r\n--b1\r\n" + b[80000:],  # a boundary inside
    lambda b: b[:90000] + "ж".encode() + b[90000:],  # 8-bit bytes
])
def test_a_body_that_is_not_clean_base64_is_left_to_the_parser(damage) -> None:  # type: ignore[no-untyped-def]
    raw = big_letter(b"", encoded=damage(base64.encodebytes(random.Random(2).randbytes(200_000))))
    same(letter.parse(raw), whole(raw))


def test_text_and_enclosed_messages_are_never_cut() -> None:
    body = base64.encodebytes(b"x" * 200_000)
    for ctype in ("text/plain", "message/rfc822"):
        raw = big_letter(b"", encoded=body, ctype=ctype)
        assert skeleton.cut(raw, guard.inspect(raw).large) is None


def test_a_nameless_big_part_is_read_as_the_parser_would() -> None:
    # Not an attachment by either rule: its bytes go to the text, as before.
    raw = big_letter(random.Random(3).randbytes(100_000), ctype="image/png").replace(
        b"Content-Disposition: attachment; filename*=utf-8''", b"X-Was: ")
    same(letter.parse(raw), whole(raw))


def test_the_listed_bodies_are_the_payloads_the_stdlib_reads() -> None:
    letters = [big_letter(zip_with_bmp(100_000, n), eol=eol) for n, eol in
               ((1, b"\r\n"), (2, b"\n"))]
    letters += [p.read_bytes() for p in sorted(FIXTURES.glob("*.eml"))]
    for raw in letters:
        bodies = {raw[b.start:b.end].decode("ascii", "surrogateescape")
                  for b in guard.inspect(raw).large}
        payloads = {q.get_payload() for q in email.message_from_bytes(raw).walk()
                    if not q.is_multipart()}
        assert bodies <= payloads


def test_decoding_a_kept_body_holds_it_once() -> None:
    content = random.Random(4).randbytes(6_000_000)
    encoded = base64.encodebytes(content)
    tracemalloc.start()
    try:
        got = skeleton.decode_base64_body(encoded, 0, len(encoded), keep_below=10**9)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got == content
    assert peak < len(content) * 1.5  # one buffer and a step, no copies


def test_a_big_body_is_checked_and_hashed_but_never_held() -> None:
    content = random.Random(4).randbytes(6_000_000)
    encoded = base64.encodebytes(content)
    tracemalloc.start()
    try:
        got = skeleton.decode_base64_body(encoded, 0, len(encoded))
        assert isinstance(got, skeleton.Decoded)
        with got.open() as f:
            f.seek(4_000_000)
            assert f.read(100) == content[4_000_000:4_000_100]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (got.size, got.sha256) == (len(content), hashlib.sha256(content).hexdigest())
    assert peak < 4 * skeleton.STEP  # a step of text and one decoded block
    assert got.whole() == content


@pytest.mark.parametrize("eol", [b"\r\n", b"\n", b"\r\n\r\n"])
@pytest.mark.parametrize("line", [4, 57, 76, 1000, 10_000_000])
def test_any_piece_of_a_big_body_reads_back_as_decoded(line: int, eol: bytes) -> None:
    content = random.Random(line).randbytes(1_500_001)
    text = base64.b64encode(content)
    encoded = eol.join(text[i:i + line] for i in range(0, len(text), line))
    raw = b"junk before" + encoded + b"junk after"
    got = skeleton.decode_base64_body(raw, 11, 11 + len(encoded))
    assert isinstance(got, skeleton.Decoded)
    assert got.whole() == content and got.sha256 == hashlib.sha256(content).hexdigest()
    assert [b for _, b in got.marks] == sorted({b for _, b in got.marks})
    rnd = random.Random(0)
    for _ in range(200):
        at, n = rnd.randrange(-5, len(content) + 5), rnd.choice([0, 1, 3, 64, 4096, 400_000])
        assert got.read_at(at, n) == (content[at:at + n] if at >= 0 else b"")
    with got.open() as f:
        assert f.seek(-22, 2) == len(content) - 22 and f.read() == content[-22:]
        f.seek(5)
        assert f.read(10) == content[5:15] and f.tell() == 15
