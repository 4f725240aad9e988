"""The soak's desk: its database (a SQLite file in the work folder, or a fresh
database on the PostgreSQL server given, dropped afterwards) and its config
(bench/harness/desk_config.py: LMTP or SMTP from Postfix, supportd's 1 MiB limit).
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

from bench.harness.desk_config import write_config
from bench.soak_jobs.mix import SUPPORTD_LIMIT


def write_soak_config(root: Path, port: int, lmtp: bool, db_url: str) -> Path:
    return write_config(root, db_url, smtp_port=port, lmtp=lmtp,
                        max_message_size=SUPPORTD_LIMIT, log_level="info")


class Database:
    """The desk's database: a SQLite file, or a fresh database on a PostgreSQL server."""

    def __init__(self, root: Path, postgres: str | None) -> None:
        self.admin_url = postgres
        self.name: str | None = None
        if postgres:
            from sqlalchemy import create_engine, text
            from sqlalchemy.engine import make_url

            self.name = f"supportd_soak_{uuid.uuid4().hex[:10]}"
            admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{self.name}"'))
                self.version = str(c.execute(text("SHOW server_version")).scalar())
            admin.dispose()
            self.url = make_url(postgres).set(database=self.name).render_as_string(
                hide_password=False)
            self.label = f"PostgreSQL {self.version}"
        else:
            self.url = f"sqlite:///{root}/supportd.db"
            self.label = f"SQLite {sqlite3.sqlite_version}"
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self.engine = create_engine(self.url, poolclass=NullPool)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        from sqlalchemy import text

        with self.engine.connect() as c:
            return [tuple(r) for r in c.execute(text(sql))]

    def count_inbound(self) -> int:
        try:
            return int(self.rows("SELECT count(*) FROM inbound")[0][0])
        except Exception:  # noqa: BLE001 - not migrated yet, or busy: ask again later
            return -1

    def drop(self) -> None:
        self.engine.dispose()
        if self.admin_url and self.name:
            from sqlalchemy import create_engine, text

            admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            admin.dispose()
