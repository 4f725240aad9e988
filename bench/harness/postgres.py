"""Throw-away PostgreSQL databases for the benchmark, on the server it is pointed at.

Each repetition that runs on PostgreSQL gets a fresh `supportd_bench_*` database,
dropped afterwards (`PgDatabases`); `pg_sweep` drops any left behind when the server
went away under a child (other sessions' failure drills stop it), and `pg_wait`
waits for it to come back. `pg_version` is the server's, for the machine facts.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from typing import Any

DEFAULT_PG = os.environ.get("SUPPORTD_BENCH_POSTGRES",
                            "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class PgDatabases:
    """Fresh PostgreSQL databases for the bench, all dropped at the end."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.made: list[str] = []

    def _admin(self) -> Any:
        from sqlalchemy import create_engine

        return create_engine(self.base, isolation_level="AUTOCOMMIT")

    def new(self) -> str:
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        name = f"supportd_bench_{uuid.uuid4().hex[:10]}"
        eng = self._admin()
        with eng.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        eng.dispose()
        self.made.append(name)
        return make_url(self.base).set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        eng = self._admin()
        with eng.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()
        if name in self.made:
            self.made.remove(name)

    def drop_all(self) -> None:
        from sqlalchemy.engine import make_url

        for name in list(self.made):
            url = make_url(self.base).set(database=name).render_as_string(hide_password=False)
            try:
                self.drop(url)
            except Exception:  # noqa: BLE001 - PostgreSQL away: the parent sweeps later
                self.made.remove(name)


UrlFactory = Callable[[], tuple[str | None, Callable[[], None]]]


def url_factory(a: dict[str, Any]) -> tuple[UrlFactory, PgDatabases | None]:
    """For a child's arguments: a maker of (database URL, its drop) per repetition,
    a fresh PostgreSQL database when `a["pg"]` names a server, else None (SQLite in
    the desk's folder); and the PgDatabases to drop at the end, if any."""
    if a.get("pg"):
        pg = PgDatabases(a["pg"])

        def make() -> tuple[str | None, Callable[[], None]]:
            url = pg.new()
            return url, lambda: pg.drop(url)

        return make, pg
    return (lambda: (None, lambda: None)), None


def pg_sweep(base: str) -> list[str]:
    """Drop every `supportd_bench_*` database: this harness's own, left behind when
    PostgreSQL went away under a child (other sessions' drills stop it)."""
    from sqlalchemy import create_engine, text

    eng = create_engine(base, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        names = [r[0] for r in c.execute(text(
            "SELECT datname FROM pg_database WHERE datname LIKE 'supportd\\_bench\\_%'"))]
        for name in names:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()
    return names


def pg_version(base: str) -> str:
    try:
        from sqlalchemy import create_engine, text

        eng = create_engine(base)
        with eng.connect() as c:
            v = str(c.execute(text("SHOW server_version")).scalar())
        eng.dispose()
        return v
    except Exception as exc:  # noqa: BLE001
        return f"unavailable ({type(exc).__name__})"


def pg_wait(base: str, timeout: float = 240) -> bool:
    """Wait for PostgreSQL to answer (other sessions' failure drills stop it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pg_version(base).startswith("unavailable"):
            return True
        time.sleep(3)
    return False
