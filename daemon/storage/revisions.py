"""Which schema the database holds, against the one this code knows: before a command
reads, and what `db upgrade`, `db current` and `db history` say.

The revisions this code knows are its migration files (`NNNN_what.py`, their
numbers are their revision ids), read without Alembic, so `supportd ingest` can
ask at the cost of one query. A database is one of: missing (an SQLite file that
is not there: never created by a read), unreachable, empty (never migrated),
behind (an upgrade to run), current, or ahead (written by newer code: this code
must not touch it). `problem` says which in one line, with the exit code:
75 (try again once it is fixed: the MTA retries), 78 (the configuration or the
installation is wrong).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from daemon.storage.db import MIGRATIONS, make_engine

EX_TEMPFAIL, EX_CONFIG = 75, 78
VERSIONS = MIGRATIONS / "versions"


@dataclass(frozen=True)
class Revision:
    id: str
    title: str  # the first line of the migration's docstring


def known() -> list[Revision]:
    """The migrations of this code, oldest first (their files' numbers are their ids)."""
    found = []
    for path in sorted(VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py")):
        title = path.stem.split("_", 1)[1].replace("_", " ")
        with path.open(encoding="utf-8") as f:
            first = f.readline().strip().strip('"').strip()
        found.append(Revision(path.stem.split("_", 1)[0], first or title))
    return found


def head() -> str:
    return known()[-1].id


def sqlite_file(url: str) -> Path | None:
    """The database file of an SQLite URL (None for another database, or memory)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def stored(engine: Engine) -> str | None:
    """The revision the database holds; None when it was never migrated."""
    with engine.connect() as conn:
        if not engine.dialect.has_table(conn, "alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__


@dataclass(frozen=True)
class State:
    revision: str | None  # what the database holds
    problem: tuple[int, str] | None  # (exit code, one line) when it cannot be used


def examine(url: str, engine: Engine | None = None, *, empty_ok: bool = False) -> State:
    """The database's state for code at `head()`: can it be read and written as is?
    Never creates an SQLite file; `engine`: the one to ask (made and disposed of
    here when None). `empty_ok`: a missing or empty database is fine (db upgrade)."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        if empty_ok:
            return State(None, None)
        return State(None, (EX_TEMPFAIL, f"no database at {path}: run `supportd db upgrade` "
                                         "to create it"))
    mine = engine is None
    try:
        engine = engine or make_engine(url)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        return State(None, (EX_CONFIG, f"storage.url: {_first_line(exc)} (supportd "
                                       "check-config says more)"))
    try:
        revision = stored(engine)
    except DBAPIError as exc:
        return State(None, (EX_TEMPFAIL, f"database unreachable: {_first_line(exc)}"))
    finally:
        if mine:
            engine.dispose()
    ids = [r.id for r in known()]
    if revision is None:
        return State(None, None if empty_ok else (
            EX_TEMPFAIL, "the database is empty (never migrated): run `supportd db upgrade`"))
    if revision not in ids:
        return State(revision, (EX_CONFIG, f"the database's schema is {revision}, newer than "
                                           f"this code's {ids[-1]}: run the supportd that "
                                           "wrote it, or restore the backup taken before "
                                           "its upgrade (docs/admin.md, Upgrade)"))
    if revision != ids[-1] and not empty_ok:
        behind = len(ids) - 1 - ids.index(revision)
        return State(revision, (EX_TEMPFAIL, f"the database's schema is {revision}, {behind} "
                                             f"migration{'s' if behind > 1 else ''} behind "
                                             f"this code's {ids[-1]}: run `supportd db "
                                             "upgrade`"))
    return State(revision, None)
