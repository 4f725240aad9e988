"""The real daemon, as a separate process, spoken to over a real SMTP socket.

These are the user's story end to end: `supportd run` listening on loopback,
smtplib delivering, the acknowledgement appearing in the outbox Maildir, and the
CLI showing the ticket. The crash drill kills the daemon with SIGKILL while a
letter is between "250" and its commit, and checks the restart processes it
exactly once.
"""

from __future__ import annotations

import os
import signal
import smtplib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness.daemon import Daemon, crlf
from bench.harness.desk_config import free_port, write_config
from tests.conftest import PROJECT, simple_letter

SUPPORTD = [sys.executable, "-m", "daemon.cli"]


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    port = free_port()
    cfg = write_config(tmp_path, smtp_port=port)
    d = Daemon(tmp_path, port, cfg)
    assert d.cli("db", "upgrade").returncode == 0
    d.start()
    yield d
    if d.proc is not None:
        d.stop(signal.SIGKILL)


def test_a_letter_over_smtp_becomes_a_ticket_and_an_acknowledgement(daemon: Daemon) -> None:
    code, resp = daemon.send(simple_letter("Не работает отчёт", message_id="<m1@client.example>"))
    assert code == 250 and b"queued as" in resp

    acks = daemon.wait_for(lambda: [m for m in daemon.outbox()
                                    if "ivan@client.example" in str(m["To"])])
    ack = acks[0]
    tickets = daemon.tickets()
    assert len(tickets) == 1
    tid = tickets[0]["tid"]
    assert f"[{tid}]" in str(ack["Subject"]) and "Не работает отчёт" in str(ack["Subject"])
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == "<m1@client.example>"
    body = ack.get_body(("plain",)).get_content()
    assert tid in body and "Консультирование по общим вопросам" in body
    assert "Срок реакции: до " in body and "(МСК)" in body

    shown = daemon.show(tid)
    assert shown["status"] == "new" and shown["sla_level"] == "consultation"
    assert shown["requester"] == "ivan@client.example"
    kinds = [(m["direction"], m["kind"]) for m in shown["messages"]]
    assert ("in", "client") in kinds and ("out", "ack") in kinds
    # the assignee (load-balanced agent) got a notification naming the TID
    notes = [m for m in daemon.outbox() if str(m["To"]) == shown["assignee"]]
    assert notes and tid in str(notes[0]["Subject"])


def test_an_oversized_letter_is_refused_at_data_with_a_clear_552(daemon: Daemon) -> None:
    big = simple_letter("Большое письмо", ("x" * 70 + "\n") * 17_000)
    with smtplib.SMTP("127.0.0.1", daemon.port, timeout=30) as s:
        s.ehlo("client.example")
        assert s.has_extn("size")
        s.mail("ivan@client.example")
        s.rcpt("techsupport@example.ru")
        code, resp = s.data(crlf(big))
    assert code == 552
    assert b"too big" in resp and b"1048576" in resp
    assert daemon.tickets() == []


def test_sigkill_between_accept_and_commit_loses_nothing_and_doubles_nothing(
        daemon: Daemon) -> None:
    # Hold the database's write lock, so the runner claims the letter and then
    # waits at its commit: that is the window between "250" and the ticket.
    lock = sqlite3.connect(daemon.root / "supportd.db", timeout=30, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        code, _ = daemon.send(simple_letter("Письмо перед сбоем", message_id="<crash@x>"))
        assert code == 250
        claimed = daemon.wait_for(lambda: list((daemon.root / "spool" / "processing")
                                               .glob("*/*")))
        assert claimed
        daemon.stop(signal.SIGKILL)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert daemon.tickets() == []  # nothing committed, and the letter is still on disk
    daemon.start()
    tickets = daemon.wait_for(daemon.tickets)
    time.sleep(1.0)  # give a double-processing bug time to show itself
    assert len(daemon.tickets()) == 1 and tickets[0]["subject"] == "Письмо перед сбоем"
    acks = daemon.wait_for(lambda: [m for m in daemon.outbox()
                                    if "ivan@client.example" in str(m["To"])])
    assert len(acks) == 1


def test_sighup_reloads_and_sigterm_stops_cleanly(daemon: Daemon) -> None:
    assert daemon.proc is not None
    daemon.config.write_text(daemon.config.read_text().replace(
        'name = "Анна Петрова"', 'name = "Анна Сидорова"'), encoding="utf-8")
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_for(lambda: "config.reloaded" in daemon.log.read_text())
    daemon.send(simple_letter("После перезагрузки настроек"))
    [ack] = daemon.wait_for(lambda: [m for m in daemon.outbox()
                                     if "ivan@client.example" in str(m["To"])])
    assert "Ответственный сотрудник: Анна Сидорова" in ack.get_body(("plain",)).get_content()
    assert daemon.stop(signal.SIGTERM) == 0
    assert "service.stopped" in daemon.log.read_text()


def test_a_bad_config_is_refused_with_the_key_named(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, extra='[calendar]\nday_start = "19:00"\n')
    p = subprocess.run([*SUPPORTD, "--config", str(cfg), "check-config"], capture_output=True,
                       cwd=PROJECT, timeout=60)
    assert p.returncode == 78
    assert b"calendar.day_end" in p.stderr


def test_database_down_means_451_and_ingest_exit_75(tmp_path: Path) -> None:
    port, dead = free_port(), free_port()
    cfg = write_config(tmp_path, db_url=f"postgresql+psycopg://nobody@127.0.0.1:{dead}/none",
                       smtp_port=port)
    d = Daemon(tmp_path, port, cfg)
    p = d.cli("ingest", "-", input=simple_letter())
    assert p.returncode == 75, p.stderr
    assert not list((tmp_path / "spool").glob("*/*/*"))  # ingest kept nothing: the MTA retries
    d.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
            s.ehlo("client.example")
            s.mail("ivan@client.example")
            s.rcpt("techsupport@example.ru")
            code, resp = s.data(crlf(simple_letter()))
        assert code == 451, resp
    finally:
        d.stop(signal.SIGKILL)


@pytest.mark.skipif(not os.path.exists("/usr/bin/swaks"), reason="swaks not installed")
def test_swaks_as_in_the_readme(daemon: Daemon) -> None:
    p = subprocess.run(["swaks", "--server", f"127.0.0.1:{daemon.port}", "--to",
                        "techsupport@example.ru", "--from", "client@example.org",
                        "--header", "Subject: Test via swaks", "--body", "Проверка"],
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stdout[-500:]
    daemon.wait_for(lambda: [m for m in daemon.outbox() if "client@example.org" in str(m["To"])])


def test_a_client_with_a_cyrillic_address_is_answered_there(daemon: Daemon) -> None:
    """SMTPUTF8 (RFC 6531): the sending MTA gives MAIL FROM and the headers in UTF-8;
    the ticket's requester and the acknowledgement's recipient are that address."""
    client = "пётр.смирнов@почта.рф"
    raw = (PROJECT / "tests" / "fixtures" / "eml" / "new-smtputf8-cyrillic-address.eml"
           ).read_bytes()
    with smtplib.SMTP("127.0.0.1", daemon.port, timeout=30) as s:
        s.ehlo("mx.xn--80a1acny.xn--p1ai")
        assert s.has_extn("smtputf8")
        s.sendmail(client, ["techsupport@example.ru"], crlf(raw), mail_options=["SMTPUTF8"])

    def acks() -> list[bytes]:
        new = daemon.root / "outbox" / "new"
        return [f.read_bytes() for f in new.glob("*")
                if b"Auto-Submitted: auto-replied" in f.read_bytes()] if new.exists() else []

    [ack] = daemon.wait_for(acks)
    head = ack.split(b"\n\n", 1)[0].decode("utf-8")
    assert f"To: {client}" in head.splitlines()
    [ticket] = daemon.tickets()
    assert daemon.show(ticket["tid"])["requester"] == client
