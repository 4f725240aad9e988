"""The schema Alembic builds is the schema daemon/storage/models.py declares, and the newest
revision can be taken back and done again."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from daemon.storage import db
from daemon.storage.models import Base


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path}/schema.db"


def differences(url: str) -> list[object]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
    finally:
        engine.dispose()


def indexes(url: str, table: str) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return {str(ix["name"]) for ix in inspect(engine).get_indexes(table)}
    finally:
        engine.dispose()


def test_the_migrations_build_what_the_models_declare(url: str) -> None:
    db.upgrade(url)
    assert differences(url) == []
    assert "ix_tickets_open_assignee" in indexes(url, "tickets")


def test_the_newest_revision_goes_down_and_up_again(url: str) -> None:
    """Down one revision and up again. (The newest may move data only, 0013's paths,
    and leave the tables as they were: the revision the database holds says it
    went down.)"""
    from daemon.storage import revisions

    db.upgrade(url)
    command.downgrade(db.alembic_config(url), "-1")
    engine = create_engine(url, poolclass=NullPool)
    try:
        assert revisions.stored(engine) == revisions.known()[-2].id
    finally:
        engine.dispose()
    db.upgrade(url)
    assert differences(url) == []


def test_0013_makes_the_recorded_paths_relative_to_the_spool(tmp_path: Path) -> None:
    """A database written with absolute spool paths points into the spool folder in
    force after the upgrade (a restore elsewhere finds its letters)."""
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path}/old.db"
    db.upgrade(url, "0012")
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO inbound (spool_id, source, envelope_from, envelope_to, received_at, "
            "processed_at, size, sha256, raw_path, outcome, reason) VALUES ('x', 'smtp', '', "
            "'[]', '2026-12-01 10:00:00', '2026-12-01 10:00:00', 1, 'h', "
            "'/var/lib/supportd/spool/store/2026/12/01/x', 'ticket', '')"))
    db.upgrade(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT raw_path FROM inbound")).scalar() == \
            "store/2026/12/01/x"
    engine.dispose()
