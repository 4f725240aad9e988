"""The listener under attack: idle connections, descriptors running out, slow DATA.

Each story runs `supportd run` (one, the accept loop alone in this process) and
talks to it over real sockets. A client is a source address: Linux routes all of
127.0.0.0/8 on loopback, so a socket bound to 127.0.0.2 is a second client. One
client holding its share of idle connections is told 421 on the next while others
still deliver; the same for the total. With the process's descriptors used up (its
RLIMIT_NOFILE lowered while it runs), the log says so in one line, not a traceback
per accept(), and senders get in again once the idle connections go. A DATA that
keeps coming is taken however long it takes; one that falls silent is dropped with
nothing left in the spool. Caps that need more open files than the process may have
keep it from starting, naming the key.
"""

from __future__ import annotations

import asyncio
import os
import resource
import smtplib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from bench.harness.daemon import (
    SUPPORT_ADDRESS,
    SUPPORTD,
    Daemon,
    crlf,
    running,
    wait_until,
    write_daemon_config,
)
from daemon.intake.connections import TOO_MANY, TOO_MANY_FROM_CLIENT, Caps, Listener, bind
from daemon.intake.smtp_listener import SPILL
from daemon.storage.spool import Spool
from tests.conftest import PROJECT
from tests.support.drills import spool_state

pytestmark = pytest.mark.integration


def desk(root: Path, **smtp: int) -> Daemon:
    """A daemon whose [smtp] section has these keys besides the usual ones."""
    cfg, port = write_daemon_config(root)
    lines = "".join(f"{k} = {v}\n" for k, v in smtp.items())
    cfg.write_text(cfg.read_text().replace("[smtp]\n", "[smtp]\n" + lines, 1))
    d = Daemon(root, port, cfg)
    d.upgrade()
    return d


def connect(d: Daemon, client: str = "127.0.0.1") -> tuple[socket.socket, bytes]:
    """A connection from `client` and the first line the desk says on it."""
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=10,
                                    source_address=(client, 0))
    return sock, sock.makefile("rb").readline()


def closed_after(sock: socket.socket) -> bool:
    """The desk closed the connection (after whatever it still had to say)."""
    sock.settimeout(10)
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    return True


def deliver(d: Daemon, client: str, subject: str) -> int:
    """The reply to a letter sent from `client`; the greeting's code if it was refused."""
    try:
        with smtplib.SMTP("127.0.0.1", d.port, timeout=30,
                          source_address=(client, 0)) as s:
            s.ehlo("client.example")
            s.mail("ivan@client.example")
            s.rcpt(SUPPORT_ADDRESS)
            return s.data(crlf(f"From: ivan@client.example\nTo: {SUPPORT_ADDRESS}\n"
                               f"Subject: {subject}\n\nЗдравствуйте.\n".encode()))[0]
    except smtplib.SMTPConnectError as exc:
        return exc.smtp_code


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[Daemon]:
    d = desk(tmp_path, max_connections=6, max_connections_per_client=3)
    with running(d):
        yield d


def test_a_client_past_its_cap_is_told_421_while_others_deliver(capped: Daemon) -> None:
    idle = [connect(capped)[0] for _ in range(3)]  # its share, saying nothing
    sock, first = connect(capped)
    assert first == b"421 4.7.0 Too many connections from your address, try again later\r\n"
    assert closed_after(sock)
    assert deliver(capped, "127.0.0.2", "Другой отправитель") == 250

    # Six in all: the seventh, from an address with none open, is refused too.
    idle += [connect(capped, "127.0.0.2")[0] for _ in range(2)]
    idle.append(connect(capped, "127.0.0.3")[0])
    sock, first = connect(capped, "127.0.0.4")
    assert first.startswith(b"421 4.3.2 Too many connections") and closed_after(sock)

    idle.pop().close()  # one goes: there is room again
    wait_until(lambda: deliver(capped, "127.0.0.4", "Место освободилось") == 250, 10)
    refused = capped.events("smtp.connection_refused")
    assert [e["reason"] for e in refused] == ["per_client", "total"]
    assert refused[0]["client"] == "127.0.0.1" and refused[0]["from_client"] == 3
    for s in idle:
        s.close()


def test_out_of_descriptors_is_one_line_and_senders_get_in_when_they_free(
        tmp_path: Path) -> None:
    d = desk(tmp_path, max_connections=200, max_connections_per_client=200)
    idle: list[socket.socket] = []
    with running(d):
        # Lower the running daemon's limit to a few more than it has open: accept()
        # fails with EMFILE long before the caps (the daemon checks them at start).
        fds = len(os.listdir(f"/proc/{d.pid}/fd"))
        resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (fds + 20, fds + 20))
        for n in range(60):  # what accept() cannot take waits in the kernel's backlog
            sock = socket.create_connection(("127.0.0.1", d.port), timeout=10,
                                            source_address=(f"127.0.0.{2 + n}", 0))
            idle.append(sock)
        d.wait_for_event("smtp.out_of_descriptors")
        time.sleep(4)  # asyncio's own accept logged ~100 tracebacks each second here
        assert len(d.events("smtp.out_of_descriptors")) == 1
        assert "Traceback" not in d.log.read_text(errors="replace")
        assert d.try_send(b"Subject: wait\r\n\r\nx\r\n", timeout=3)[0] != 250

        for sock in idle:
            sock.close()
        answers = d.deliver(b"From: ivan@client.example\r\nSubject: after\r\n\r\nx\r\n")
        assert answers[-1][0] == 250
        assert "Traceback" not in d.log.read_text(errors="replace")
        [event] = d.events("smtp.out_of_descriptors")
        assert event["level"] == "warning" and "Too many open files" in event["error"]


def big_letter(subject: str) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "ivan@client.example", SUPPORT_ADDRESS, subject
    m["Message-ID"] = f"<{subject}@client.example>"
    m.set_content("Журнал во вложении.\n")
    m.add_attachment(os.urandom(SPILL), maintype="application",
                     subtype="octet-stream", filename="journal.bin")
    return crlf(m.as_bytes())


@pytest.fixture
def hasty(tmp_path: Path) -> Iterator[Daemon]:
    """A desk with a 2-second [smtp] timeout, and room for letters past SPILL."""
    d = desk(tmp_path, timeout=2)
    d.config.write_text(d.config.read_text().replace(
        "max_message_size = 1048576", f"max_message_size = {SPILL * 2}"))
    with running(d):
        yield d


def test_data_that_keeps_coming_is_taken_and_silence_is_dropped(hasty: Daemon) -> None:
    # Slow but steady: a piece every 0.6 s, 6 s in all, three times the timeout.
    raw = big_letter("steady")
    sock = hasty.open_data(raw, part=0.1)
    stuffed = raw.replace(b"\r\n.", b"\r\n..")  # as open_data sends it
    rest = stuffed[int(len(stuffed) * 0.1):]
    pieces = 10
    size = len(rest) // pieces + 1
    for i in range(pieces):
        time.sleep(0.6)
        sock.sendall(rest[i * size:(i + 1) * size])
    sock.sendall(b".\r\n")
    assert sock.makefile("rb").readline().startswith(b"250 ")
    sock.close()

    # Silent after half a letter that already went to spool/tmp: dropped, and its
    # file with it.
    sock = hasty.open_data(big_letter("silent"), part=0.9)
    wait_until(lambda: list((hasty.root / "spool" / "tmp").iterdir()), 10)
    sock.settimeout(10)
    assert sock.makefile("rb").readline().startswith(b"421 4.4.2")
    assert closed_after(sock)

    # An idle connection goes after the timeout too, told why.
    sock, first = connect(hasty)
    assert first.startswith(b"220 ")
    assert sock.makefile("rb").readline().startswith(b"421 4.4.2") and closed_after(sock)

    spool = hasty.root / "spool"
    wait_until(lambda: spool_state(spool).settled, 60, message=hasty.tail)
    assert not list((spool / "tmp").iterdir()) and not list((spool / "incoming").iterdir())
    assert [Spool.raw_of(f) for f in (spool / "store").glob("*/*/*/*")] == [raw]


def test_caps_above_the_open_file_limit_are_refused_naming_the_key(tmp_path: Path) -> None:
    """The defaults (256 connections) need 640 open files: under a limit of 512 neither
    check-config (the unit's ExecStartPre) nor run starts; under 1024 both do."""
    cfg, _ = write_daemon_config(tmp_path)

    def supportd(command: str, limit: int) -> subprocess.CompletedProcess[bytes]:
        def lower() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        return subprocess.run([*SUPPORTD, "--config", str(cfg), command], cwd=PROJECT,
                              capture_output=True, timeout=60, preexec_fn=lower)

    for command in ("check-config", "run"):
        p = supportd(command, 512)
        assert p.returncode == 78, p.stderr
        assert b"config error: smtp.max_connections: 256 connections need 640 open files" \
            in p.stderr and b"may open 512" in p.stderr
    assert supportd("check-config", 1024).returncode == 0


class Greeter(asyncio.Protocol):
    """A stand-in session: greets, and tells the listener when it ends."""

    def __init__(self) -> None:
        self.on_close: Callable[[], None] = lambda: None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(b"220 hello\r\n")

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_close()


def test_the_accept_loop_in_process_counts_refuses_and_survives_a_bad_session() -> None:
    """The listener alone, on a free port: a session that cannot be made costs only
    its connection, and the caps count what is open."""
    async def scenario() -> list[bytes]:
        made = 0

        def factory() -> Greeter:
            nonlocal made
            made += 1
            if made == 1:
                raise RuntimeError("a bug in making a session")
            return Greeter()

        caps = Caps(total=2, per_client=1)
        listener = Listener(bind("127.0.0.1", 0), factory, caps)
        port = listener.sockets[0].getsockname()[1]
        listener.start()
        heard, writers = [], []
        for client in ("127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.3"):
            reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                           local_addr=(client, 0))
            heard.append(await asyncio.wait_for(reader.readline(), 5))
            writers.append(writer)
        assert caps.open == 2
        for writer in writers:
            writer.close()
        await asyncio.sleep(0.2)
        assert caps.open == 0 and caps.by_client == {}
        listener.close()
        await listener.wait_closed()
        return heard

    assert asyncio.run(scenario()) == [
        b"", b"220 hello\r\n", TOO_MANY_FROM_CLIENT.encode() + b"\r\n", b"220 hello\r\n",
        TOO_MANY.encode() + b"\r\n"]
