"""Letters taken from a real Dovecot over IMAP: tickets, acknowledgements, no loss, no doubles.

Each test starts a throw-away Dovecot on loopback (tests/support/dovecot.py),
builds a desk whose `[imap]` section points at it, and drives `ImapPoller`
in-process: `poll_once()` for step-by-step stories, `run()` in a thread for
IDLE and polling. What is checked is what a person would see: tickets in the
database, acknowledgements in the outbox Maildir, and where the message ended
up on the server.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from sqlalchemy import func, select

from daemon.app import App
from daemon.config import loader as config_mod
from daemon.intake.imap_poller import MARKER, ImapPoller
from daemon.outbound import outbox
from daemon.pipeline.runner import TemporaryFailure
from daemon.storage import db
from daemon.storage.models import Inbound, MailboxState, Ticket
from tests.support.dovecot import Dovecot, running_dovecot

pytestmark = pytest.mark.integration

CLIENT = "ivan@client.example"


# ---------------------------------------------------------------- set-up


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


def make_app(root: Path, server: Dovecot, *, folder: str = "INBOX",
             processed_folder: str = "Processed", idle: bool = True,
             poll_interval: str = "1s", max_size: int = 1048576) -> App:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "supportd.toml"
    path.write_text(f"""[service]
address = "techsupport@example.ru"
timezone = "Europe/Moscow"

[storage]
url = "sqlite:///{root}/supportd.db"
spool = "{root}/spool"

[smtp]
enabled = false
max_message_size = {max_size}

[imap]
enabled = true
host = "{server.host}"
port = {server.port}
ssl = false
username = "{server.user}"
password_file = "{server.password_file}"
folder = "{folder}"
processed_folder = "{processed_folder}"
idle = {"true" if idle else "false"}
poll_interval = "{poll_interval}"

[outbound]
transport = "maildir"
maildir = "{root}/outbox"

[logging]
format = "json"

[[staff]]
name = "Анна Петрова"
email = "agent1@example.ru"
phone = "+7 000 000-00-01"
role = "agent"
""", encoding="utf-8")
    cfg = config_mod.load(path)
    db.upgrade(cfg.storage.url)
    app = App(cfg)
    app.spool.ensure()
    return app


@pytest.fixture
def desk(tmp_path: Path, dovecot: Dovecot) -> Iterator[Callable[..., App]]:
    """`desk(**imap_settings)` → an App reading the test's Dovecot (closed afterwards)."""
    apps: list[App] = []

    def build(**kw: Any) -> App:
        app = make_app(tmp_path / f"desk{len(apps)}", dovecot, **kw)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.close()


class Woken:
    """Counts `wake_outbox()` calls."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def poller_for(app: App, stop: threading.Event | None = None) -> tuple[ImapPoller, Woken]:
    woken = Woken()
    return ImapPoller(app, (stop or threading.Event()).is_set, woken), woken


def letter(subject: str, body: str | None = None, *, sender: str = CLIENT,
           size: int = 0, return_path: bool = True) -> bytes:
    """A client's letter as a delivery agent leaves it in a mailbox (with Return-Path)."""
    m = EmailMessage()
    if return_path:
        m["Return-Path"] = f"<{sender}>"
    m["From"] = f"Иван Клиентов <{sender}>"
    m["To"] = "techsupport@example.ru"
    m["Subject"] = subject
    m["Date"] = email.utils.format_datetime(datetime.now(UTC))
    m["Message-ID"] = f"<{uuid.uuid4().hex}@client.example>"
    text = body or (f"Здравствуйте! {subject}. Система https://edo.client.example, версия 3.14, "
                    "редакция «Корпоративная». При формировании отчёта появляется ошибка 500.")
    if size:
        text += "\n" + "x" * size
    m.set_content(text)
    return m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def tickets(app: App) -> list[tuple[str, str]]:
    with app.sessions() as s:
        return [(t.tid or "", t.subject) for t in s.scalars(select(Ticket).order_by(Ticket.id))]


def imap_inbound(app: App) -> list[Inbound]:
    with app.sessions() as s:
        return list(s.scalars(select(Inbound).where(Inbound.source == "imap")
                              .order_by(Inbound.id)))


def sent_letters(app: App) -> list[EmailMessage]:
    outbox.flush(app.outbox, outbox.make_transport(app.config.outbound), force=True)
    new = Path(app.config.outbound.maildir) / "new"
    return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for f in sorted(new.glob("*"))]


def acks_to_client(app: App) -> list[EmailMessage]:
    return [m for m in sent_letters(app) if CLIENT in str(m["To"])]


def wait_until(check: Callable[[], bool], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


class Running:
    """`poller.run()` in a thread, stopped and joined on exit."""

    def __init__(self, app: App) -> None:
        self.stop = threading.Event()
        self.poller, self.woken = poller_for(app, self.stop)
        self.thread = threading.Thread(target=self.poller.run, name="imap-test", daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=20)
        assert not self.thread.is_alive(), "the poller did not stop"


# ---------------------------------------------------------------- stories


def test_a_letter_in_inbox_becomes_a_ticket_an_ack_and_moves_to_processed(
        desk: Callable[..., App], dovecot: Dovecot) -> None:
    app = desk(processed_folder="Support/Processed")
    dovecot.deliver(letter("Не открывается отчёт"))
    poller, woken = poller_for(app)

    assert poller.poll_once() == 1

    [(tid, subject)] = tickets(app)
    assert subject == "Не открывается отчёт"
    [ack] = acks_to_client(app)
    assert tid in str(ack["Subject"])
    assert woken.count == 1, "the outbox is woken so the acknowledgement goes out at once"
    assert dovecot.list_uids("INBOX") == []
    assert len(dovecot.list_uids("Support/Processed")) == 1, "the folder is created on demand"
    [row] = imap_inbound(app)
    assert row.source_key is not None and row.source_key.startswith(
        f"imap:support@127.0.0.1:{dovecot.port}/INBOX:")
    assert row.envelope_from == CLIENT
    poller.disconnect()


def test_without_processed_folder_the_letter_is_flagged_and_not_taken_again(
        desk: Callable[..., App], dovecot: Dovecot) -> None:
    app = desk(processed_folder="")
    uid = dovecot.deliver(letter("Ошибка при входе"))
    poller, woken = poller_for(app)

    assert poller.poll_once() == 1
    assert poller.poll_once() == 0

    assert len(tickets(app)) == 1
    assert {"\\Seen", MARKER} <= dovecot.flags("INBOX")[uid]
    assert woken.count == 1
    # A second daemon (a restart) starts from the saved state and takes nothing either.
    again, _ = poller_for(app)
    assert again.poll_once() == 0
    assert len(tickets(app)) == 1
    with app.sessions() as s:
        state = s.scalar(select(MailboxState))
        assert state is not None and state.last_uid == uid
    poller.disconnect()
    again.disconnect()


def test_a_letter_put_in_by_a_mail_client_is_answered_too(
        desk: Callable[..., App], dovecot: Dovecot) -> None:
    """No Return-Path (dragged into the folder by a person): the sender is unknown, not <>."""
    app = desk(processed_folder="")
    dovecot.deliver(letter("Перенесено вручную", return_path=False))
    poller, _ = poller_for(app)
    assert poller.poll_once() == 1
    [(tid, _)] = tickets(app)
    [ack] = acks_to_client(app)
    assert tid in str(ack["Subject"])
    poller.disconnect()


def test_idle_takes_a_new_letter_within_seconds(desk: Callable[..., App],
                                                dovecot: Dovecot) -> None:
    app = desk(idle=True, poll_interval="10m")  # only IDLE can make it in time
    with Running(app) as running:
        assert wait_until(lambda: running.poller.client is not None, 30)
        time.sleep(0.5)  # let it enter IDLE
        dovecot.deliver(letter("Письмо во время IDLE"))
        assert wait_until(lambda: len(tickets(app)) == 1, 60), dovecot.log()[-2000:]
        assert wait_until(lambda: dovecot.list_uids("INBOX") == [], 5)
        assert running.woken.count >= 1
    assert len(acks_to_client(app)) == 1


def test_polling_without_idle_takes_letters(desk: Callable[..., App], dovecot: Dovecot) -> None:
    app = desk(idle=False, poll_interval="1s")
    dovecot.deliver(letter("Первое письмо"))
    with Running(app) as running:
        assert wait_until(lambda: len(tickets(app)) == 1, 60)
        dovecot.deliver(letter("Второе письмо"))
        assert wait_until(lambda: len(tickets(app)) == 2, 60)
        assert running.poller.client is not None
    assert [s for _, s in tickets(app)] == ["Первое письмо", "Второе письмо"]
    assert len(dovecot.list_uids("Processed")) == 2


def test_a_dovecot_restart_loses_nothing_and_duplicates_nothing(
        desk: Callable[..., App], dovecot: Dovecot) -> None:
    app = desk(idle=True, poll_interval="10m")
    with Running(app):
        dovecot.deliver(letter("До перезапуска"))
        assert wait_until(lambda: len(tickets(app)) == 1, 60)
        dovecot.restart()
        dovecot.deliver(letter("После перезапуска"))
        assert wait_until(lambda: len(tickets(app)) == 2, 30), dovecot.log()[-2000:]
        dovecot.stop()
        time.sleep(1.5)  # the poller is now backing off
        dovecot.start()
        dovecot.deliver(letter("После остановки"))
        assert wait_until(lambda: len(tickets(app)) == 3, 30)
        time.sleep(1.0)
    assert [s for _, s in tickets(app)] == ["До перезапуска", "После перезапуска",
                                            "После остановки"]
    assert dovecot.list_uids("INBOX") == []
    assert len(dovecot.list_uids("Processed")) == 3
    assert len(imap_inbound(app)) == 3


def test_poll_once_reconnects_after_a_restart(desk: Callable[..., App],
                                              dovecot: Dovecot) -> None:
    app = desk(processed_folder="")
    poller, _ = poller_for(app)
    dovecot.deliver(letter("Первое"))
    assert poller.poll_once() == 1
    dovecot.restart()
    dovecot.deliver(letter("Второе"))
    assert poller.poll_once() == 1
    assert len(tickets(app)) == 2
    poller.disconnect()


@pytest.mark.parametrize("processed_folder", ["", "Processed"])
def test_a_crash_between_commit_and_mark_makes_one_ticket(
        desk: Callable[..., App], dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch,
        processed_folder: str) -> None:
    app = desk(processed_folder=processed_folder)
    uid = dovecot.deliver(letter("Письмо перед сбоем"))
    poller, _ = poller_for(app)
    real_mark = ImapPoller._mark
    crashed: list[int] = []

    def server_dies_first(self: ImapPoller, client: IMAPClient, uid: int) -> None:
        if not crashed:
            crashed.append(uid)
            dovecot.stop()  # the ticket is committed; the mark cannot reach the server
        real_mark(self, client, uid)

    monkeypatch.setattr(ImapPoller, "_mark", server_dies_first)
    with pytest.raises(Exception):  # noqa: B017 - whatever the library raises on a dead socket
        poller.poll_once()
    assert crashed == [uid]
    assert len(tickets(app)) == 1

    dovecot.start()
    assert dovecot.list_uids("INBOX") == [uid], "the message is still there, unmarked"
    assert MARKER not in dovecot.flags("INBOX")[uid]
    assert poller.poll_once() == 1  # recognised and only marked
    assert poller.poll_once() == 0

    assert len(tickets(app)) == 1
    assert len(imap_inbound(app)) == 1
    assert len(acks_to_client(app)) == 1
    if processed_folder:
        assert dovecot.list_uids("INBOX") == []
        assert len(dovecot.list_uids(processed_folder)) == 1
    else:
        assert MARKER in dovecot.flags("INBOX")[uid]
    poller.disconnect()


def test_a_new_uidvalidity_takes_nothing_twice(desk: Callable[..., App],
                                               dovecot: Dovecot) -> None:
    """The folder is rebuilt (a restore, a migration): new UIDVALIDITY, new UIDs, no flags."""
    app = desk(folder="Support", processed_folder="")
    first, second, third = (letter("Первое"), letter("Второе"), letter("Третье"))
    dovecot.deliver(first, "Support")
    dovecot.deliver(second, "Support")
    poller, _ = poller_for(app)
    assert poller.poll_once() == 2
    # The third is committed but the daemon dies before it is flagged.
    dovecot.deliver(third, "Support")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ImapPoller, "_mark", _crash_on_third(ImapPoller._mark))
        with pytest.raises(ConnectionError):
            poller.poll_once()
    poller.disconnect()
    assert len(tickets(app)) == 3
    old_validity = dovecot.uidvalidity("Support")

    with dovecot.client() as c:  # rebuilt: same letters, in a different order, no flags
        c.delete_folder("Support")
        c.create_folder("Support")
    for raw in (third, second, first, letter("Четвёртое")):
        dovecot.deliver(raw, "Support")
    assert dovecot.uidvalidity("Support") != old_validity

    poller, _ = poller_for(app)
    assert poller.poll_once() == 4
    assert poller.poll_once() == 0
    assert [s for _, s in tickets(app)] == ["Первое", "Второе", "Третье", "Четвёртое"]
    assert len(imap_inbound(app)) == 4
    assert all(MARKER in f for f in dovecot.flags("Support").values())
    with app.sessions() as s:
        state = s.scalar(select(MailboxState))
        assert state is not None and state.uidvalidity == dovecot.uidvalidity("Support")
    poller.disconnect()


def _crash_on_third(real: Callable[..., None]) -> Callable[..., None]:
    def mark(self: ImapPoller, client: IMAPClient, uid: int) -> None:
        if uid == 3:
            raise ConnectionError("the daemon died here")
        real(self, client, uid)
    return mark


def test_uidvalidity_bumped_in_place_takes_nothing_twice(
        desk: Callable[..., App], dovecot: Dovecot) -> None:
    app = desk(processed_folder="")
    dovecot.deliver(letter("Уже обработано"))
    poller, _ = poller_for(app)
    assert poller.poll_once() == 1
    poller.disconnect()
    dovecot.set_uidvalidity(dovecot.uidvalidity() + 1000)
    dovecot.deliver(letter("Новое"))
    assert poller.poll_once() == 1
    assert [s for _, s in tickets(app)] == ["Уже обработано", "Новое"]
    poller.disconnect()


def test_a_refused_letter_is_kept_in_the_shunt_and_let_go(
        desk: Callable[..., App], dovecot: Dovecot) -> None:
    app = desk(max_size=4096)
    dovecot.deliver(letter("Слишком большое", size=20000))
    poller, _ = poller_for(app)
    assert poller.poll_once() == 1
    assert tickets(app) == []
    assert dovecot.list_uids("INBOX") == []
    assert len(dovecot.list_uids("Processed")) == 1
    kept = sorted(app.spool.shunted.iterdir())
    assert [p.suffix for p in kept] == ["", ".reason"]
    assert "too big" in kept[1].read_text(encoding="utf-8")
    assert len(kept[0].read_bytes()) > 20000, "the whole letter is kept"
    poller.disconnect()


def test_database_away_leaves_the_message_untouched(
        desk: Callable[..., App], dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> None:
    app = desk(processed_folder="")
    uid = dovecot.deliver(letter("База недоступна"))
    poller, woken = poller_for(app)

    def away(*args: object) -> None:
        raise TemporaryFailure("database is locked")

    with monkeypatch.context() as mp:
        mp.setattr("daemon.intake.imap_poller.ingest_now", away)
        with pytest.raises(TemporaryFailure):
            poller.poll_once()
    assert dovecot.flags("INBOX")[uid] & {"\\Seen", MARKER} == set()
    assert woken.count == 0
    assert poller.poll_once() == 1
    assert len(tickets(app)) == 1
    poller.disconnect()


def test_without_move_the_letter_is_copied_and_expunged(
        desk: Callable[..., App], dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> None:
    real = IMAPClient.has_capability
    monkeypatch.setattr(IMAPClient, "has_capability",
                        lambda self, cap: cap.upper() != "MOVE" and real(self, cap))
    app = desk(processed_folder="Processed")
    dovecot.deliver(letter("Сервер без MOVE"))
    poller, _ = poller_for(app)
    assert poller.poll_once() == 1
    assert poller.poll_once() == 0
    assert dovecot.list_uids("INBOX") == []
    assert len(dovecot.list_uids("Processed")) == 1
    assert len(tickets(app)) == 1
    poller.disconnect()


def test_the_thread_survives_a_server_that_is_not_there(desk: Callable[..., App],
                                                        dovecot: Dovecot) -> None:
    app = desk()
    dovecot.stop()
    with Running(app) as running:
        time.sleep(2.5)  # a few failed connects, backing off
        assert running.thread.is_alive()
        dovecot.start()
        dovecot.deliver(letter("Сервер вернулся"))
        assert wait_until(lambda: len(tickets(app)) == 1, 20)
    with app.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1
