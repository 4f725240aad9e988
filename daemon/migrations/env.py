"""Alembic environment: migrations run against the URL that `daemon.db` passes in."""

from alembic import context
from sqlalchemy import create_engine

from daemon.storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        # batch mode: SQLite can only ALTER a table by copying it
        extra = {}
        if config.attributes.get("on_version_apply"):  # `supportd db upgrade` says each step
            extra["on_version_apply"] = config.attributes["on_version_apply"]
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True, **extra)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
