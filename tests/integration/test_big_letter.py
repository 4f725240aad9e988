"""A 25 MB-class letter through `ingest`: its attachment stored whole and judged.

The big base64 body never goes through the stdlib parser (`daemon.mail.skeleton`), and
one over 1 MB is never held decoded: it is judged and stored reading it back from
the letter's bytes. The stored file, its sha256, size and §5.7 verdict (a BMP packed
in a ZIP: accepted, listed; a bare BMP: refused) must be what they are for the same
bytes held whole; a duplicate or a second copy stores nothing more and no temporary
file stays behind.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bench.harness.desk_config import write_config
from daemon.app import App
from daemon.config import loader as config_mod
from daemon.mail import letter, skeleton
from daemon.mail.attachments import judge
from daemon.storage import db
from daemon.storage.models import Attachment
from tests.conftest import Desk
from tests.unit.mail.test_attachments import _chunk, bmp, png
from tests.unit.mail.test_skeleton import big_letter, zip_with_bmp


@pytest.fixture
def big_desk(tmp_path: Path) -> Iterator[Desk]:
    """A desk that takes letters up to 30 MB (the tests' default is 1 MB)."""
    path = write_config(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace(
        "max_message_size = 1048576", "max_message_size = 31457280"), encoding="utf-8")
    cfg = config_mod.load(path)
    db.upgrade(cfg.storage.url)
    app = App(cfg)
    app.spool.ensure()
    yield Desk(tmp_path, path, app)
    app.close()


def test_a_big_zip_is_stored_with_its_hash_and_judged_by_its_contents(big_desk: Desk) -> None:
    desk = big_desk
    content = zip_with_bmp(6_000_000)
    result = desk.ingest(big_letter(content), sender="ivan@client.example")
    assert result.outcome == "ticket"  # type: ignore[attr-defined]
    with desk.app.sessions() as s:
        [att] = s.scalars(select(Attachment)).all()
        assert (att.filename, att.size, att.detected_type, att.verdict) == \
               ("выгрузка.zip", len(content), "zip", "accepted")
        assert att.sha256 == hashlib.sha256(content).hexdigest()
        assert att.stored_path is not None
        assert desk.app.spool.resolve(att.stored_path).read_bytes() == content
    [ack] = desk.sent()[:1]
    assert "screen.bmp" in ack.get_body(("plain",)).get_content()  # type: ignore[union-attr]


# ------------------------------------------------ big attachments are never held whole

def big_png(size: int) -> bytes:
    """A PNG of about `size` bytes: a real header, then one big IDAT of noise."""
    head = png()
    return head[:33] + _chunk(b"IDAT", random.Random(size).randbytes(size)) + head[-12:]


def stored(desk: Desk) -> list[Attachment]:
    with desk.app.sessions() as s:
        return list(s.scalars(select(Attachment).order_by(Attachment.id)).all())


def spool_files(desk: Desk, folder: str) -> list[Path]:
    return sorted(p for p in (desk.app.spool.root / folder).rglob("*") if p.is_file())


@pytest.mark.parametrize(("name", "ctype", "content"), [
    ("screen.png", "image/png", big_png(3_000_000)),
    ("screen.bmp", "image/bmp", bmp(1000, 1000)),  # bare BMP: refused, §5.7
    ("shots.zip", "application/zip", zip_with_bmp(4_000_000, 5)),
])
def test_a_big_attachment_is_stored_and_judged_as_its_whole_bytes(
        big_desk: Desk, name: str, ctype: str, content: bytes) -> None:
    desk = big_desk
    raw = big_letter(content, ctype=ctype, name=name)
    assert isinstance(letter.parse(raw).attachments[0].content, skeleton.Decoded)
    want = judge(name, content, ctype)
    assert desk.ingest(raw, sender="ivan@client.example").outcome == "ticket"  # type: ignore[attr-defined]
    [att] = stored(desk)
    assert (att.filename, att.declared_type, att.detected_type, att.size, att.verdict,
            att.reason) == (want.filename, ctype, want.detected_type, len(content),
                            want.verdict, want.reason)
    assert att.sha256 == hashlib.sha256(content).hexdigest()
    assert att.stored_path == f"attachments/{att.sha256[:2]}/{att.sha256}"  # in the spool
    assert desk.app.spool.resolve(att.stored_path).read_bytes() == content
    assert spool_files(desk, "tmp") == []
    ack = desk.sent()[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert name in ack
    if want.verdict == "rejected":
        assert "BMP" in ack


def test_a_big_letter_sent_twice_is_a_duplicate_and_leaves_no_temporary_file(
        big_desk: Desk) -> None:
    desk = big_desk
    raw = big_letter(big_png(2_000_000), ctype="image/png", name="screen.png")
    first = desk.ingest(raw, sender="ivan@client.example")
    again = desk.ingest(raw, sender="ivan@client.example")
    assert (first.outcome, again.outcome) == ("ticket", "duplicate")  # type: ignore[attr-defined]
    assert len(stored(desk)) == 1 and len(spool_files(desk, "attachments")) == 1
    assert spool_files(desk, "tmp") == []


def test_the_same_big_attachment_in_two_letters_is_stored_once(big_desk: Desk) -> None:
    desk = big_desk
    content = zip_with_bmp(3_000_000, 7)
    one = big_letter(content)
    two = one.replace(b"Subject: big", b"Subject: the same dump again").replace(
        b"<big@client.example>", b"<big2@client.example>")
    assert desk.ingest(one, sender="ivan@client.example").outcome == "ticket"  # type: ignore[attr-defined]
    assert desk.ingest(two, sender="ivan@client.example").outcome == "ticket"  # type: ignore[attr-defined]
    a, b = stored(desk)
    assert a.message_id != b.message_id and a.stored_path == b.stored_path
    assert a.stored_path is not None
    assert spool_files(desk, "attachments") == [desk.app.spool.resolve(a.stored_path)]
    assert spool_files(desk, "tmp") == []


def test_a_big_attachment_that_reads_back_wrong_is_not_stored(big_desk: Desk) -> None:
    spool = big_desk.app.spool
    content = random.Random(9).randbytes(2_000_000)
    encoded = base64.encodebytes(content)
    body = skeleton.decode_base64_body(encoded, 0, len(encoded))
    assert isinstance(body, skeleton.Decoded)
    bad = skeleton.Decoded(encoded.replace(b"A", b"B"), body.marks, body.size, body.sha256)
    with pytest.raises(ValueError, match="differs"):
        spool.put_attachment(bad.blocks(), bad.sha256)
    assert spool_files(big_desk, "tmp") == [] and spool_files(big_desk, "attachments") == []
    digest, path = spool.put_attachment(body.blocks(), body.sha256)
    assert digest == hashlib.sha256(content).hexdigest() and path.read_bytes() == content
