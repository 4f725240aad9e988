"""The runner's batches: one commit for many letters, a savepoint for each.

A batch shares one transaction (one fsync of the database) for speed; these
stories check that this never changes what a single letter would have lived
through: a bug in one letter rolls back that letter only, and a database that
goes away mid-batch leaves every letter of the batch waiting, none half done.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from daemon.intake.ingest import accept
from daemon.pipeline import runner
from daemon.storage.spool import Envelope
from tests.conftest import Desk, make_desk, simple_letter


@pytest.fixture
def desk(desk_on_each_db: Desk) -> Desk:
    return desk_on_each_db


def spool(desk: Desk, *subjects: str) -> None:
    for n, subject in enumerate(subjects):
        accept(desk.app, simple_letter(subject, f"Текст письма {n}",
                                       sender=f"Клиент {n} <client{n}@client.example>"),
               Envelope(source="smtp", mail_from=f"client{n}@client.example",
                        rcpt_to=("techsupport@example.ru",)))


@pytest.fixture
def commits(desk: Desk) -> Iterator[list[int]]:
    seen: list[int] = []
    listener = lambda _conn: seen.append(1)  # noqa: E731
    event.listen(desk.app.engine, "commit", listener)
    yield seen
    event.remove(desk.app.engine, "commit", listener)


def stored_files(desk: Desk) -> int:
    return sum(1 for p in desk.app.spool.store.rglob("*") if p.is_file())


def test_a_batch_of_letters_is_one_commit_and_every_letter_is_a_ticket(
        desk: Desk, commits: list[int]) -> None:
    spool(desk, *(f"Вопрос номер {n}" for n in range(6)))
    results = runner.drain(desk.app)
    assert [r.outcome for r in results] == ["ticket"] * 6
    assert len(commits) == 1
    assert [t["subject"] for t in desk.tickets()] == [f"Вопрос номер {n}" for n in range(6)]
    assert stored_files(desk) == 6 and not list(desk.app.spool.pending())
    acks = [m for m in desk.sent() if "client" in str(m["To"])]
    assert sorted(str(m["To"]) for m in acks) == [f"client{n}@client.example" for n in range(6)]


def test_a_bug_in_one_letter_of_a_batch_touches_no_other_letter(
        desk: Desk, commits: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    from daemon.pipeline.steps import store

    real = store.run
    tripped: list[str] = []

    def buggy(letter, session, app):  # type: ignore[no-untyped-def]
        real(letter, session, app)  # the ticket row is written, then the bug
        if "споткнётся" in letter.subject and not tripped:  # the fallback gets through
            tripped.append(letter.subject)
            raise RuntimeError("a bug after the ticket was written")

    monkeypatch.setattr(store, "run", buggy)
    spool(desk, "Первый вопрос", "На этом письме код споткнётся", "Третий вопрос")
    results = runner.drain(desk.app)
    assert [r.outcome for r in results] == ["ticket", "ticket", "ticket"]
    assert results[1].reason.startswith("flagged after error")
    tickets = desk.tickets()
    # Exactly one ticket per letter: the buggy letter's first ticket row was rolled
    # back with its savepoint, the fallback opened the flagged one.
    assert [t["subject"] for t in tickets] == ["Первый вопрос", "Третий вопрос",
                                               "На этом письме код споткнётся"]
    assert [t["needs_attention"] for t in tickets] == [False, False, True]
    assert len(commits) == 2  # the batch, then the flagged ticket's own transaction
    assert [o for o, _, _ in desk.inbound()] == ["ticket", "ticket", "ticket"]
    assert stored_files(desk) == 3


def test_the_database_going_away_mid_batch_leaves_every_letter_waiting(
        desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    from daemon.pipeline.steps import classify

    real = classify.run
    calls = []

    def flaky(letter, session, app):  # type: ignore[no-untyped-def]
        calls.append(letter.subject)
        if len(calls) == 3:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        real(letter, session, app)

    monkeypatch.setattr(classify, "run", flaky)
    spool(desk, "Один", "Два", "Три", "Четыре")
    with pytest.raises(runner.TemporaryFailure):
        runner.drain(desk.app)
    assert desk.tickets() == [] and desk.inbound() == []
    assert len(list(desk.app.spool.pending())) == 4 and stored_files(desk) == 0
    assert [r.outcome for r in runner.drain(desk.app)] == ["ticket"] * 4
    assert [t["subject"] for t in desk.tickets()] == ["Один", "Два", "Три", "Четыре"]
    assert len(desk.sent()) == 4 + 4  # an ack and a staff notification each


def test_big_letters_make_small_batches(desk: Desk, commits: list[int],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "BATCH_BYTES", 50_000)
    big = "Снимок экрана: " + "x" * 60_000  # a batch ends with the letter that fills it
    spool(desk, "Маленькое письмо", "Ещё одно")
    accept(desk.app, simple_letter("Большое письмо", big), Envelope(source="smtp"))
    accept(desk.app, simple_letter("Второе большое", big), Envelope(source="smtp"))
    assert [r.outcome for r in runner.drain(desk.app)] == ["ticket"] * 4
    assert len(commits) == 2


def test_on_sqlite_a_released_savepoint_is_not_a_commit(tmp_path: Path) -> None:
    """pysqlite begins a transaction only at the first write, so a SAVEPOINT before it
    would itself be the transaction and its RELEASE a commit: daemon.storage.db begins it."""
    from sqlalchemy import select, text

    from daemon.storage import db
    from daemon.storage.models import Org

    desk = make_desk(tmp_path)
    with db.unit_of_work(desk.app.sessions) as session:
        session.scalar(select(Org.id).limit(1))
        with session.begin_nested():
            session.execute(text("CREATE TABLE probe (x INTEGER)"))
        raw = session.connection().connection.dbapi_connection
        assert raw is not None and raw.in_transaction
        session.rollback()
    with desk.app.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 'probe'")
                            ).scalar() == 0
    desk.app.close()


def test_a_deadlock_with_another_daemon_retries_the_batch_letter_by_letter(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL ends one of two transactions that wait for each other (40P01): that
    is no outage, so the letters are done one by one at once, not deferred."""
    desk = make_desk(tmp_path)
    real, calls = runner._run_batch, []

    class Deadlock(Exception):
        sqlstate = "40P01"

    def once_deadlocked(app, items):  # type: ignore[no-untyped-def]
        calls.append(len(items))
        if len(calls) == 1:
            raise OperationalError("UPDATE tickets", {}, Deadlock("deadlock detected"))
        real(app, items)

    monkeypatch.setattr(runner, "_run_batch", once_deadlocked)
    spool(desk, "Раз", "Два", "Три")
    assert [r.outcome for r in runner.drain(desk.app)] == ["ticket"] * 3
    assert calls == [3, 1, 1, 1]
    assert [t["subject"] for t in desk.tickets()] == ["Раз", "Два", "Три"]
    desk.app.close()


def test_on_sqlite_a_writer_holds_the_write_lock_from_its_start_and_a_reader_never_does(
        tmp_path: Path) -> None:
    """Writers begin IMMEDIATE (several pipeline processes wait for each other instead
    of failing when a read turns into a write); readers begin deferred and block no one."""
    import sqlite3

    from sqlalchemy import select

    from daemon.storage import db
    from daemon.storage.models import Org

    desk = make_desk(tmp_path)
    other = sqlite3.connect(tmp_path / "supportd.db", timeout=0.1, isolation_level=None)
    with desk.app.sessions() as reader:
        reader.scalar(select(Org.id).limit(1))
        other.execute("BEGIN IMMEDIATE")  # a reader in the way of no writer
        other.execute("ROLLBACK")
    with db.unit_of_work(desk.app.sessions) as writer:
        writer.scalar(select(Org.id).limit(1))  # nothing written yet
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.close()
    desk.app.close()
