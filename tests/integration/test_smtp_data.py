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
from email.message import EmailMessage

import pytest

from daemon.smtp_listener import LINE_LIMIT, read_limits, unstuff
from daemon.spool import Spool
from tests.support.daemons import (
    SUPPORT_ADDRESS,
    Daemon,
    crlf,
    spool_state,
    wait_until,
)

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


def test_limits_and_unstuffing_as_aiosmtpd_had_them() -> None:
    assert read_limits(bytearray(b"a\r\n" * 10), 30) is None
    assert read_limits(bytearray(b"a\r\n" * 11), 30).startswith("552")  # type: ignore[union-attr]
    line = b"y" * LINE_LIMIT + b"\r\n"
    assert read_limits(bytearray(line * 3), None) is None
    assert read_limits(bytearray(b"z" * (LINE_LIMIT + 1) + b"\r\n"), None).startswith("500")  # type: ignore[union-attr]
    assert read_limits(bytearray(line + b"z" * (LINE_LIMIT + 1) + b"\r\n"),
                       None).startswith("500")  # type: ignore[union-attr]
    assert unstuff(bytearray(b"..a\r\n..\r\nb.\r\n.c\r\n")) == b".a\r\n.\r\nb.\r\nc\r\n"
