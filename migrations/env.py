"""Alembic environment: target metadata is promptops.db.models.Base.metadata."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from promptops.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        # Serialise concurrent `upgrade head` calls (several test workers, up + worker).
        connection.exec_driver_sql("SELECT pg_advisory_lock(727274)")
        # The lock is held by the session; ending the implicit transaction of that SELECT
        # lets Alembic own the migrations' transaction (autocommit_block needs it, for
        # CREATE INDEX CONCURRENTLY in 0007).
        connection.commit()
        try:
            context.configure(connection=connection, target_metadata=target_metadata)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            connection.exec_driver_sql("SELECT pg_advisory_unlock(727274)")
            connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
