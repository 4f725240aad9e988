"""Two `supportd run` processes on one PostgreSQL, one spool and one relay.

SPEC: "SQLAlchemy; SQLite by default, PostgreSQL for several daemons on one
database". Two daemons share everything but their SMTP port; letters arrive at
both, the copies of one letter arrive at both at the same moment, and neither a
ticket, a TID nor an outgoing letter may be doubled. The TID comes from the
database's sequence, spool files are claimed by rename, outgoing rows by
SELECT … FOR UPDATE SKIP LOCKED, and the "seen it before?" checks by a
PostgreSQL advisory lock per Message-ID and per content hash
(`daemon/pipeline/steps/screen.py`) and per IMAP source key (`daemon/pipeline/runner.py`).
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import event, text

from bench.harness.daemon import Daemon, running, wait_until, write_daemon_config
from daemon.pipeline import runner
from daemon.pipeline.steps.screen import LOCK_MESSAGE_ID
from daemon.storage.spool import Envelope
from tests.conftest import make_desk, simple_letter
from tests.support.drills import Relay, query, spool_state

pytestmark = pytest.mark.integration

SMTP_PROBLEMS = ("451", "0", "421")


def new_letter(tag: str, sender: str, message_id: str | None = None,
               body: str | None = None) -> bytes:
    return simple_letter(f"Ошибка в модуле {tag}",
                         body or f"Здравствуйте! В системе https://edo.{tag}.example версии 3.14 "
                                 f"(редакция «Корпоративная») не формируется отчёт {tag}.",
                         sender=f"Клиент {tag} <{sender}>",
                         message_id=message_id or f"<{tag}@client.example>")


def reply_letter(tag: str, tid: str, sender: str, original: str) -> bytes:
    return simple_letter(f"Re: [{tid}] Ошибка", f"Дополнение {tag}: ошибка повторяется.",
                         sender=sender, message_id=f"<{tag}@client.example>",
                         In_Reply_To=original)


class Sender:
    """SMTP clients hitting two daemons; answers other than 250 are retried, as an MTA
    would, and remembered."""

    def __init__(self, a: Daemon, b: Daemon) -> None:
        self.daemons = (a, b)
        self.lock = threading.Lock()
        self.problems: list[tuple[str, int, str]] = []
        self.sent = 0

    def _deliver(self, d: Daemon, raw: bytes, sender: str, label: str,
                 barrier: threading.Barrier | None = None) -> None:
        import smtplib

        from bench.harness.daemon import SUPPORT_ADDRESS, crlf

        for _ in range(60):
            try:
                with smtplib.SMTP("127.0.0.1", d.port, timeout=30) as s:
                    s.ehlo("client.example")
                    s.mail(sender)
                    s.rcpt(SUPPORT_ADDRESS)
                    if barrier is not None:
                        barrier.wait(10)  # both copies go into DATA together
                        barrier = None
                    code, resp = s.data(crlf(raw))
            except (OSError, smtplib.SMTPException) as exc:
                code, resp = 0, repr(exc).encode()
            if code == 250:
                with self.lock:
                    self.sent += 1
                return
            with self.lock:
                self.problems.append((label, code, resp.decode(errors="replace")))
            time.sleep(0.5)
        raise AssertionError(f"{label} never accepted")

    def one(self, i: int, raw: bytes, sender: str, label: str) -> None:
        self._deliver(self.daemons[i % 2], raw, sender, label)

    def both_at_once(self, raw_a: bytes, raw_b: bytes, sender: str, label: str) -> None:
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=self._deliver, args=(d, raw, sender, label, barrier))
                   for d, raw in zip(self.daemons, (raw_a, raw_b), strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def pair(tmp_path: Path, pg_url: str, relay: Relay) -> tuple[Daemon, Daemon, Path]:
    spool = tmp_path / "spool"
    daemons = []
    for name in ("a", "b"):
        root = tmp_path / name
        cfg, port = write_daemon_config(root, db_url=pg_url, outbound=relay.outbound,
                                        spool=spool)
        daemons.append(Daemon(root, port, cfg, name))
    daemons[0].upgrade()
    return daemons[0], daemons[1], spool


def test_two_daemons_share_one_database_spool_and_relay_without_doubling_anything(
        tmp_path: Path, pg_url: str) -> None:
    relay = Relay().up()
    a, b, spool = pair(tmp_path, pg_url, relay)
    try:
        with running(a, b):
            _two_daemon_story(a, b, spool, pg_url, relay)
    finally:
        relay.down()


def _two_daemon_story(a: Daemon, b: Daemon, spool: Path, url: str, relay: Relay) -> None:
    sender = Sender(a, b)
    expect: dict[str, list[str]] = {}  # Message-ID -> the outcomes its copies must have
    same_ticket: list[tuple[str, ...]] = []  # Message-IDs that must land on one ticket
    reply_to: dict[str, str] = {}  # reply Message-ID -> TID it must join
    jobs: list[tuple] = []

    # Phase 1: new letters, exact duplicates (one Message-ID) and resends (same
    # sender, subject and text, new Message-ID), each pair to both daemons at once.
    for i in range(120):
        mid = f"<new-{i}@client.example>"
        jobs.append(("one", i, new_letter(f"new-{i}", f"c{i}@client.example"),
                     f"c{i}@client.example", mid))
        expect[mid] = ["ticket"]
    for j in range(30):
        mid = f"<dup-{j}@client.example>"
        raw = new_letter(f"dup-{j}", f"d{j}@client.example")
        jobs.append(("pair", raw, raw, f"d{j}@client.example", mid))
        expect[mid] = ["duplicate", "ticket"]
    for k in range(10):
        m1, m2 = f"<resend-{k}a@client.example>", f"<resend-{k}b@client.example>"
        body = f"Повторяю: не работает выгрузка {k}, версия 3.14, https://edo.r{k}.example"
        ra = new_letter(f"resend-{k}", f"r{k}@client.example", m1, body)
        rb = new_letter(f"resend-{k}", f"r{k}@client.example", m2, body)
        jobs.append(("pair", ra, rb, f"r{k}@client.example", f"{m1} {m2}"))
        same_ticket.append((m1, m2))
    _run_jobs(sender, jobs)
    # Replies need tickets to name: wait until phase 1 (200 letters) is in.
    wait_until(lambda: query(url, "SELECT count(*) FROM inbound")[0][0] >= 200, 90,
               message=lambda: a.tail() + b.tail())

    # Phase 2: replies naming TIDs (one of them sent twice at once), more new letters
    # and more exact duplicates.
    tickets = query(url, "SELECT t.tid, t.requester, m.message_id FROM tickets t "
                         "JOIN messages m ON m.ticket_id = t.id AND m.direction = 'in' "
                         "WHERE m.message_id LIKE '<new-%' ORDER BY t.id")
    assert len(tickets) == 120
    jobs = []
    for n, (tid, requester, original) in enumerate(tickets[:60]):
        mid = f"<reply-{n}@client.example>"
        jobs.append(("one", n, reply_letter(f"reply-{n}", tid, requester, original),
                     requester, mid))
        expect[mid], reply_to[mid] = ["threaded"], tid
    for n, (tid, requester, original) in enumerate(tickets[60:65]):
        mid = f"<reply-dup-{n}@client.example>"
        raw = reply_letter(f"reply-dup-{n}", tid, requester, original)
        jobs.append(("pair", raw, raw, requester, mid))
        expect[mid], reply_to[mid] = ["duplicate", "threaded"], tid
    for i in range(120, 140):
        mid = f"<new-{i}@client.example>"
        jobs.append(("one", i, new_letter(f"new-{i}", f"c{i}@client.example"),
                     f"c{i}@client.example", mid))
        expect[mid] = ["ticket"]
    for j in range(30, 35):
        mid = f"<dup-{j}@client.example>"
        raw = new_letter(f"dup-{j}", f"d{j}@client.example")
        jobs.append(("pair", raw, raw, f"d{j}@client.example", mid))
        expect[mid] = ["duplicate", "ticket"]
    _run_jobs(sender, jobs)
    assert sender.sent == 300

    # Everything processed and sent.
    def settled() -> bool:
        state = spool_state(spool)
        inbound = query(url, "SELECT count(*) FROM inbound")[0][0]
        queued = query(url, "SELECT count(*) FROM outgoing WHERE status = 'queued'")[0][0]
        return state.settled and inbound == 300 and queued == 0
    wait_until(settled, 120, interval=0.5, message=lambda: f"{spool_state(spool)}\n"
               + a.tail(2000) + b.tail(2000))

    # Every letter: exactly one Inbound row per copy, with the outcome it must have.
    rows = query(url, "SELECT message_id_header, outcome, ticket_id FROM inbound")
    assert len(rows) == 300
    by_mid: dict[str, list[tuple[str, int]]] = collections.defaultdict(list)
    for mid, outcome, ticket_id in rows:
        by_mid[mid].append((outcome, ticket_id))
    for mid, outcomes in expect.items():
        assert sorted(o for o, _ in by_mid[mid]) == outcomes, (mid, by_mid[mid])
        assert len({t for _, t in by_mid[mid]}) == 1, (mid, by_mid[mid])  # one ticket
    for m1, m2 in same_ticket:
        got = sorted([*by_mid[m1], *by_mid[m2]])
        assert [o for o, _ in got] == ["duplicate", "ticket"] and got[0][1] == got[1][1], got
    tids = dict(query(url, "SELECT id, tid FROM tickets"))
    for mid, tid in reply_to.items():
        assert {tids[t] for _, t in by_mid[mid]} == {tid}, (mid, by_mid[mid])

    # No TID twice, one ticket per letter that should open one.
    assert len(tids) == 120 + 30 + 10 + 20 + 5
    assert None not in tids.values() and len(set(tids.values())) == len(tids)
    assert query(url, "SELECT count(*) FROM messages WHERE direction = 'in'")[0][0] == \
        300 - 30 - 10 - 5 - 5  # duplicates add no message

    # Every outgoing letter reached the relay exactly once.
    out = query(url, "SELECT message_id, kind, status FROM outgoing")
    assert {s for _, _, s in out} == {"sent"}
    counts = relay.handler.counts()
    assert sorted(counts) == sorted(m for m, _, _ in out)
    assert set(counts.values()) == {1}, [m for m, c in counts.items() if c > 1]
    kinds = collections.Counter(k for _, k, _ in out)
    assert kinds["ack"] == len(tids) and kinds["ack-followup"] == 65
    assert kinds["ack-resend"] == 30 + 10 + 5 + 5

    # Both daemons did real work, neither tripped, no MTA was put off.
    for d in (a, b):
        assert d.running()
        assert d.events("letter.processed") and d.events("outbox.sent"), d.name
        for bad in ("letter.failed", "letter.shunted", "runner.crashed", "outbox.loop_error",
                    "db.unavailable"):
            assert not d.events(bad), (d.name, bad, d.events(bad)[:3])
    assert not sender.problems, sender.problems[:5]
    assert not spool_state(spool).shunted


def _run_jobs(sender: Sender, jobs: list[tuple]) -> None:
    with ThreadPoolExecutor(8) as pool:
        futures = []
        for job in jobs:
            if job[0] == "one":
                _, i, raw, env_from, label = job
                futures.append(pool.submit(sender.one, i, raw, env_from, label))
            else:
                _, ra, rb, env_from, label = job
                futures.append(pool.submit(sender.both_at_once, ra, rb, env_from, label))
        for f in futures:
            f.result()


# ------------------------------------------------------------------ the race itself


@pytest.mark.parametrize(("copies", "lookup", "outcomes"), [
    pytest.param("same-message-id", "FROM messages", ["duplicate", "ticket"],
                 id="same-message-id"),
    pytest.param("same-content", "FROM messages", ["duplicate", "ticket"], id="same-content"),
    pytest.param("same-mailbox-message", "FROM inbound", ["already", "ticket"],
                 id="same-imap-message"),
])
def test_two_transactions_deciding_about_one_letter_make_one_ticket(
        tmp_path: Path, pg_url: str, copies: str, lookup: str, outcomes: list[str]) -> None:
    """Both copies are held right after their "have we seen it?" lookup until the other
    copy got there too: without a lock both see nothing and both open a ticket (or,
    for one IMAP message taken by two pollers, the second dies on the unique source
    key and is shunted). With the advisory lock the second waits for the first
    commit and finds it."""
    desk = make_desk(tmp_path, db_url=pg_url)
    raws = [new_letter("race", "race@client.example", f"<race-{n}@client.example>",
                       body="Одинаковый текст двух писем, версия 3.14, https://edo.x.example")
            for n in range(2)]
    envelope = Envelope("smtp", "race@client.example", ("techsupport@example.ru",))
    if copies != "same-content":
        raws[1] = raws[0]
    if copies == "same-mailbox-message":
        envelope = Envelope("imap", "race@client.example", source_key="imap:box:1:7")
    marker = {"same-message-id": "messages.message_id = ",
              "same-content": "messages.content_hash = ",
              "same-mailbox-message": "inbound.source_key = "}[copies]
    spooled = [desk.app.spool.accept(raw, envelope, claim=True) for raw in raws]
    barrier = threading.Barrier(2)
    held: set[int] = set()

    @event.listens_for(desk.app.engine, "after_cursor_execute")
    def hold(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        me = threading.get_ident()
        if marker in statement and lookup in statement and me not in held:
            held.add(me)
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(2.0)  # give the other transaction every chance to race

    results: list[runner.Result] = []
    threads = [threading.Thread(target=lambda n=n: results.append(
        runner.process(desk.app, spooled[n].path))) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        assert sorted(r.outcome for r in results) == outcomes, results
        assert len(desk.tickets()) == 1
        assert len(desk.inbound()) == 1 + (copies != "same-mailbox-message")
        assert not list(desk.app.spool.shunted.iterdir())
        assert not list(desk.app.spool.claim_dir.iterdir())  # stored or discarded
    finally:
        desk.app.close()


# ------------------------------------------------------------------ one of two dies


def test_a_killed_daemons_claims_are_finished_by_the_other_without_a_restart(
        tmp_path: Path, pg_url: str) -> None:
    """Daemon A claims a letter and is killed (-9) in the middle of its transaction;
    A is not restarted. B, sharing the spool, takes A's claim back and makes the
    letter a ticket exactly once."""
    relay = Relay().up()
    a, b, spool = pair(tmp_path, pg_url, relay)
    mid = f"<orphan-{uuid.uuid4().hex[:8]}@client.example>"
    try:
        with running(a, b):
            from sqlalchemy import create_engine

            engine = create_engine(pg_url)
            blocker = engine.connect()
            tx = blocker.begin()
            # Hold the letter's Message-ID lock: whoever claims it waits inside its
            # transaction, after the claim and before the commit.
            blocker.execute(text("SELECT pg_advisory_xact_lock(:ns, hashtext(:k))"),
                            {"ns": LOCK_MESSAGE_ID, "k": mid})
            try:
                b.freeze()  # so that A, not B, claims it
                assert a.send(new_letter("orphan", "orphan@client.example", mid))[0] == 250
                claim = wait_until(lambda: spool_state(spool).processing, 20)
                a_workers = a.workers()  # A's pipeline processes claim, in their own folders
                assert any(list((spool / "processing").glob(f"*-{w}/*")) for w in a_workers)
                a.kill()  # its workers die with it
                b.thaw()
            finally:
                tx.rollback()
                blocker.close()
                engine.dispose()
            assert query(pg_url, "SELECT count(*) FROM inbound")[0][0] == 0
            # B notices on its next pass (woken by any letter, or within 5 s).
            assert b.send(new_letter("wake", "wake@client.example"))[0] == 250
            wait_until(lambda: spool_state(spool).settled
                       and query(pg_url, "SELECT count(*) FROM inbound")[0][0] == 2, 30,
                       message=lambda: f"{spool_state(spool)}\n{b.tail()}")
            rows = query(pg_url, "SELECT outcome FROM inbound WHERE message_id_header = :m",
                         m=mid)
            assert rows == [("ticket",)]
            assert claim[0] in spool_state(spool).stored
            assert b.events("spool.recovered")
            assert not any(list((spool / "processing").glob(f"*-{w}")) for w in a_workers)
            wait_until(lambda: query(pg_url, "SELECT count(*) FROM outgoing "
                                             "WHERE status = 'queued'")[0][0] == 0, 30)
            assert set(relay.handler.counts().values()) == {1}
    finally:
        relay.down()
