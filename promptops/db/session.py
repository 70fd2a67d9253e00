"""Async engine and session factory (SQLAlchemy 2 + psycopg 3).

One engine per URL per process. Repositories never commit; the unit of work that opened the
session (an API request, an activity) commits once at its end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from promptops.settings import get_settings


def normalize_url(url: str) -> str:
    """Return ``url`` with the psycopg 3 driver (``postgresql://`` -> ``postgresql+psycopg://``)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache(maxsize=8)
def get_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    """The process's engine for ``url``.

    A database outage fails fast instead of hanging: a new connection gives up after
    ``PROMPTOPS_DB_CONNECT_TIMEOUT_S`` (libpq ``connect_timeout``) and waiting for a free one
    after ``PROMPTOPS_DB_POOL_TIMEOUT_S``; the errors are classified by
    :mod:`promptops.db.errors` (HTTP 503, a retryable activity failure).

    No ``pool_pre_ping``: it costs a round trip per checkout, i.e. per API request. After a
    database restart the first statement on a dead connection fails once (a 503, or an
    activity retry); SQLAlchemy then invalidates the whole pool and later requests get fresh
    connections. ``PROMPTOPS_DB_PRE_PING=1`` turns the ping back on."""
    settings = get_settings()
    return create_async_engine(
        normalize_url(url),
        pool_size=pool_size,
        max_overflow=20,
        pool_recycle=1800,
        pool_timeout=settings.db_pool_timeout_s,
        pool_pre_ping=settings.db_pre_ping,
        connect_args={"connect_timeout": settings.db_connect_timeout_s},
    )


def get_session_factory(url: str) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(get_engine(url), expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(url: str) -> AsyncIterator[AsyncSession]:
    """A session that commits once when the block exits normally and rolls back on error."""
    async with get_session_factory(url)() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
