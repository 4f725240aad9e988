"""Writers of one SQLite database take turns on a file lock beside it (daemon/storage/db.py).

SQLite's own lock makes a second writer sleep and retry (up to 100 ms a try); the
daemon's processes (pipeline, outbox, `supportd ingest`, the CLI) instead queue on
an flock of `<database>-writers`, which the kernel hands on at once. These drive
real processes against a real database file.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from daemon.storage import db

PROJECT = Path(__file__).resolve().parents[2]


def engine_on(path: Path):  # type: ignore[no-untyped-def]
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS marks (who TEXT, at REAL)"))
    return engine


def python(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=PROJECT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def holding_the_turn(database: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process that takes the writers' turn, says "holding", keeps it for
    `seconds`, prints the time it lets go, and exits; started once it holds it."""
    holder = python(f"""
        import fcntl, os, time
        fd = os.open({str(database) + "-writers"!r}, os.O_RDONLY | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("holding", flush=True)
        time.sleep({seconds})
        print(time.time(), flush=True)
        fcntl.flock(fd, fcntl.LOCK_UN)
        """)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_a_writer_holds_the_file_lock_for_its_transaction(tmp_path: Path) -> None:
    database = tmp_path / "desk.db"
    engine = engine_on(database)
    sessions = db.make_sessionmaker(engine)
    probe = f"""
        import fcntl, os
        fd = os.open({str(database) + "-writers"!r}, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            print("free")
        except BlockingIOError:
            print("held")
        """
    with db.unit_of_work(sessions) as s:
        s.execute(text("INSERT INTO marks VALUES ('here', 0)"))
        inside = python(probe).communicate(timeout=60)
    after = python(probe).communicate(timeout=60)
    assert inside[0].strip() == "held", inside
    assert after[0].strip() == "free", after
    engine.dispose()


def test_a_writer_waits_for_another_process_turn(tmp_path: Path) -> None:
    """Another process holds the turn (as the daemon's outbox does while it marks
    letters sent): our unit of work begins only after it lets go."""
    database = tmp_path / "desk.db"
    engine = engine_on(database)
    sessions = db.make_sessionmaker(engine)
    holder = holding_the_turn(database, 0.5)
    with db.unit_of_work(sessions) as s:
        began = time.time()
        s.execute(text("INSERT INTO marks VALUES ('here', :t)"), {"t": began})
    out, err = holder.communicate(timeout=60)
    assert holder.returncode == 0, err
    assert began >= float(out.strip()), "began while the other process held its turn"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM marks")).scalar() == 1
    engine.dispose()


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    database = tmp_path / "desk.db"
    engine = engine_on(database)
    sessions = db.make_sessionmaker(engine)
    other = python(f"""
        from sqlalchemy import text
        from daemon.storage import db
        sessions = db.make_sessionmaker(db.make_engine({f"sqlite:///{database}"!r}))
        for n in range(150):
            with db.unit_of_work(sessions) as s:
                s.execute(text("INSERT INTO marks VALUES ('other', :n)"), {{"n": n}})
        """)
    for n in range(150):
        with db.unit_of_work(sessions) as s:
            s.execute(text("INSERT INTO marks VALUES ('here', :n)"), {"n": n})
    _, err = other.communicate(timeout=120)
    assert other.returncode == 0, err
    with engine.connect() as conn:
        counts = dict(conn.execute(text("SELECT who, count(*) FROM marks GROUP BY who")).all())
    assert counts == {"here": 150, "other": 150}
    engine.dispose()


def test_no_file_lock_for_a_database_in_memory() -> None:
    engine = db.make_engine("sqlite://")
    with db.unit_of_work(db.make_sessionmaker(engine)) as s:
        assert s.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()


def test_a_turn_not_had_in_time_is_a_temporary_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer that is stuck (a suspended CLI, a hung disk) holds its turn: the others
    give up after SQLite's busy timeout with "database is locked", which the daemon
    treats as the database being away (451, exit 75), as SQLite itself would."""
    database = tmp_path / "desk.db"
    engine = engine_on(database)
    sessions = db.make_sessionmaker(engine)
    holder = holding_the_turn(database, 120)
    monkeypatch.setattr(db, "BUSY_TIMEOUT", 0.3)
    try:
        with pytest.raises(OperationalError) as caught, db.unit_of_work(sessions) as s:
            s.execute(text("INSERT INTO marks VALUES ('here', 0)"))
        assert db.is_temporary(caught.value)
        assert "database is locked" in str(caught.value)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    with db.unit_of_work(sessions) as s:  # its turn came back with the holder gone
        s.execute(text("INSERT INTO marks VALUES ('here', 1)"))
    engine.dispose()
