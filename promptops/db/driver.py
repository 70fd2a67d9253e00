"""Statements of the gateway's request path sent straight to the psycopg connection.

Through SQLAlchemy's async layer each statement costs about 2 ms of CPU on a 2-core box (the
greenlet bridge, compilation, result and type processing): more than the gateway's whole
overhead target. The request path's few hot statements therefore run on the session's own
psycopg connection (:func:`driver_connection`), inside the session's transaction, so the
session's commit or rollback still covers them. Everything else keeps using the ORM.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.ext.asyncio import AsyncConnection as SAConnection
from sqlalchemy.ext.asyncio import AsyncSession


async def driver_connection(bind: AsyncSession | SAConnection) -> AsyncConnection[Any]:
    """The psycopg connection under ``bind``: the session's connection for its current
    transaction (begun if needed), or an async SQLAlchemy connection's own."""
    conn = await bind.connection() if isinstance(bind, AsyncSession) else bind
    raw = await conn.get_raw_connection()
    driver: AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
    return driver


async def fetchone(conn: AsyncConnection[Any], sql: str,
                   params: tuple[Any, ...] | dict[str, Any]) -> tuple[Any, ...] | None:
    """One row (a tuple) or None; ``prepare=True`` lets the server keep the plan."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(sql, params, prepare=True)
        return await cur.fetchone()


async def fetchall(conn: AsyncConnection[Any], sql: str,
                   params: tuple[Any, ...] | dict[str, Any]) -> list[tuple[Any, ...]]:
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(sql, params, prepare=True)
        return await cur.fetchall()


async def execute(conn: AsyncConnection[Any], sql: str,
                  params: tuple[Any, ...] | dict[str, Any]) -> None:
    async with conn.cursor() as cur:
        await cur.execute(sql, params, prepare=True)


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncConnectionPool]] = (
    weakref.WeakKeyDictionary())


async def side_pool(bind: Any, *, max_size: int = 10) -> AsyncConnectionPool:
    """A small psycopg pool of its own for the database of ``bind`` (a SQLAlchemy engine,
    connection or session), one per URL and event loop, for the request path's short
    side transactions (budget reservations, rate-limit counters). Apart from the request
    sessions' pool, because a request holds its own connection while it waits for one of
    these (drawing both from one pool deadlocks under load). ``async with
    pool.connection() as conn`` commits at the end of the block, or rolls back on an error.
    """
    if isinstance(bind, AsyncSession):
        bind = bind.bind
    url = bind.engine.url if hasattr(bind, "engine") else bind.url
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    per_loop = _pools.setdefault(asyncio.get_running_loop(), {})
    pool = per_loop.get(conninfo)
    if pool is None:
        pool = per_loop[conninfo] = AsyncConnectionPool(conninfo, min_size=1,
                                                        max_size=max_size, open=False)
        await pool.open()
    return pool
