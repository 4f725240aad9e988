"""§5.7 verdicts on a big attachment read back from the letter (`skeleton.Decoded`).

A big base64 attachment is never held decoded: `judge` reads its head and what
zipfile or rarfile ask for from the letter's bytes. Every verdict must be the one
the same bytes get when held whole.
"""

from __future__ import annotations

import base64
import gzip
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.mail import skeleton
from daemon.mail.attachments import ACCEPTED, REJECTED, judge
from tests.unit.mail.test_attachments import (
    LOG_UTF8,
    OLE,
    PDF,
    REAL_RAR_STORED,
    REAL_RAR_UNICODE,
    SEVEN_Z,
    SVG,
    TNEF,
    _patch_zip,
    avif,
    bmp,
    docx,
    gif,
    heic,
    ico,
    jpeg,
    odt,
    png,
    psd,
    rar5,
    rar5_names_encrypted,
    tiff,
    webp,
    zip_of,
)


def read_back(content: bytes, line: int = 76) -> skeleton.Decoded:
    """`content` as a big attachment: base64 in the letter, decoded on demand."""
    text = base64.b64encode(content)
    encoded = b"\r\n".join(text[i:i + line] for i in range(0, len(text), line))
    got = skeleton.decode_base64_body(encoded, 0, len(encoded), keep_below=0)
    assert isinstance(got, skeleton.Decoded)
    return got


ZIP = zip_of(("1.bmp", bmp()), ("2.png", png()), ("logs/app.log", LOG_UTF8))
CONTENTS = [
    ("shot.png", png()), ("shot.gif", gif()), ("shot.jpg", jpeg(exif=True)),
    ("shot.bmp", bmp()), ("shot.webp", webp()), ("scan.tif", tiff()), ("IMG.jpg", heic()),
    ("a.avif", avif()), ("favicon.ico", ico()), ("art.psd", psd()), ("d.svg", SVG),
    ("doc.pdf", PDF), ("winmail.dat", TNEF), ("old.doc", OLE), ("app.log", LOG_UTF8),
    ("empty.png", b""), ("screen.png", bytes(range(256)) * 4), ("s.7z", SEVEN_Z),
    ("s.bmp.gz", gzip.compress(bmp())), ("shots.zip", ZIP),
    ("bad.zip", zip_of(("ok.png", png()), ("shots/bad.webp", webp()))),
    ("act.docx", docx(webp())), ("act.odt", odt()),
    ("pw.zip", _patch_zip(zip_of(("shot.png", png())), flag_bits=0x1)),
    ("bomb.zip", _patch_zip(zip_of(("shot.png", webp())), file_size=50 * 2**20)),
    ("cut.zip", ZIP[:40]), ("cut-end.zip", ZIP[:-30]),
    ("in.zip", zip_of(("inner.zip", zip_of(("b.webp", webp()))))),
    ("shots.rar", rar5(("1.bmp", bmp()), ("2.png", png()))),
    ("w.rar", rar5(("shot.png", webp()))), ("c.rar", rar5(("1.bmp", b"\0" * 40), method=3)),
    ("real.rar", REAL_RAR_STORED), ("unicode.rar", REAL_RAR_UNICODE),
    ("pw.rar", rar5(("shot.png", png()), encrypted=True)),
    ("secret.rar", rar5_names_encrypted()), ("cut.rar", rar5(("shot.png", png()))[:30]),
    ("big.zip", zip_of(("screen.bmp", bmp(700, 700)),
                       ("noise.bin", random.Random(1).randbytes(2_000_000)))),
]


@pytest.mark.parametrize(("name", "content"), CONTENTS, ids=[n for n, _ in CONTENTS])
@pytest.mark.parametrize("line", [76, 1000])
def test_a_verdict_read_back_is_the_verdict_on_the_bytes(name: str, content: bytes,
                                                         line: int) -> None:
    assert judge(name, read_back(content, line), "image/png") == \
           judge(name, content, "image/png")


def test_the_bounds_apply_to_an_archive_read_back() -> None:
    raw = zip_of(*[(f"{i}.txt", b"x") for i in range(5)])
    assert judge("many.zip", read_back(raw), max_entries=4) == \
           judge("many.zip", raw, max_entries=4)
    assert judge("many.zip", read_back(raw), max_entries=4).verdict == REJECTED
    logs = zip_of(("a.log", bytes(3 * 2**20)))
    assert judge("logs.zip", read_back(logs), max_archive_bytes=2 * 2**20) == \
           judge("logs.zip", logs, max_archive_bytes=2 * 2**20)


def test_a_big_zip_with_a_bmp_is_listed_from_a_few_small_reads() -> None:
    content = zip_of(("screen.bmp", bmp(900, 900)),
                     ("dump.bin", random.Random(2).randbytes(6_000_000)))
    decoded: list[int] = []

    class Counted(skeleton.Decoded):
        def block(self, k: int) -> bytes:
            if self._block[0] != k:
                decoded.append(k)
            return super().block(k)

    whole = read_back(content)
    body = Counted(whole.raw, whole.marks, whole.size, whole.sha256)
    v = judge("screens.zip", body)
    assert v.verdict == ACCEPTED and [e.detected_type for e in v.entries] == ["bmp", "unknown"]
    assert len(decoded) <= 6  # the head, the directory, each member's first bytes
    assert len(body.marks) > 30


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([b"", b"PK\x03\x04", b"PK\x05\x06", b"Rar!\x1a\x07\x00",
                        b"Rar!\x1a\x07\x01\x00", b"\xff\xd8\xff", b"BM", b"RIFF"]),
       st.binary(max_size=400), st.sampled_from(["a.png", "b.zip", "c.rar", "d"]))
def test_hostile_bytes_get_the_same_verdict_read_back(prefix: bytes, body: bytes,
                                                      name: str) -> None:
    assert judge(name, read_back(prefix + body, 4)) == judge(name, prefix + body)
    assert judge(name, prefix + body).verdict in (ACCEPTED, REJECTED)
