"""The thin MTA pipe's client (daemon/intake/thin_pipe.py) against a stand-in daemon:
a Unix socket answering HELLO and QUEUED as `supportd run` does."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.intake import thin_pipe
from daemon.intake.thin_pipe import Doorbell, envelope_for, hand_over, refusal
from daemon.storage.spool import Envelope, Spool

LETTER = b"From: ivan@client.example\r\nSubject: test\r\n\r\nHello\r\n"
ENVELOPE = Envelope("ingest", "ivan@client.example", ("techsupport@example.ru",))


class StandIn:
    """A daemon's doorbell that answers HELLO with `hello` and records what it heard."""

    def __init__(self, spool_root: Path, hello: str = "250 1000") -> None:
        self.hello = hello
        self.heard: list[str] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with thin_pipe.reachable(thin_pipe.socket_path(spool_root)) as address:
            self.sock.bind(address)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as f:
                for line in f:
                    text = line.decode().strip()
                    self.heard.append(text)
                    conn.sendall((self.hello if text == "HELLO" else "250 OK").encode() + b"\n")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() in its thread
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    s = Spool(tmp_path / "spool")
    s.ensure()
    return s


@pytest.fixture
def letter_file(tmp_path: Path) -> str:
    path = tmp_path / "letter.eml"
    path.write_bytes(LETTER)
    return str(path)


@pytest.fixture
def daemon(spool: Spool) -> Iterator[StandIn]:
    d = StandIn(spool.root)
    yield d
    d.close()


def test_a_running_daemon_gets_the_letter_durably_in_incoming(
        spool: Spool, daemon: StandIn, letter_file: str) -> None:
    code, line = hand_over(spool.root, letter_file, ENVELOPE) or (None, "")
    assert code == 0 and line.startswith("queued ")
    [path] = spool.pending()
    stored = Spool.read(path)
    assert stored.raw == LETTER and stored.envelope == ENVELOPE
    assert daemon.heard == ["HELLO", f"QUEUED {path.name} {len(LETTER)}"]
    assert not list(spool.tmp.iterdir())


def test_no_socket_means_no_daemon_and_nothing_is_read(spool: Spool) -> None:
    assert hand_over(spool.root, "/nonexistent/letter.eml", ENVELOPE) is None
    assert not spool.pending()


def test_a_socket_left_by_a_dead_daemon_means_no_daemon(spool: Spool, letter_file: str) -> None:
    StandIn(spool.root).close()  # the file stays, nobody listens
    assert thin_pipe.socket_path(spool.root).exists()
    assert hand_over(spool.root, letter_file, ENVELOPE) is None
    assert not spool.pending()


def test_a_daemon_without_its_database_means_exit_75_and_nothing_kept(
        spool: Spool, letter_file: str) -> None:
    d = StandIn(spool.root, hello="451 letters cannot be processed now")
    try:
        code, line = hand_over(spool.root, letter_file, ENVELOPE) or (None, "")
    finally:
        d.close()
    assert code == 75 and "try again later" in line and "cannot be processed" in line
    assert not spool.pending()


@pytest.mark.parametrize("raw, why", [(b"x" * 1001, "5.3.4 Message too big: 1001 bytes"),
                                      (b"", "5.6.0 Empty message"),
                                      (b"\r\n \r\n", "5.6.0 Empty message")])
def test_a_letter_refused_for_good_is_exit_65_and_nothing_kept(
        spool: Spool, daemon: StandIn, tmp_path: Path, raw: bytes, why: str) -> None:
    (tmp_path / "bad.eml").write_bytes(raw)
    code, line = hand_over(spool.root, str(tmp_path / "bad.eml"), ENVELOPE) or (None, "")
    assert code == 65 and line.startswith(f"refused: {why}")
    assert not spool.pending()


def test_a_spool_that_cannot_take_it_is_exit_75(
        spool: Spool, daemon: StandIn, letter_file: str) -> None:
    spool.incoming.rmdir()
    code, line = hand_over(spool.root, letter_file, ENVELOPE) or (None, "")
    assert code == 75 and "spool" in line
    assert not list(spool.tmp.iterdir())  # nothing half-written left behind


def test_a_daemon_that_does_not_say_it_heard_still_has_the_letter(
        spool: Spool, letter_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    d = StandIn(spool.root)
    monkeypatch.setattr(Doorbell, "queued", lambda self, spool_id, size: False)
    try:
        code, _ = hand_over(spool.root, letter_file, ENVELOPE) or (None, "")
    finally:
        d.close()
    assert code == 0 and len(spool.pending()) == 1  # its workers' timer finds it


def test_a_spool_path_too_long_for_a_socket_address_still_works(tmp_path: Path,
                                                                letter_file: str) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "spool"
    s = Spool(deep)
    s.ensure()
    assert len(str(thin_pipe.socket_path(deep))) > thin_pipe.SUN_PATH_MAX
    d = StandIn(deep)
    try:
        code, _ = hand_over(deep, letter_file, ENVELOPE) or (None, "")
    finally:
        d.close()
    assert code == 0 and len(s.pending()) == 1


def test_refusal_is_the_listeners_rule() -> None:
    assert refusal(b"x", 1) is None
    assert refusal(b"xy", 1) == "5.3.4 Message too big: 2 bytes, the limit is 1"
    assert refusal(b" \n\t", 10) == "5.6.0 Empty message"


def test_the_command_line_says_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENDER", "env@client.example")
    monkeypatch.setenv("RECIPIENT", "desk@example.ru")
    assert envelope_for(None, None) == Envelope("ingest", "env@client.example",
                                                ("desk@example.ru",))
    assert envelope_for("", "other@example.ru") == Envelope("ingest", "",
                                                            ("other@example.ru",))
