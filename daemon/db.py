"""Database engine, sessions and migrations.

The runner opens one transaction per letter (`with session_scope(...)`); steps
never commit. The schema is built and upgraded by Alembic only, so a fresh
database and an upgraded one are the same thing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # The transaction is begun by us (below), not by the driver: pysqlite
            # begins only at the first write, so a SAVEPOINT before it would become
            # the outer transaction and its RELEASE a commit.
            dbapi_conn.isolation_level = None
            # WAL lets the CLI read while the daemon writes; FULL sync because a
            # committed ticket is a promise made to a client.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # 64 MB of page cache (the default is 2 MB): the indexes' upper pages of a
            # desk with a million tickets stay in memory between letters.
            cur.execute("PRAGMA cache_size=-65536")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            # A unit of work (a writer) begins IMMEDIATE: it takes the write lock at
            # the start, waiting up to busy_timeout, rather than fail with "database is
            # locked" when its read turns into a write after another process wrote.
            # Readers (the CLI's listings, pings) begin deferred and never wait.
            immediate = conn.get_execution_options().get(WRITER, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


WRITER = "supportd_writer"  # execution option: this transaction will write


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction that writes: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        session.connection(execution_options={WRITER: True})
        yield session


def alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig  # only migrations need Alembic

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def is_conflict(exc: BaseException) -> bool:
    """Two transactions took rows or locks in opposite orders (PostgreSQL detected a
    deadlock, or a serialization failure): not an outage, the work can be retried."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in ("40P01", "40001")


def is_temporary(exc: BaseException) -> bool:
    """Errors that mean 'the database is not there right now': retry later, lose nothing."""
    if isinstance(exc, OperationalError):
        return True
    if isinstance(exc, ProgrammingError):
        # A missing table or column: the schema is older than the code (an upgrade
        # half done). Letters wait in the spool until `supportd db upgrade` has run.
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def ping(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except DBAPIError:
        return False
