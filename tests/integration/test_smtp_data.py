"""DATA as the listener reads it: in large pieces up to the lone dot, not line by line.

What the client meant must arrive byte for byte: lines that are a dot, start with
dots or end with one, a letter that starts with a dot, a letter that comes in
pieces with pauses, a letter with a large attachment. The stored spool file is
compared with the letter sent. The limits stay: a letter over max_message_size is
a 552 after the whole DATA was read, and the connection goes on working.
"""

from __future__ import annotations

import os
import smtplib
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.harness.daemon import (
    SUPPORT_ADDRESS,
    Daemon,
    crlf,
    running,
    wait_until,
    write_daemon_config,
)
from daemon.intake import smtp_listener
from daemon.intake.smtp_listener import LINE_LIMIT, SPILL, Body
from daemon.storage.spool import Envelope, Receiving, Spool
from tests.support.drills import spool_state

pytestmark = pytest.mark.integration


def stored(d: Daemon) -> dict[bytes, bytes]:
    """Every letter the daemon stored, by its Subject header line."""
    spool = d.root / "spool"
    wait_until(lambda: spool_state(spool).settled, 60, message=d.tail)
    out = {}
    for f in (spool / "store").glob("*/*/*/*"):
        raw = Spool.raw_of(f)
        subject = next(line for line in raw.split(b"\r\n") if line.startswith(b"Subject:"))
        out[subject] = raw
    return out


def letter(subject: str, body: bytes) -> bytes:
    return (f"From: ivan@client.example\r\nTo: {SUPPORT_ADDRESS}\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{subject}@client.example>\r\n\r\n"
            ).encode() + body


def test_dots_at_line_starts_and_ends_arrive_as_sent(daemon: Daemon) -> None:
    bodies = {
        "dots": b".\r\n..\r\n...three\r\n.leading\r\nending.\r\n. \r\nlast line.\r\n",
        "lonedotlast": b"text\r\n.\r\n",
        "noeol": b"no line end at the very end.",
        "dotfirst": b"",  # the header block itself starts the letter
    }
    sent = {k: letter(k, v) for k, v in bodies.items()}
    sent["dotfirst"] = b".From a dot\r\n" + letter("dotfirst", b"x\r\n")
    for raw in sent.values():
        code, _ = daemon.send(raw)
        assert code == 250
    got = stored(daemon)
    for name, raw in sent.items():
        expected = raw if raw.endswith(b"\r\n") else raw + b"\r\n"  # smtplib adds it
        assert got[f"Subject: {name}".encode()] == expected, name


def test_a_letter_in_pieces_with_pauses_and_a_big_attachment(daemon: Daemon) -> None:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "ivan@client.example", SUPPORT_ADDRESS, "pieces"
    m["Message-ID"] = "<pieces@client.example>"
    m.set_content("Скриншот во вложении.\n.\nВерсия 3.14.\n")
    m.add_attachment(os.urandom(600_000), maintype="image", subtype="png",
                     filename="screen.png")
    raw = crlf(m.as_bytes())
    sock = daemon.open_data(raw, part=0.3)
    stuffed = raw.replace(b"\r\n.", b"\r\n..")
    rest = stuffed[int(len(stuffed) * 0.3):]
    for cut in (1, len(rest) // 2, len(rest) - 2):  # a dot and CRLF split across reads
        time.sleep(0.05)
        sock.sendall(rest[:cut])
        rest = rest[cut:]
    time.sleep(0.05)
    sock.sendall(rest + b".\r\n")
    f = sock.makefile("rb")
    assert f.readline().startswith(b"250 ")
    sock.sendall(b"QUIT\r\n")
    sock.close()
    assert stored(daemon)[b"Subject: pieces"] == raw


def test_too_big_is_552_after_the_whole_data_and_the_session_goes_on(daemon: Daemon) -> None:
    big = letter("big", (b"x" * 70 + b"\r\n") * 17_000)
    with smtplib.SMTP("127.0.0.1", daemon.port, timeout=30) as s:
        s.ehlo("client.example")
        s.mail("ivan@client.example")
        s.rcpt(SUPPORT_ADDRESS)
        code, resp = s.data(big)
        assert code == 552 and b"too big" in resp
        s.mail("ivan@client.example")  # the same connection takes the next letter
        s.rcpt(SUPPORT_ADDRESS)
        code, _ = s.data(letter("small", b"fits\r\n"))
        assert code == 250
    assert set(stored(daemon)) == {b"Subject: small"}


def fed(pieces: list[bytes], limit: int | None = None,
        spool: Spool | None = None) -> tuple[bytes | str, Body]:
    """What Body makes of DATA arriving in these pieces (the lone dot already cut)."""
    def spill() -> Receiving:
        assert spool is not None, "spilled without a spool"
        return spool.receive(Envelope(source="smtp", mail_from="ivan@client.example"))
    body = Body(limit, spill)
    for piece in pieces:
        body.feed(piece)
    return (body.error or bytes(body.data)), body


def stuffed(raw: bytes) -> bytes:
    """As a client sends it (RFC 5321 §4.5.2)."""
    out = raw.replace(b"\r\n.", b"\r\n..")
    return b"." + out if out.startswith(b".") else out


def test_limits_and_unstuffing_as_aiosmtpd_had_them() -> None:
    assert fed([b"a\r\n" * 10], 30)[0] == b"a\r\n" * 10
    assert str(fed([b"a\r\n" * 10, b"a\r\n"], 30)[0]).startswith("552")
    line = b"y" * LINE_LIMIT + b"\r\n"
    assert fed([line * 3])[0] == line * 3
    assert str(fed([b"z" * (LINE_LIMIT + 1) + b"\r\n"])[0]).startswith("500")
    assert str(fed([line + b"z" * (LINE_LIMIT + 1) + b"\r\n"])[0]).startswith("500")
    # A line too long across pieces, each of them short.
    assert str(fed([b"z" * 1000] * (LINE_LIMIT // 1000 + 1) + [b"\r\n"])[0]).startswith("500")
    assert fed([b"..a\r\n..\r\nb.\r\n.c\r\n"])[0] == b".a\r\n.\r\nb.\r\nc\r\n"


LINES = st.lists(st.sampled_from([b".", b"..", b"a", b".a.", b"\r", b"\n", b"\r\n",
                                  b"\r\n.", b"x" * 7]), max_size=40).map(b"".join)


@given(raw=LINES, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8))
@settings(max_examples=400, deadline=None)
def test_the_letter_comes_out_whole_however_the_data_is_cut(raw: bytes,
                                                            cuts: list[int]) -> None:
    sent = stuffed(raw)
    points = sorted({c % (len(sent) + 1) for c in cuts})
    pieces = [sent[a:b] for a, b in zip([0, *points], [*points, len(sent)], strict=True)]
    assert fed(pieces)[0] == raw


def test_a_long_letter_goes_to_the_spool_as_it_arrives(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smtp_listener, "SPILL", 1000)
    spool = Spool(tmp_path)
    spool.ensure()
    raw = b"Subject: long\r\n\r\n" + b"".join(b".line %d\r\n" % n for n in range(500))
    sent = stuffed(raw)
    data, body = fed([sent[i:i + 333] for i in range(0, len(sent), 333)], spool=spool)
    assert data == b"" and body.file is not None  # nothing of it held past SPILL
    assert len(list(spool.tmp.iterdir())) == 1 and not list(spool.incoming.iterdir())
    spool_id, path = body.file.commit(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    letter = Spool.read(path)
    assert letter.raw == raw and letter.spool_id == spool_id
    assert letter.received_at == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert letter.envelope.mail_from == "ivan@client.example"
    assert not list(spool.tmp.iterdir())
    # Over the limit after it spilled: refused, and its file is gone.
    error, _ = fed([sent[i:i + 333] for i in range(0, len(sent), 333)], limit=len(sent) - 1,
                   spool=spool)
    assert str(error).startswith("552") and not list(spool.tmp.iterdir())


def test_a_big_letter_over_smtp_is_stored_whole_and_one_too_big_leaves_nothing(
        tmp_path: Path) -> None:
    cfg, port = write_daemon_config(tmp_path)
    cfg.write_text(cfg.read_text().replace("max_message_size = 1048576",
                                           f"max_message_size = {SPILL * 2}"))
    d = Daemon(tmp_path, port, cfg)
    d.upgrade()
    with running(d):
        m = EmailMessage()
        m["From"], m["To"], m["Subject"] = "ivan@client.example", SUPPORT_ADDRESS, "big"
        m["Message-ID"] = "<big@client.example>"
        m.set_content("Дамп во вложении.\n.\n")
        m.add_attachment(os.urandom(SPILL // 4 * 3 + 1000), maintype="application",
                         subtype="octet-stream", filename="dump.bin")
        raw = crlf(m.as_bytes())
        assert len(raw) > SPILL
        with smtplib.SMTP("127.0.0.1", d.port, timeout=60) as s:
            s.ehlo("client.example")
            s.mail("ivan@client.example")
            s.rcpt(SUPPORT_ADDRESS)
            assert s.data(raw)[0] == 250
            s.mail("ivan@client.example")
            s.rcpt(SUPPORT_ADDRESS)
            assert s.data(raw + raw)[0] == 552
        assert stored(d)[b"Subject: big"] == raw
        assert not list((d.root / "spool" / "tmp").iterdir())


def test_a_spool_that_cannot_take_a_long_letter_is_a_451_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smtp_listener, "SPILL", 1000)
    spool = Spool(tmp_path)
    spool.ensure()
    real_write = Receiving.write

    def full(self: Receiving, data: bytes | bytearray) -> None:
        if self.size > 1500:
            raise OSError(28, "No space left on device")
        real_write(self, data)

    monkeypatch.setattr(Receiving, "write", full)
    sent = b"Subject: long\r\n\r\n" + b"line of text\r\n" * 400
    error, body = fed([sent[i:i + 300] for i in range(0, len(sent), 300)], spool=spool)
    assert str(error).startswith("451 4.3.1") and body.file is None
    assert not list(spool.tmp.iterdir()) and not list(spool.incoming.iterdir())
