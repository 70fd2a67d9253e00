"""Resolve where the platform's parts are: external when configured, embedded otherwise."""

from __future__ import annotations

from promptops.settings import Settings


def resolve_database_url(settings: Settings) -> str:
    """``DATABASE_URL`` when set, else the embedded Postgres under ``PROMPTOPS_HOME`` (started
    or attached to)."""
    if settings.database_url:
        return settings.database_url
    from promptops.devstack.postgres import start_postgres

    return start_postgres(settings.pgdata)
