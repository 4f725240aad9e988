"""The outbox against a real SMTP relay (an aiosmtpd sink on loopback).

What a client must never see is a lost or doubled letter: a relay that is down
or says 4xx means the same letter (same bytes, same Message-ID) is retried later;
a 5xx means it is marked failed and the ticket is flagged for staff.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from structlog.testing import capture_logs

from bench.harness.desk_config import free_port
from daemon.config.schema import OutboundConfig
from daemon.outbound import outbox
from daemon.storage.models import Outgoing, Ticket
from tests.conftest import Desk, fixture_bytes, make_desk, simple_letter


class Relay:
    """Records what it accepts; answers `reply` to DATA when set."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.reply: str | None = None

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        if self.reply:
            return self.reply
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos),
                              envelope.original_content))
        return "250 OK"


@pytest.fixture
def relay_port() -> int:
    return free_port()


@pytest.fixture
def relay(relay_port: int) -> Iterator[Relay]:
    handler = Relay()
    ctl = Controller(handler, hostname="127.0.0.1", port=relay_port)
    ctl.start()
    yield handler
    ctl.stop()


def smtp_desk(root: Path, port: int) -> Desk:
    return make_desk(root, outbound=f'transport = "smtp"\nhost = "127.0.0.1"\nport = {port}\n'
                                    f'timeout = 5\nmax_attempts = 3')


def rows(desk: Desk) -> list[Outgoing]:
    with desk.app.sessions() as s:
        return list(s.query(Outgoing).order_by(Outgoing.id))


def test_letters_leave_through_the_relay_with_encoded_russian_headers(
        tmp_path: Path, relay: Relay, relay_port: int) -> None:
    desk = smtp_desk(tmp_path, relay_port)
    desk.ingest(simple_letter("Не формируется акт сверки"))
    with capture_logs() as logs:
        report = desk.flush()
    assert report.sent == 2 and report.deferred == 0
    marked = rows(desk)
    assert [(r.status, r.attempts, r.last_error) for r in marked] == [("sent", 1, "")] * 2
    assert all(r.sent_at is not None and r.sent_at.tzinfo is not None for r in marked)
    sent = [e for e in logs if e["event"] == "outbox.sent"]
    assert sorted((e["outgoing_id"], e["tid"], e["to"]) for e in sent) == sorted(
        (r.id, "SD-000013", r.recipient) for r in marked)
    ack = next(r for r in relay.received if "ivan@client.example" in r[1])
    assert ack[0] == "techsupport@example.ru"
    raw = ack[2]
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"=?utf-8?" in head  # RFC 2047, never raw 8-bit in a header
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(msg["Subject"]) == "[SD-000013] Не формируется акт сверки"
    assert msg["Message-ID"] == rows(desk)[0].message_id
    assert msg["Auto-Submitted"] == "auto-replied"


def test_a_relay_that_is_down_means_retry_later_with_the_same_letter(
        tmp_path: Path, relay_port: int) -> None:
    desk = smtp_desk(tmp_path, relay_port)  # nothing listens on relay_port yet
    desk.ingest(simple_letter("Письмо при упавшем релее"))
    report = outbox.flush(desk.app.outbox, outbox.make_transport(desk.app.config.outbound))
    assert report.sent == 0 and report.deferred == 2
    first = rows(desk)
    assert all(r.status == "queued" and r.attempts == 1 for r in first)
    assert all(r.next_attempt_at > desk.app.now() for r in first)
    assert "ConnectionRefused" in first[0].last_error
    # not due yet: an ordinary pass sends nothing
    transport = outbox.make_transport(desk.app.config.outbound)
    assert outbox.flush(desk.app.outbox, transport).deferred == 0

    handler = Relay()
    ctl = Controller(handler, hostname="127.0.0.1", port=relay_port)
    ctl.start()
    try:
        later = desk.app.now() + timedelta(minutes=5)
        desk.app._clock = lambda: later  # the retry time has come
        report = outbox.flush(desk.app.outbox, outbox.make_transport(desk.app.config.outbound))
    finally:
        ctl.stop()
    assert report.sent == 2
    sent_ids = {email.message_from_bytes(r[2])["Message-ID"] for r in handler.received}
    assert sent_ids == {r.message_id for r in first}  # the same letters, not new ones
    assert all(r.status == "sent" for r in rows(desk))


def test_a_temporary_refusal_is_retried(tmp_path: Path, relay: Relay, relay_port: int) -> None:
    desk = smtp_desk(tmp_path, relay_port)
    relay.reply = "451 4.3.0 Try again later"
    desk.ingest(simple_letter("Временная ошибка релея"))
    assert desk.flush().deferred == 2
    relay.reply = None
    assert desk.flush().sent == 2


def test_a_permanent_refusal_fails_the_letter_and_flags_the_ticket(
        tmp_path: Path, relay: Relay, relay_port: int) -> None:
    desk = smtp_desk(tmp_path, relay_port)
    relay.reply = "554 5.7.1 Rejected by policy"
    desk.ingest(simple_letter("Отказ релея"))
    report = desk.flush()
    assert report.failed == 2
    assert all(r.status == "failed" and "554" in r.last_error for r in rows(desk))
    [t] = desk.tickets()
    assert t["needs_attention"] and "не отправлено" in t["attention_reason"]


def test_too_many_attempts_fail_the_letter(tmp_path: Path, relay_port: int) -> None:
    desk = smtp_desk(tmp_path, relay_port)  # max_attempts = 3, nothing listening
    desk.ingest(simple_letter("Три попытки"))
    for _ in range(3):
        desk.flush()
    assert all(r.status == "failed" and r.attempts == 3 for r in rows(desk))


def test_on_sqlite_letters_are_processed_while_the_relay_holds_a_letter(
        tmp_path: Path) -> None:
    """SQLite has one write lock: the outbox must not hold it while the relay takes its
    time, or the pipeline (the same process, under `supportd run`) stops with it."""
    from tests.support.drills import Relay as StallingRelay

    relay = StallingRelay().up()
    try:
        desk = make_desk(tmp_path, outbound=relay.outbound)
        desk.ingest(simple_letter("Первое обращение"))
        relay.handler.stall = True
        sender = threading.Thread(target=desk.flush)
        sender.start()
        assert relay.handler.stalled.wait(30)  # the relay holds the acknowledgement
        started = time.monotonic()
        desk.ingest(simple_letter("Второе обращение", sender="Олег <oleg@client.example>"))
        assert time.monotonic() - started < 4  # not behind the relay (it holds on for 5 s)
        relay.handler.release()
        sender.join(60)
        desk.flush()
        assert sorted(r.status for r in rows(desk)) == ["sent"] * 4
        assert set(relay.handler.counts().values()) == {1}  # each once
    finally:
        relay.down()


def test_on_sqlite_a_bounce_recorded_while_the_letter_was_out_is_not_overwritten(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The relay took the letter and its bounce came back (the pipeline recorded it)
    before the outbox marked the letter: it stays bounced."""
    from sqlalchemy import update

    from daemon.storage import db

    desk = make_desk(tmp_path)
    desk.ingest(simple_letter("Не приходит отчёт"))
    transport = outbox.make_transport(desk.app.config.outbound)
    real_send = transport.send

    def send_and_bounce(sender: str, recipients: list[str], raw: bytes) -> None:
        real_send(sender, recipients, raw)
        with db.unit_of_work(desk.app.sessions) as s:  # what screen.py does for a DSN
            s.execute(update(Outgoing).where(Outgoing.recipient == "ivan@client.example")
                      .values(status="bounced", last_error="5.1.1 user unknown"))

    monkeypatch.setattr(transport, "send", send_and_bounce)
    with capture_logs() as logs:
        report = outbox.flush(desk.app.outbox, transport, force=True)
    ack = next(r for r in rows(desk) if r.recipient == "ivan@client.example")
    assert (ack.status, ack.last_error) == ("bounced", "5.1.1 user unknown")
    assert report.sent == 1  # the staff notification; the bounced letter is not "sent"
    assert [e["to"] for e in logs if e["event"] == "outbox.sent"] == [
        r.recipient for r in rows(desk) if r.status == "sent"]
    assert not list(desk.app.spool.sent.iterdir())  # the journal let go of it


@pytest.mark.parametrize("smtputf8", [True, False], ids=["relay-with-smtputf8", "relay-without"])
def test_an_internationalised_address_is_answered_over_smtputf8_or_flagged(
        tmp_path: Path, relay_port: int, smtputf8: bool) -> None:
    """RFC 6531/6532: the client wrote from пётр.смирнов@почта.рф. The acknowledgement
    goes to that address, its To: in UTF-8, on a relay that takes SMTPUTF8; a relay
    that does not never will: the letter fails at once and the ticket is flagged."""
    handler = Relay()
    ctl = Controller(handler, hostname="127.0.0.1", port=relay_port,
                     enable_SMTPUTF8=smtputf8)
    ctl.start()
    try:
        desk = smtp_desk(tmp_path, relay_port)
        desk.ingest(fixture_bytes("new-smtputf8-cyrillic-address.eml"))
        report = desk.flush()
    finally:
        ctl.stop()
    client = "пётр.смирнов@почта.рф"
    [ack] = [r for r in rows(desk) if r.kind == "ack"]
    assert ack.recipient == client
    if smtputf8:
        assert (report.sent, report.failed) == (2, 0)
        [(mail_from, rcpts, raw)] = [r for r in handler.received if client in r[1]]
        assert (mail_from, rcpts) == ("techsupport@example.ru", [client])
        # The stdlib reads 8-bit header bytes as escapes; RFC 6532 says they are UTF-8.
        msg = email.message_from_string(raw.decode("utf-8"), policy=email.policy.default)
        assert msg["To"].addresses[0].addr_spec == client
        assert "[SD-000013]" in str(msg["Subject"])
    else:
        assert (report.sent, report.failed) == (1, 1)  # the staff notification went
        assert ack.status == "failed" and "SMTPUTF8" in ack.last_error
        with desk.app.sessions() as s:
            ticket = s.get(Ticket, ack.ticket_id)
            assert ticket is not None and ticket.needs_attention


def test_an_outbox_that_cannot_be_set_up_keeps_trying_and_sends_after_a_reload(
        tmp_path: Path) -> None:
    """`supportd run`'s outbox thread (daemon/service/mailer.py): a transport that cannot be
    made (here a Maildir under a file; a missing or empty password file alike) is
    logged and tried again; the thread lives on, and the letters go once it is fixed."""
    from dataclasses import replace

    from daemon.service.mailer import Mailer

    blocker = tmp_path / "blocker"
    blocker.write_text("")
    desk = make_desk(tmp_path, outbound=f'transport = "maildir"\nmaildir = "{blocker}/outbox"')
    desk.ingest(simple_letter("Письмо, пока почта не настроена"))
    mailer = Mailer(desk.app, lambda: True)
    with capture_logs() as logs:
        mailer.start()
        try:
            wait_for(lambda: any(e["event"] == "outbox.transport_failed" for e in logs))
            assert mailer.thread.is_alive()
            good = tmp_path / "outbox"
            cfg = desk.app.config
            desk.app.reconfigure(replace(cfg, outbound=replace(cfg.outbound, maildir=str(good))))
            mailer.wake()
            wait_for(lambda: len(list((good / "new").glob("*"))) == 2 if good.exists() else False)
        finally:
            mailer.stop(10)
    assert not mailer.thread.is_alive()
    assert [r.status for r in rows(desk)] == ["sent", "sent"]


def wait_for(condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_stopping_daemon_ends_its_flush_after_the_letter_in_hand(tmp_path: Path) -> None:
    desk = make_desk(tmp_path)
    desk.ingest(simple_letter("Первое письмо"))
    desk.ingest(simple_letter("Второе письмо", message_id="<second@client.example>"))
    transport = outbox.make_transport(desk.app.config.outbound)
    handed: list[bytes] = []
    real_send = transport.send

    def send(sender: str, recipients: list[str], raw: bytes) -> None:
        real_send(sender, recipients, raw)
        handed.append(raw)

    transport.send = send  # type: ignore[method-assign]
    report = outbox.flush(desk.app.outbox, transport, force=True, stop=lambda: len(handed) >= 1)
    assert report.sent == 1 and len(handed) == 1
    assert sorted(r.status for r in rows(desk)) == ["queued", "queued", "queued", "sent"]
    assert outbox.flush(desk.app.outbox, transport, force=True).sent == 3  # the rest, next time


def test_a_relay_without_smtputf8_still_gets_the_letter_for_its_ascii_recipients(
        relay_port: int) -> None:
    """A staff answer copied to the ticket's participants, one of them at a Cyrillic
    address: a relay without SMTPUTF8 cannot take that copy, but the client and the
    other participants still get theirs, the header naming only them."""
    from daemon.outbound.mailbuild import Outbound, build

    handler = Relay()
    ctl = Controller(handler, hostname="127.0.0.1", port=relay_port, enable_SMTPUTF8=False)
    ctl.start()
    try:
        cfg = OutboundConfig(transport="smtp", host="127.0.0.1", port=relay_port, timeout=5)
        raw = build(Outbound(
            sender="techsupport@example.ru", sender_name="Служба техподдержки",
            to="ivan@client.example", cc=("пётр@почта.рф", "boss@client.example"),
            subject="[SD-000013] Ответ", text="Здравствуйте!", html=None,
            message_id="<r1@example.ru>", date=datetime(2026, 11, 25, 10, 0, tzinfo=UTC)))
        recipients = outbox.recipients_of(raw, "ivan@client.example")
        assert "пётр@почта.рф" in recipients
        with capture_logs() as logs:
            outbox.SmtpTransport(cfg).send("techsupport@example.ru", recipients, raw)
    finally:
        ctl.stop()
    [(_, rcpts, got)] = handler.received
    assert sorted(rcpts) == ["boss@client.example", "ivan@client.example"]
    msg = email.message_from_bytes(got, policy=email.policy.default)
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["boss@client.example"]
    assert got.split(b"\r\n\r\n", 1)[1].rstrip() == raw.split(b"\r\n\r\n", 1)[1].rstrip()
    [warned] = [e for e in logs if e["event"] == "outbox.partly_refused"]
    assert warned["dropped"] == ["пётр@почта.рф"]
