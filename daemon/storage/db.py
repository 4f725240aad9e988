"""Database engine, sessions and migrations.

The runner opens one transaction per letter (`with session_scope(...)`); steps
never commit. The schema is built and upgraded by Alembic only, so a fresh
database and an upgraded one are the same thing.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    Column,
    Engine,
    Select,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    inspect,
    text,
)
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
BUSY_TIMEOUT = 30.0  # seconds a SQLite writer waits for its turn, then: temporary failure


def make_engine(url: str) -> Engine:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT})

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
            cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
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


# SQLite has one writer at a time, and a writer that finds the lock taken sleeps and
# tries again (1, 2, 5, ... up to 100 ms a time): the pipeline waiting for the outbox
# slept far longer than the outbox held the lock (issue 5: the running daemon did 36
# letters/s against 119 for the pipeline alone). Writers therefore queue before they
# begin, and take turns at once: the threads of one process on a lock, the processes
# on one database (the daemon's pipeline and outbox, `supportd ingest` run by the MTA,
# the CLI) on an flock of a file beside it, which the kernel hands on when released
# and drops with a killed process. SQLite's own lock still guards the data; the flock
# only spares the sleeping.
class _Writers:
    """Turns at writing one SQLite database: a thread lock, then the file lock. A turn
    not had within SQLite's own busy timeout is the same temporary failure SQLite
    would have raised ("database is locked": 451, exit 75, the worker reports it), not
    a silent wait behind a writer that is stuck (a suspended CLI, a hung disk). Not
    re-entrant: a writer inside a writer of the same database cannot begin on SQLite."""

    def __init__(self, database: str | None) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.fd: int | None = None
        if database and database != ":memory:" and not database.startswith("file:"):
            with suppress(OSError):  # no file lock where none can be made: sleeps
                self.fd = open_lock_file(f"{database}-writers")
                weakref.finalize(self, os.close, self.fd)

    def __enter__(self) -> None:
        deadline = time.monotonic() + BUSY_TIMEOUT
        if not self.lock.acquire(timeout=BUSY_TIMEOUT):
            raise _locked("another thread of this process")
        if self.fd is None:
            return
        try:
            self._flock(self.fd, deadline)
        except BaseException:
            self.lock.release()
            raise

    @staticmethod
    def _flock(fd: int, deadline: float) -> None:
        """The file lock, waiting in short naps (flock itself cannot time out)."""
        nap = 0.0005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _locked("another process") from None
                time.sleep(nap)
                nap = min(nap * 2, 0.01)

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.lock.release()


def open_lock_file(path: str | os.PathLike[str]) -> int:
    """A descriptor to flock `path` by, the file made if need be. Read-only is enough
    for flock, and the file is readable by all whatever the umask of the root that
    made it (a CLI run by hand): it never locks out the service's own user."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    with suppress(OSError):  # only its owner may, and need
        os.fchmod(fd, 0o644)
    return fd


def _locked(holder: str) -> OperationalError:
    return OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError(
        f"database is locked: {holder} has been writing for {BUSY_TIMEOUT:.0f} s"))


# One per engine, closed with it; a forked child (whose descriptor would share the
# parent's lock) makes its own.
_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, _Writers] = weakref.WeakKeyDictionary()
_LOCKS_LOCK = threading.Lock()


def _writers_lock(factory: sessionmaker[Session]) -> AbstractContextManager[Any]:
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine) or bind.url.get_backend_name() != "sqlite":
        return nullcontext()
    with _LOCKS_LOCK:
        writers = _SQLITE_WRITERS.get(bind)
        if writers is None or writers.pid != os.getpid():
            writers = _SQLITE_WRITERS[bind] = _Writers(bind.url.database)
        return writers


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction that writes: commit on success, roll back on any error."""
    with _writers_lock(factory), factory() as session, session.begin():
        session.connection(execution_options={WRITER: True})
        yield session


# ------------------------------------------------------------ rows written at once

# The unit of work costs several times a plain INSERT per row (its bookkeeping, one
# statement per object at each savepoint): the rows a letter adds and seldom changes
# again (its message, attachments, reaction clock, queued letters, accounting) are
# written with one INSERT each instead (issue 5). Written at once, they are seen by
# every later query of the transaction and rolled back with its savepoint.
#
# Those INSERTs go to the driver's cursor directly, with the SQL SQLAlchemy compiled
# for the table once and the columns' own bind processors (JSON, UTC datetimes):
# executing them through Core cost 155 µs per message row against 24 µs for the
# driver alone. Driver errors are raised as SQLAlchemy's (so a database that went
# away is still temporary, `is_temporary`).

T = TypeVar("T")
_UNSET = object()


@dataclass(frozen=True)
class _Insert:
    sql: str
    columns: tuple[Column[Any], ...]  # in the order of the statement's parameters
    processors: tuple[Callable[[Any], Any] | None, ...]
    named: bool  # the driver takes a dict (psycopg), not a sequence (sqlite3)
    returning: bool  # the new id comes back as a row (else the cursor's lastrowid)


@cache
def _prepared(dialect: Dialect, table: Table, with_id: bool, new_id: bool) -> _Insert:
    """`with_id`: the rows bring their primary key; `new_id`: one row, its key wanted."""
    columns = tuple(c for c in table.columns if with_id or not c.primary_key)
    returning = new_id and dialect.name != "sqlite"
    stmt = insert(table).values({c.name: bindparam(c.name, type_=c.type) for c in columns})
    compiled = stmt.returning(table.c.id).compile(dialect=dialect) if returning \
        else stmt.compile(dialect=dialect)
    order = compiled.positiontup
    if order is not None:  # positional parameters: the statement's own order
        by_name = {c.name: c for c in columns}
        columns = tuple(by_name[name] for name in order)
    return _Insert(compiled.string, columns,
                   tuple(c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns),
                   named=order is None, returning=returning)


CLOCK = "supportd_clock"  # a connection's info key, read by `models.utcnow`


@dataclass(frozen=True)
class _DefaultContext:
    """What a column default that takes SQLAlchemy's execution context reads of it
    (`models.utcnow`: the connection, and on it the App's clock)."""

    connection: Connection


def use_clock(engine: Engine, clock: Callable[[], datetime]) -> None:
    """Column defaults of "now" (`models.utcnow`) on this engine's connections read
    `clock`: the App's one clock, so `--now` holds for every row written."""
    @event.listens_for(engine, "engine_connect")
    def _clock(conn: Connection) -> None:
        conn.info[CLOCK] = clock


def _value(column: Column[Any], values: dict[str, Any], conn: Connection) -> Any:
    value = values.get(column.name, _UNSET)
    if value is not _UNSET:
        return value
    default = column.default
    if default is None:
        return None
    if not default.is_callable:  # type: ignore[attr-defined]
        return default.arg  # type: ignore[attr-defined]
    return default.arg(_DefaultContext(conn))  # type: ignore[attr-defined]


def _execute(session: Session, table: Table, rows: list[dict[str, Any]], with_id: bool,
             new_id: bool) -> int | None:
    conn = session.connection()
    prep = _prepared(conn.dialect, table, with_id, new_id)
    params: list[Any] = []
    for values in rows:
        row = [_value(c, values, conn) if process is None else process(_value(c, values, conn))
               for c, process in zip(prep.columns, prep.processors, strict=True)]
        params.append({c.name: v for c, v in zip(prep.columns, row, strict=True)}
                      if prep.named else row)
    with _cursor(conn, prep.sql, params if len(params) > 1 else params[0],
                 many=len(params) > 1) as cursor:
        if not new_id:
            return None
        if prep.returning:
            return int(cursor.fetchone()[0])
        return int(cursor.lastrowid)  # SQLite: the rowid


@contextmanager
def _cursor(conn: Connection, sql: str, params: Any, many: bool = False) -> Iterator[Any]:
    """A driver cursor that ran `sql`. What listens for the engine's statements (tests,
    tracing) hears of it too, and a driver error is raised as SQLAlchemy's."""
    dbapi = conn.dialect.loaded_dbapi
    cursor = None
    try:
        cursor = conn.connection.cursor()
        for listener in conn.dispatch.before_cursor_execute:
            listener(conn, cursor, sql, params, None, many)
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
        for listener in conn.dispatch.after_cursor_execute:
            listener(conn, cursor, sql, params, None, many)
        yield cursor
    except dbapi.Error as exc:
        gone = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor)
        if gone:
            conn.invalidate(exc)
        raise DBAPIError.instance(sql, params, exc, dbapi.Error, dialect=conn.dialect,
                                  connection_invalidated=gone) from exc
    finally:
        if cursor is not None:
            with suppress(Exception):  # a connection already gone
                cursor.close()


def insert_row(session: Session, table: Table, values: dict[str, Any] | list[dict[str, Any]]
               ) -> None:
    """INSERT one row or many; their parents must be written already. A column not
    given gets its default."""
    rows = values if isinstance(values, list) else [values]
    if rows:
        _execute(session, table, rows, with_id=any("id" in r for r in rows), new_id=False)


def insert_id(session: Session, table: Table, values: dict[str, Any]) -> int:
    """INSERT one row; its new primary key."""
    key = _execute(session, table, [values], with_id=False, new_id=True)
    assert key is not None
    return key


@dataclass(frozen=True)
class _Query:
    sql: str
    order: tuple[str, ...] | None  # positional parameters (sqlite3), else named
    bound: dict[str, Any]  # values the statement carries itself (LIMIT 1, IN lists)
    processors: dict[str, Any]  # name: the bind processor of its type, or None


@cache
def _compiled(dialect: Dialect, stmt: Select[Any]) -> _Query:
    # An IN list becomes one parameter per value here, not at each execution.
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    processors = {name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                  for bind, name in compiled.bind_names.items()}
    order = tuple(compiled.positiontup) if compiled.positiontup is not None else None
    return _Query(compiled.string, order, dict(compiled.params), processors)


def rows(session: Session, stmt: Select[Any], **params: Any) -> list[tuple[Any, ...]]:
    """Run a SELECT built once (module level) at the driver's cursor, as the INSERTs
    above: for the lookups every letter makes. Its columns come back as the driver
    gives them, so only for columns that need no conversion (ids, counts, text)."""
    conn = session.connection()
    query = _compiled(conn.dialect, stmt)
    values = {**query.bound, **params}
    for name, process in query.processors.items():
        if process is not None:
            values[name] = process(values[name])
    args = tuple(values[name] for name in query.order) if query.order is not None else values
    with _cursor(conn, query.sql, args) as cursor:
        return [tuple(r) for r in cursor.fetchall()]


@cache
def _columns_of(mapper: Mapper[Any]) -> tuple[tuple[str, Column[Any]], ...]:
    """(attribute, column) of a mapped class, primary key first."""
    pairs: list[tuple[str, Any]] = [(prop.key, prop.columns[0]) for prop in mapper.column_attrs]
    return tuple(sorted(pairs, key=lambda kc: not kc[1].primary_key))


def insert_now(session: Session, obj: T) -> T:
    """Write a new ORM object's row now with one INSERT and keep the object in the
    session as persistent: later changes to it are flushed as UPDATEs as usual.

    Its many-to-one keys must be given as columns (`ticket_id=`), not relationships
    (which would make it pending), and the parent rows written already. A column left
    unset gets its default, in the row and on the object alike, so reading it later
    costs no query. The primary key comes back from the INSERT unless it was set."""
    state = inspect(obj)
    known = state.dict
    values: dict[str, Any] = {}
    for key, column in _columns_of(state.mapper):
        if key in known:
            values[column.name] = known[key]
        elif not column.primary_key:
            # Straight into the object's dict: it is transient, there is no history
            # to keep (make_transient_to_detached below starts it afresh anyway).
            known[key] = values[column.name] = _value(column, values, session.connection())
    table = state.mapper.local_table
    pk_key, pk = _columns_of(state.mapper)[0]
    if values.get(pk.name) is None:
        values.pop(pk.name, None)
        known[pk_key] = insert_id(session, table, values)  # type: ignore[arg-type]
    else:
        insert_row(session, table, values)  # type: ignore[arg-type]
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


def expire_loaded(session: Session, obj: object, *collections: str) -> None:
    """Rows were written around the unit of work: a collection of `obj` already read
    would not show them; forget it, to be read anew when next asked for."""
    loaded = [c for c in collections if c in inspect(obj).dict]
    if loaded:
        session.expire(obj, loaded)


def alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig  # only migrations need Alembic

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head",
            on_version_apply: Callable[..., None] | None = None) -> None:
    """Migrate to `revision`; `on_version_apply(step=...)` is called after each one."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    from alembic import command

    cfg = alembic_config(url)
    cfg.attributes["on_version_apply"] = on_version_apply
    command.upgrade(cfg, revision)


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
