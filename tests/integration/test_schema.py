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
    db.upgrade(url)
    command.downgrade(db.alembic_config(url), "-1")
    assert differences(url) != []
    db.upgrade(url)
    assert differences(url) == []
