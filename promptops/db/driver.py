"""Statements of the gateway's request path sent straight to the psycopg connection.

Through SQLAlchemy's async layer each statement costs about 2 ms of CPU on a 2-core box (the
greenlet bridge, compilation, result and type processing): more than the gateway's whole
overhead target. The request path's few hot statements therefore run as raw SQL on a psycopg
connection (:func:`driver_connection`):

- under an ``AsyncSession``, on the session's own connection, inside its transaction, so the
  session's commit or rollback still covers them (every endpoint but the hot path);
- under a :class:`RequestConnection` (``generate`` and ``/v1/chat/completions``, see
  :mod:`api.hotpath`), on an autocommit connection of a psycopg pool, with no SQLAlchemy on the
  way; the statements that must commit together are wrapped in :func:`atomic`.

Everything else keeps using the ORM.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Self

from psycopg import AsyncClientCursor, AsyncConnection
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.ext.asyncio import AsyncConnection as SAConnection
from sqlalchemy.ext.asyncio import AsyncSession


class RequestConnection:
    """One request's database access on the hot path: an **autocommit** psycopg connection
    drawn from a pool on first use (each raw statement commits on its own, so no ``BEGIN`` /
    ``COMMIT`` round trips; :func:`atomic` groups those that must commit together), plus an
    ``AsyncSession`` opened only if ORM code asks for one.

    It stands in for the request's ``AsyncSession`` in the services: raw-SQL repositories reach
    the connection through :func:`driver_connection`; any other attribute (``execute``,
    ``get``, ``add``...) is the lazily opened ORM session's, whose transaction
    :meth:`commit` / :meth:`rollback` end. ``bind`` is the SQLAlchemy engine (for the side
    pools). :meth:`close` gives both back; use it as ``async with``.
    """

    def __init__(self, pool: AsyncConnectionPool, session_factory: Any, *,
                 durable: bool = True) -> None:
        self._pool = pool
        #: Whether :func:`atomic` batches wait for their WAL flush (``PROMPTOPS_RUN_COMMIT``).
        self.durable = durable
        self._factory = session_factory
        self._conn: AsyncConnection[Any] | None = None
        self._orm: AsyncSession | None = None
        #: Statements held back by :func:`atomic` (None outside such a block).
        self._batch: list[tuple[str, Any]] | None = None
        self.bind = session_factory.kw["bind"]

    async def raw(self) -> AsyncConnection[Any]:
        """The pooled autocommit connection (drawn on first call)."""
        if self._conn is None:
            self._conn = await self._pool.getconn()
        return self._conn

    def orm(self) -> AsyncSession:
        """The ORM session of this request (opened on first call)."""
        if self._orm is None:
            self._orm = self._factory()
        return self._orm

    def __getattr__(self, name: str) -> Any:
        return getattr(self.orm(), name)

    async def commit(self) -> None:
        """Commit the ORM session's transaction, if one was opened (raw statements have
        committed already)."""
        if self._orm is not None:
            await self._orm.commit()

    async def rollback(self) -> None:
        if self._orm is not None:
            await self._orm.rollback()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._pool.putconn(conn)
        orm, self._orm = self._orm, None
        if orm is not None:
            await orm.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


@asynccontextmanager
async def atomic(bind: Any) -> AsyncIterator[None]:
    """Make the raw statements that the block sends with :func:`execute` commit together.

    Under a :class:`RequestConnection` they are collected and sent at the end of the block as
    ONE simple-protocol query (client-side binding by psycopg's ``ClientCursor``), which
    Postgres runs in order as one implicit transaction: one round trip and one commit for the
    lot, and nothing is written when the block raises. The block must not read results (a
    ``fetchone`` in it is sent at once, outside the batch). Under a session, nothing to do:
    the session's transaction already covers the statements."""
    if not isinstance(bind, RequestConnection) or bind._batch is not None:
        yield
        return
    bind._batch = batch = []
    try:
        yield
    finally:
        bind._batch = None
    if batch:
        conn = await bind.raw()
        async with AsyncClientCursor(conn) as cur:
            # The request connection commits asynchronously; what is written here (run
            # records) waits for its WAL flush like any ordinary commit, unless the
            # connection was opened with durable=False (PROMPTOPS_RUN_COMMIT=async).
            statements = [cur.mogrify(sql, params) for sql, params in batch]
            await cur.execute(";\n".join([DURABLE, *statements] if bind.durable
                                          else statements))


async def driver_connection(bind: AsyncSession | SAConnection | RequestConnection
                            ) -> AsyncConnection[Any]:
    """The psycopg connection under ``bind``: a :class:`RequestConnection`'s autocommit
    connection, the session's connection for its current transaction (begun if needed), or
    an async SQLAlchemy connection's own."""
    if isinstance(bind, RequestConnection):
        return await bind.raw()
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


async def execute(target: AsyncConnection[Any] | RequestConnection | AsyncSession, sql: str,
                  params: tuple[Any, ...] | dict[str, Any]) -> None:
    """Run one statement that returns nothing on ``target``: a psycopg connection, or a
    session / :class:`RequestConnection` (its connection; inside :func:`atomic`, held back
    and sent with the block's other statements)."""
    if isinstance(target, RequestConnection) and target._batch is not None:
        target._batch.append((sql, params))
        return
    conn = target if isinstance(target, AsyncConnection) else await driver_connection(target)
    async with conn.cursor() as cur:
        await cur.execute(sql, params, prepare=True)


#: First statement of every :func:`atomic` batch (an implicit transaction block, where
#: ``SET LOCAL`` holds until its end).
DURABLE = "SET LOCAL synchronous_commit TO on"

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncConnectionPool]] = (
    weakref.WeakKeyDictionary())


_conninfos: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def _conninfo(bind: Any) -> str:
    if isinstance(bind, AsyncSession | RequestConnection):
        bind = bind.bind
    engine = bind.engine if hasattr(bind, "engine") else bind
    conninfo = _conninfos.get(engine)
    if conninfo is None:  # rendering the URL costs ~0.2 ms: once per engine
        conninfo = _conninfos[engine] = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
    return conninfo


async def _pool(kind: str, bind: Any, max_size: int, **settings: str) -> AsyncConnectionPool:
    per_loop = _pools.setdefault(asyncio.get_running_loop(), {})
    conninfo = _conninfo(bind)
    key = f"{kind} {conninfo}"
    pool = per_loop.get(key)
    if pool is None:
        options = " ".join(f"-c {name}={value}" for name, value in settings.items())
        pool = per_loop[key] = AsyncConnectionPool(
            conninfo, min_size=1, max_size=max_size, open=False,
            kwargs={"autocommit": True, **({"options": options} if options else {})})
        await pool.open()
    return pool


async def side_pool(bind: Any, *, max_size: int = 10) -> AsyncConnectionPool:
    """A small psycopg pool of **autocommit** connections for the database of ``bind`` (a
    SQLAlchemy engine, connection or session, or a :class:`RequestConnection`), one per URL and
    event loop, for the request path's short side statements (budget reservations and
    settlements, rate-limit counters), each of which commits on its own. Apart from the
    requests' pools, because a request holds its own connection while it waits for one of
    these (drawing both from one pool deadlocks under load). Use ``async with
    pool.connection() as conn``, and ``conn.transaction()`` for statements that must commit
    together.

    Its commits are asynchronous (``synchronous_commit = off``): visible to every other
    transaction at once, flushed to disk by the WAL writer within ``wal_writer_delay`` (200 ms)
    instead of an fsync per statement (~0.25 ms here, on every request). A database crash can
    forget the last of them: reservations and settlements of requests that were in flight
    (and fail with it), and a few rate-limit counts. Run records are never written here."""
    return await _pool("side", bind, max_size, synchronous_commit="off")


async def request_pool(bind: Any, *, max_size: int = 20) -> AsyncConnectionPool:
    """The pool of autocommit connections that :class:`RequestConnection` draws from (one per
    URL and event loop). Like the side pool's, their commits are asynchronous, which suits the
    statements that run alone (the budget reservation); the batches of :func:`atomic` (run
    records, settlements, cache entries) turn ``synchronous_commit`` back on for themselves."""
    return await _pool("request", bind, max_size, synchronous_commit="off")
