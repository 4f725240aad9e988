"""Failure drills: a real daemon killed with -9, a real PostgreSQL stopped, a real
relay refusing or gone, a real disk full.

After each: every letter accepted is a ticket exactly once, every outgoing
letter was sent exactly once or is still queued (or, refused for good, failed
and flagged for staff), and the daemon is running or was restarted.

The one at-least-once window left is the outbox's: between the relay's "250"
and the fsync of the outbox journal (`daemon/outbound/outbox.py`) a kill -9 or a power
cut makes the letter go out again, with the same Message-ID. An SMTP client has
the mirror window on the way in (our 250 lost on the wire): its retry is a
duplicate by Message-ID, which opens nothing and sends the acknowledgement
again (`test_kill_9_with_a_letter_at_every_stage_of_its_life`, letter "L2").
"""

from __future__ import annotations

import collections
import os
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from bench.harness.daemon import Daemon, running, wait_until, write_daemon_config
from tests.conftest import simple_letter
from tests.support.drills import (
    Relay,
    have_pg_ctl,
    pg_running,
    pg_start,
    pg_stop,
    query,
    spool_state,
)

pytestmark = pytest.mark.integration


def letter(tag: str, **kw: str) -> bytes:
    """A client letter whose sender, subject, text and Message-ID all carry `tag`."""
    return simple_letter(f"Сбой {tag}",
                         f"Здравствуйте! В системе https://edo.{tag}.example версии 3.14 "
                         f"(редакция «Базовая») ошибка при выгрузке {tag}.",
                         sender=f"Клиент <{tag}@client.example>",
                         message_id=f"<{tag}@client.example>", **kw)


def sqlite_url(root: Path) -> str:
    return f"sqlite:///{root}/supportd.db"


def inbound_by_mid(url: str) -> dict[str, list[str]]:
    got: dict[str, list[str]] = collections.defaultdict(list)
    for mid, outcome in query(url, "SELECT message_id_header, outcome FROM inbound"):
        got[mid].append(outcome)
    return {m: sorted(o) for m, o in got.items()}


def outgoing(url: str) -> list[tuple[str, str, str, str]]:
    """(message_id, kind, status, requester of its ticket) of every outgoing letter."""
    return [tuple(r) for r in query(
        url, "SELECT o.message_id, o.kind, o.status, t.requester FROM outgoing o "
             "JOIN tickets t ON t.id = o.ticket_id ORDER BY o.id")]  # type: ignore[misc]


def queued(url: str) -> int:
    return int(query(url, "SELECT count(*) FROM outgoing WHERE status = 'queued'")[0][0])


def drained(d: Daemon, url: str, spool: Path, inbound: int) -> None:
    """Wait until the spool is empty, `inbound` letters are accounted, the outbox idle."""
    wait_until(lambda: spool_state(spool).settled
               and query(url, "SELECT count(*) FROM inbound")[0][0] == inbound
               and queued(url) == 0, 60, interval=0.2,
               message=lambda: f"{spool_state(spool)}\n{inbound_by_mid(url)}\n{d.tail()}")


def maildir_ids(d: Daemon) -> collections.Counter[str]:
    return collections.Counter(str(m["Message-ID"]) for m in d.outbox())


def read_until_closed(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except OSError:
        pass
    finally:
        sock.close()
    return data


def no_trouble(d: Daemon) -> None:
    for bad in ("letter.failed", "letter.shunted", "runner.crashed"):
        assert not d.events(bad), (bad, d.events(bad)[:3])


def daemon_at(root: Path, **kw: object) -> Daemon:
    cfg, port = write_daemon_config(root, **kw)  # type: ignore[arg-type]
    d = Daemon(root, port, cfg)
    d.upgrade()
    return d


# ------------------------------------------------------------------ kill -9


def test_kill_9_with_a_letter_at_every_stage_of_its_life(tmp_path: Path) -> None:
    """One kill -9 while five letters stand at five stages of the life of a letter:

    L1  in the middle of SMTP DATA (the client never sees a 250);
    L2  spooled (fsync'd), the client drops the connection before reading the reply;
    L3  claimed by the runner, inside its transaction, before the commit
        (another connection holds SQLite's write lock);
    L4  answered 250, waiting in incoming/, not claimed yet;
    L5  committed, but its spool file not moved to the store (the store's day
        folder is made impossible to create), so it went back to incoming/.

    After the restart the clients retry L1 and L2, as MTAs do. Each letter is one
    ticket; L2's retry is a duplicate (same Message-ID) that re-sends the ack."""
    d = daemon_at(tmp_path)
    spool, url = tmp_path / "spool", sqlite_url(tmp_path)
    blockers = []
    now = datetime.now(UTC)
    for day in (now, now + timedelta(days=1)):  # a file where the day folder should be
        path = spool / "store" / day.strftime("%Y/%m/%d")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        blockers.append(path)
    raw = {n: letter(f"l{n}") for n in range(1, 6)}
    lock = sqlite3.connect(tmp_path / "supportd.db", timeout=30, isolation_level=None)
    with running(d):
        # L5: committed, the move to the store fails, back to incoming/.
        assert d.send(raw[5], "l5@client.example")[0] == 250
        d.wait_for_event("letter.store_failed")
        wait_until(lambda: queued(url) == 0, 20, message=d.tail)  # its ack went out
        assert inbound_by_mid(url) == {"<l5@client.example>": ["ticket"]}
        # L3: claimed, blocked at its first write.
        lock.execute("BEGIN EXCLUSIVE")
        try:
            assert d.send(raw[3], "l3@client.example")[0] == 250
            wait_until(lambda: spool_state(spool).processing, 20)
            time.sleep(0.3)  # the runner is inside the pipeline, waiting for the lock
            # L4: accepted behind it.
            assert d.send(raw[4], "l4@client.example")[0] == 250
            # L2: spooled; the reply is left unread.
            l2 = d.open_data(raw[2], "l2@client.example", part=1)
            d.wait_for_event("letter.accepted", where=lambda e: e.get("mail_from")
                             == "l2@client.example")
            # L1: half of its DATA sent.
            l1 = d.open_data(raw[1], "l1@client.example", part=0.5)
            time.sleep(0.3)
            state = spool_state(spool)
            # L3 claimed (with L5 when the runner took both into one batch), the rest
            # waiting in incoming/.
            assert len(state.processing) in (1, 2), state
            assert len(state.processing) + len(state.incoming) == 4, state
            assert inbound_by_mid(url) == {"<l5@client.example>": ["ticket"]}
            d.kill()
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert b"250" not in read_until_closed(l1)  # L1 was never accepted
        read_until_closed(l2)  # whatever L2's client got, it did not read it in time
        assert spool_state(spool).tmp == []  # no half-written letter anywhere
        assert inbound_by_mid(url) == {"<l5@client.example>": ["ticket"]}
        for b in blockers:
            b.unlink()
        d.start()
        assert d.send(raw[1], "l1@client.example")[0] == 250  # the MTAs retry
        assert d.send(raw[2], "l2@client.example")[0] == 250
        drained(d, url, spool, inbound=6)
        assert inbound_by_mid(url) == {
            "<l1@client.example>": ["ticket"], "<l2@client.example>": ["duplicate", "ticket"],
            "<l3@client.example>": ["ticket"], "<l4@client.example>": ["ticket"],
            "<l5@client.example>": ["ticket"]}
        tickets = d.tickets()
        assert len(tickets) == 5 and len({t["tid"] for t in tickets}) == 5
        out = outgoing(url)
        acks = collections.Counter((req, kind) for _, kind, _, req in out if "ack" in kind)
        assert acks == {(f"l{n}@client.example", "ack"): 1 for n in range(1, 6)} | {
            ("l2@client.example", "ack-resend"): 1}
        sent = maildir_ids(d)
        assert set(sent.values()) == {1}  # nothing written to the outbox twice
        assert sorted(sent) == sorted(m for m, *_ in out)
        assert d.running() and d.events("spool.recovered")
        no_trouble(d)
        assert len(spool_state(spool).stored) == 6


def test_kill_9_while_the_relay_holds_our_letter_before_its_250(tmp_path: Path) -> None:
    """The outbox is in the middle of DATA with the relay (it stalls before answering)
    when the daemon is killed. A relay takes a letter only with its 250, so nothing
    was handed over: the letter is still queued, and after the restart it goes out
    once."""
    relay = Relay().up()
    relay.handler.stall = True
    d = daemon_at(tmp_path, outbound=relay.outbound)
    url = sqlite_url(tmp_path)
    try:
        with running(d):
            assert d.send(letter("stall"), "stall@client.example")[0] == 250
            wait_until(relay.handler.stalled.is_set, 30, message=d.tail)
            d.kill()
            wait_until(lambda: relay.handler.dropped, 10)
            relay.handler.release()
            assert relay.handler.delivered == []
            assert queued(url) == 2  # the ack and the staff notification, both still queued
            d.start()
            drained(d, url, tmp_path / "spool", inbound=1)
            out = outgoing(url)
            assert {s for _, _, s, _ in out} == {"sent"}
            counts = relay.handler.counts()
            assert sorted(counts) == sorted(m for m, *_ in out)
            assert set(counts.values()) == {1}
            assert relay.handler.dropped[0] in counts  # the held one, now sent once
            no_trouble(d)
    finally:
        relay.down()


# ------------------------------------------------------------------ the relay


def test_the_relay_down_then_refusing_4xx_then_5xx_with_the_daemon_running(
        tmp_path: Path) -> None:
    relay = Relay()  # not listening yet: the relay is down
    d = daemon_at(tmp_path, outbound=relay.outbound)
    url, spool = sqlite_url(tmp_path), tmp_path / "spool"
    h = relay.handler

    def rows_of(tag: str) -> list[tuple[str, str, str, str]]:
        return [r for r in outgoing(url) if r[3] == f"{tag}@client.example"]

    def deferred(tag: str, attempts: int) -> bool:
        got = query(url, "SELECT o.attempts, o.status FROM outgoing o JOIN tickets t ON "
                         "t.id = o.ticket_id WHERE t.requester = :r", r=f"{tag}@client.example")
        return len(got) == 2 and all(a >= attempts and s == "queued" for a, s in got)

    try:
        with running(d):
            # Down: connection refused, retried with backoff; nothing lost meanwhile.
            assert d.send(letter("down"), "down@client.example")[0] == 250
            wait_until(lambda: deferred("down", 1), 30, message=d.tail)
            assert "ConnectionRefused" in d.events("outbox.deferred")[0]["error"]
            relay.up()
            wait_until(lambda: queued(url) == 0, 30, message=d.tail)
            # 4xx to DATA, then 4xx to RCPT: deferred, then sent once.
            h.reply_data = "451 4.3.0 Try again later"
            assert d.send(letter("tempdata"), "tempdata@client.example")[0] == 250
            wait_until(lambda: deferred("tempdata", 1), 30, message=d.tail)
            h.reply_data = None
            h.reply_rcpt = "450 4.2.1 Mailbox busy"
            wait_until(lambda: deferred("tempdata", 2), 30, message=d.tail)
            h.reply_rcpt = None
            wait_until(lambda: queued(url) == 0, 30, message=d.tail)
            # 5xx: failed for good, the ticket flagged for staff, nothing sent.
            h.reply_data = "554 5.7.1 Rejected by policy"
            assert d.send(letter("perm"), "perm@client.example")[0] == 250
            wait_until(lambda: len(d.events("outbox.failed")) >= 2, 30, message=d.tail)
            h.reply_data = None
            drained(d, url, spool, inbound=3)

            counts = h.counts()
            for tag in ("down", "tempdata"):
                rows = rows_of(tag)
                assert len(rows) == 2 and {r[2] for r in rows} == {"sent"}
                assert all(counts[m] == 1 for m, *_ in rows), counts
            perm = rows_of("perm")
            assert {r[2] for r in perm} == {"failed"} and not any(counts[m] for m, *_ in perm)
            [t] = [t for t in d.tickets() if t["requester"] == "perm@client.example"]
            shown = d.show(t["tid"])
            assert shown["needs_attention"] and "554" in shown["attention_reason"]
            assert set(counts.values()) == {1}
            assert d.running()
            no_trouble(d)
    finally:
        relay.down()


# ------------------------------------------------------------------ a full disk


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def _fill(path: Path, leave: int = 0) -> None:
    """Fill the file system of `path` until at most `leave` bytes are free."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for chunk in (65536, 4096, 512, 1):
            block = b"\0" * chunk
            while True:
                st = os.statvfs(path)
                if st.f_bavail * st.f_frsize - chunk < leave:
                    break
                try:
                    os.write(fd, block)
                except OSError:
                    break
    finally:
        os.close(fd)


def _with_attachment(tag: str, size: int) -> bytes:
    m = EmailMessage()
    m["From"] = f"Клиент <{tag}@client.example>"
    m["To"] = "techsupport@example.ru"
    m["Subject"] = f"Скриншот {tag}"
    m["Message-ID"] = f"<{tag}@client.example>"
    m.set_content(f"Ошибка в системе https://edo.{tag}.example версии 3.14, скриншот во вложении.")
    m.add_attachment(b"\x89PNG\r\n\x1a\n" + os.urandom(size), maintype="image",
                     subtype="png", filename="screen.png")
    return m.as_bytes()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_full_spool_disk_is_a_451_not_a_crash(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    if not _mount_tmpfs(spool, "2m"):
        pytest.skip("cannot mount a tmpfs here")
    filler = spool / "filler"
    try:
        d = daemon_at(tmp_path)
        url = sqlite_url(tmp_path)
        with running(d):
            assert d.send(letter("before"), "before@client.example")[0] == 250
            drained(d, url, spool, inbound=1)
            # The disk is full: the letter can't be made durable, so no 250.
            _fill(filler)
            refused = [d.try_send(letter(f"full{n}"), f"full{n}@client.example")
                       for n in range(2)]
            assert all(code == 451 and "4.3.1" in text for code, text in refused), refused
            assert d.running()
            assert not spool_state(spool).incoming and not spool_state(spool).tmp
            filler.unlink()
            for n in range(2):  # the MTAs retry
                assert d.send(letter(f"full{n}"), f"full{n}@client.example")[0] == 250
            drained(d, url, spool, inbound=3)

            # The disk fills up after the 250, before the attachment is stored: the
            # letter waits in the spool (never shunted, never half a ticket).
            big = _with_attachment("attach", 300_000)
            _fill(filler, leave=len(big) + 96 * 1024)
            assert d.send(big, "attach@client.example")[0] == 250
            d.wait_for_event("letter.deferred", where=lambda e: e.get("disk_full"))
            assert d.running() and spool_state(spool).incoming
            # Letters behind it wait too (451 while the runner backs off, or 250 and
            # queued behind it); none is lost, none overtakes it into a half state.
            code, text = d.try_send(letter("meanwhile"), "meanwhile@client.example")
            assert code in (250, 451), text
            time.sleep(1.0)
            assert query(url, "SELECT count(*) FROM inbound")[0][0] == 3
            assert d.running()
            filler.unlink()
            if code != 250:  # the MTA retries; 451 until the runner's next try succeeds
                d.deliver(letter("meanwhile"), "meanwhile@client.example")
            drained(d, url, spool, inbound=5)
            assert inbound_by_mid(url) == {f"<{t}@client.example>": ["ticket"] for t in
                                           ("before", "full0", "full1", "attach", "meanwhile")}
            [t] = [t for t in d.tickets() if t["requester"] == "attach@client.example"]
            [msg] = [m for m in d.show(t["tid"])["messages"] if m["direction"] == "in"]
            assert [a["filename"] for a in msg["attachments"]] == ["screen.png"]
            assert set(maildir_ids(d).values()) == {1}
            assert d.running()
            no_trouble(d)
            assert not spool_state(spool).shunted
    finally:
        subprocess.run(["umount", "-l", str(spool)], capture_output=True)


# ------------------------------------------------------------------ PostgreSQL


pg_drill = pytest.mark.skipif(
    not os.environ.get("SUPPORTD_TEST_POSTGRES") or not have_pg_ctl(),
    reason="needs SUPPORTD_TEST_POSTGRES and a local cluster this user may stop")


@pytest.fixture
def pg_db() -> Iterator[str]:
    """Like conftest's `pg_url`, but its admin connection survives a restart of the
    server (no pooled connection is kept between CREATE and DROP)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    base = os.environ["SUPPORTD_TEST_POSTGRES"]
    name = f"supportd_drill_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        if not pg_running():
            pg_start()
        wait_until(lambda: _can_connect(admin), 60, message="PostgreSQL is not back")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _can_connect(engine: Any) -> bool:
    try:
        with engine.connect():
            return True
    except Exception:
        return False


class Stream:
    """An SMTP client sending one new letter after another, as fast as answered."""

    def __init__(self, d: Daemon, prefix: str) -> None:
        self.d, self.prefix = d, prefix
        self.answers: dict[str, list[tuple[float, int, str]]] = collections.defaultdict(list)
        self.raw: dict[str, bytes] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.n = 0

    def _run(self) -> None:
        while not self.stop.is_set():
            tag = f"{self.prefix}{self.n}"
            self.n += 1
            self.raw[tag] = letter(tag)
            code, text = self.d.try_send(self.raw[tag], f"{tag}@client.example")
            self.answers[tag].append((time.monotonic(), code, text))
            time.sleep(0.05)

    def last_code(self) -> int | None:
        answers = [a for tag in list(self.answers.values()) for a in tag]
        return max(answers)[1] if answers else None

    def codes(self) -> collections.Counter[int]:
        return collections.Counter(a[-1][1] for a in list(self.answers.values()))

    def retry_refused(self, timeout: float = 60) -> None:
        """What an MTA does with a 451: try again later, until 250."""
        deadline = time.monotonic() + timeout
        for tag, answers in list(self.answers.items()):
            while answers[-1][1] != 250:
                assert time.monotonic() < deadline, (tag, answers)
                time.sleep(0.3)
                code, text = self.d.try_send(self.raw[tag], f"{tag}@client.example")
                answers.append((time.monotonic(), code, text))


@pg_drill
def test_postgresql_stopped_and_restarted_under_load(tmp_path: Path, pg_db: str) -> None:
    pg_url = pg_db
    relay = Relay().up()
    d = daemon_at(tmp_path, db_url=pg_url, outbound=relay.outbound)
    spool = tmp_path / "spool"
    stream = Stream(d, "load")
    try:
        with running(d):
            stream.thread.start()
            wait_until(lambda: stream.codes()[250] >= 15, 30, message=d.tail)
            try:
                stopped = time.monotonic()
                pg_stop()
                # The daemon notices on its next letter, and says 451 from then on.
                d.wait_for_event("db.unavailable", timeout=30)
                wait_until(lambda: stream.codes()[451] >= 5, 30, message=d.tail)
            finally:
                pg_start()
            started = time.monotonic()
            d.wait_for_event("db.available", timeout=60)
            wait_until(lambda: stream.last_code() == 250, 30, message=d.tail)
            time.sleep(1.0)  # letters flow again for a while
            stream.stop.set()
            stream.thread.join(30)
            stream.retry_refused()
            total = len(stream.answers)
            drained(d, pg_url, spool, inbound=total)

            # Each letter: exactly one accepted copy, exactly one ticket.
            assert inbound_by_mid(pg_url) == {f"<{t}@client.example>": ["ticket"]
                                              for t in stream.answers}
            assert query(pg_url, "SELECT count(*), count(DISTINCT tid) FROM tickets")[0] == \
                (total, total)
            # 451 only while the database was away; never a 5xx, never silence.
            answers = [a for tag in stream.answers.values() for a in tag]
            assert {code for _, code, _ in answers} <= {250, 451}, answers
            for at, code, text in answers:
                if code == 451:
                    assert stopped <= at, text
                    assert "4.3.0" in text or "4.3.1" in text
            # Every acknowledgement and notification went out exactly once.
            out = outgoing(pg_url)
            assert {s for _, _, s, _ in out} == {"sent"}
            counts = relay.handler.counts()
            assert sorted(counts) == sorted(m for m, *_ in out)
            assert set(counts.values()) == {1}, [m for m, c in counts.items() if c > 1]
            assert d.running()
            no_trouble(d)
            assert started > stopped
    finally:
        stream.stop.set()
        if not pg_running():
            pg_start()
        relay.down()


@pg_drill
def test_the_relay_took_it_and_the_database_went_away_before_the_commit(
        tmp_path: Path, pg_db: str) -> None:
    """The narrowest window: the relay says 250, then the commit of "sent" fails
    because PostgreSQL is gone. The outbox journal remembers, and the letter is
    marked sent once the database is back instead of being sent a second time."""
    pg_url = pg_db
    relay = Relay().up()
    relay.handler.stall = True
    d = daemon_at(tmp_path, db_url=pg_url, outbound=relay.outbound)
    spool = tmp_path / "spool"
    try:
        with running(d):
            assert d.send(letter("journal"), "journal@client.example")[0] == 250
            wait_until(relay.handler.stalled.is_set, 30, message=d.tail)
            try:
                pg_stop()
                relay.handler.release()  # 250 now: the relay has it
                d.wait_for_event("outbox.sent_not_recorded", timeout=30)
                assert spool_state(spool).journal
            finally:
                pg_start()
            d.wait_for_event("outbox.sent_recovered", timeout=30)
            drained(d, pg_url, spool, inbound=1)
            out = outgoing(pg_url)
            assert {s for _, _, s, _ in out} == {"sent"} and len(out) == 2
            counts = relay.handler.counts()
            assert sorted(counts) == sorted(m for m, *_ in out)
            assert set(counts.values()) == {1}
            assert d.running()
            no_trouble(d)
    finally:
        if not pg_running():
            pg_start()
        relay.down()
