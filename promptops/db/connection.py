"""Raw-SQL database handles: what the model-call pipeline and the other hot statements run on.

Two kinds of database access exist side by side, each with its own explicit type:

- the ORM unit of work, an ``AsyncSession`` (:mod:`promptops.db.session`): every CRUD endpoint,
  the activities' bookkeeping; one transaction per request that commits once at the end;
- :class:`PooledConnection`: **autocommit** psycopg connections of a pool, for the model-call
  pipeline (``generate``, ``/v1/chat/completions``, test runs, evaluation calls) and the
  authentication path. Through SQLAlchemy's async layer each statement costs about 2 ms of CPU
  on a 2-core box (the greenlet bridge, compilation, result processing), more than the
  gateway's whole overhead target; here a statement is one psycopg round trip.

**The one exception to the commit rule** (../shared/STYLE.md: "the request-scoped session
commits once at the end, nothing else calls commit()") is this module: on a
:class:`PooledConnection` every statement commits on its own (autocommit), except those sent
inside :meth:`PooledConnection.atomic`, which commit together in one round trip. The pipeline
uses that for exactly one thing: the run record and what must land with it (the budget
settlement, the cache entry, an evaluation's scores).

Raw-SQL repositories take the :class:`SQL` protocol, so the same statements also run inside an
ORM session's transaction through :class:`SessionSQL` (e.g. an API service that reads budget
usage in its request's transaction).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol, Self, cast

from psycopg import AsyncClientCursor, AsyncConnection
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.settings import get_settings

__all__ = [
    "DURABLE",
    "SQL",
    "CommitGroup",
    "ConnectionSQL",
    "Params",
    "PooledConnection",
    "SessionSQL",
    "close_pools",
    "connection_pool",
    "pooled_connection",
    "side_connection",
]

#: Statement parameters: positional (``%s``) or named (``%(name)s``), psycopg style.
Params = tuple[Any, ...] | Mapping[str, Any]

#: First statement of every :meth:`PooledConnection.atomic` batch (an implicit transaction
#: block, where ``SET LOCAL`` holds until its end): run records wait for their WAL flush.
DURABLE = "SET LOCAL synchronous_commit TO on"


class SQL(Protocol):
    """A handle that runs raw SQL; what the raw-SQL repositories take."""

    async def fetchone(self, sql: str, params: Params) -> tuple[Any, ...] | None:
        """The first row (a tuple) of ``sql``, or None."""
        ...

    async def fetchall(self, sql: str, params: Params) -> list[tuple[Any, ...]]:
        """Every row of ``sql``, as tuples."""
        ...

    async def execute(self, sql: str, params: Params) -> None:
        """Run a statement whose rows are not read."""
        ...


async def _fetchone(conn: AsyncConnection[Any], sql: str, params: Params) -> tuple[Any, ...] | None:
    async with conn.cursor(row_factory=tuple_row) as cur:
        # prepare=True: the server keeps the plan of a statement this connection repeats.
        await cur.execute(sql, params, prepare=True)
        return await cur.fetchone()


async def _fetchall(conn: AsyncConnection[Any], sql: str, params: Params) -> list[tuple[Any, ...]]:
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(sql, params, prepare=True)
        return await cur.fetchall()


async def _execute(conn: AsyncConnection[Any], sql: str, params: Params) -> None:
    async with conn.cursor() as cur:
        await cur.execute(sql, params, prepare=True)


class PooledConnection:
    """Raw SQL for one unit of work (a model call, an authentication) on an **autocommit**
    connection drawn from ``pool`` at the first statement and given back by :meth:`release`
    (a later statement draws one again: the pipeline releases before waiting on a provider,
    so a slow model does not hold a database connection) or :meth:`close`.

    Each statement commits on its own, except inside :meth:`atomic`. ``durable``: whether
    :meth:`atomic` batches wait for their WAL flush (``PROMPTOPS_RUN_COMMIT``); single
    statements commit asynchronously on these connections (see :func:`connection_pool`).
    Use as ``async with``."""

    def __init__(
        self, pool: AsyncConnectionPool, *, durable: bool = True, group: CommitGroup | None = None
    ) -> None:
        self._pool = pool
        self.durable = durable
        #: When set, :meth:`atomic` batches are committed by this group (see
        #: :class:`CommitGroup`) instead of on this connection.
        self.group = group
        self._conn: AsyncConnection[Any] | None = None
        #: Statements held back by :meth:`atomic` (None outside such a block).
        self._batch: list[tuple[str, Params]] | None = None
        #: Give-backs started by :meth:`release_later` and still running.
        self._returning: set[asyncio.Future[None]] = set()

    async def _raw(self) -> AsyncConnection[Any]:
        if self._conn is None:
            self._conn = await self._pool.getconn()
        return self._conn

    async def fetchone(self, sql: str, params: Params) -> tuple[Any, ...] | None:
        """The first row of ``sql`` (sent at once, also inside :meth:`atomic`)."""
        return await _fetchone(await self._raw(), sql, params)

    async def fetchall(self, sql: str, params: Params) -> list[tuple[Any, ...]]:
        """Every row of ``sql`` (sent at once, also inside :meth:`atomic`)."""
        return await _fetchall(await self._raw(), sql, params)

    async def execute(self, sql: str, params: Params) -> None:
        """Run ``sql``; inside :meth:`atomic`, held back and sent with the block's others."""
        if self._batch is not None:
            self._batch.append((sql, params))
            return
        await _execute(await self._raw(), sql, params)

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        """Make the statements the block sends with :meth:`execute` commit together.

        They are collected and sent at the end of the block as ONE simple-protocol query
        (client-side binding by psycopg's ``ClientCursor``), which Postgres runs in order as
        one implicit transaction: one round trip and one commit for the lot, and nothing is
        written when the block raises or a statement fails. The block must not expect to
        read what it writes (:meth:`fetchone` inside it is sent at once, outside the batch).
        Nested blocks join the outer one."""
        if self._batch is not None:
            yield
            return
        batch: list[tuple[str, Params]] = []
        self._batch = batch
        try:
            yield
        finally:
            self._batch = None
        if not batch:
            return
        if self.group is not None:
            await self.group.commit(batch)
            return
        await _send_batch(await self._raw(), batch, durable=self.durable)

    async def release(self) -> None:
        """Give the connection back to the pool now (idempotent)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._pool.putconn(conn)

    def release_later(self, delay_s: float) -> asyncio.TimerHandle:
        """Give the connection back if the caller still holds it ``delay_s`` seconds from now
        (cancel the returned handle when the wait it covers ends). For a wait of unknown
        length, such as a provider call: a fast one keeps its connection (drawing another
        afterwards costs about a tenth of the gateway's throughput at saturation, measured),
        a slow one does not hold it meanwhile. The connection is detached at once when the
        timer fires, so a statement sent afterwards draws a fresh one."""
        return asyncio.get_running_loop().call_later(delay_s, self._detach)

    def _detach(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            returning = asyncio.ensure_future(self._pool.putconn(conn))
            self._returning.add(returning)
            returning.add_done_callback(self._returning.discard)

    async def close(self) -> None:
        await self.release()
        if self._returning:
            await asyncio.gather(*self._returning, return_exceptions=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def _send_batch(
    conn: AsyncConnection[Any], batch: list[tuple[str, Params]], *, durable: bool
) -> None:
    """``batch`` as ONE simple-protocol query (client-side binding): one implicit transaction."""
    async with AsyncClientCursor(conn) as cur:
        statements = [cur.mogrify(sql, params) for sql, params in batch]
        await cur.execute(";\n".join([DURABLE, *statements] if durable else statements))


class CommitGroup:
    """Group commit for many concurrent calls of one job (an evaluation chunk): the
    :meth:`PooledConnection.atomic` batches that arrive while one is being written are sent
    together, as one implicit transaction on one connection of ``pool``, so N examples cost a
    few commits (and fsyncs) instead of N. :meth:`commit` returns once its statements are
    committed, or raises what the group's write raised (then none of that group was written:
    the writes must be idempotent, as evaluation rows are, for the caller's retry).
    :meth:`aclose` waits for the last write."""

    def __init__(self, pool: AsyncConnectionPool, *, durable: bool = True) -> None:
        self._pool = pool
        self.durable = durable
        self._pending: list[tuple[list[tuple[str, Params]], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        #: Transactions sent so far (for tests and benchmarks).
        self.commits = 0

    async def commit(self, batch: list[tuple[str, Params]]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((batch, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())
        await asyncio.shield(done)

    async def _write(self) -> None:
        while self._pending:
            group, self._pending = self._pending, []
            try:
                async with self._pool.connection() as conn:
                    statements = [s for batch, _ in group for s in batch]
                    await _send_batch(conn, statements, durable=self.durable)
                self.commits += 1
            except BaseException as exc:
                for _, done in group:
                    if not done.done():
                        done.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for _, done in group:
                if not done.done():
                    done.set_result(None)

    async def aclose(self) -> None:
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)


class ConnectionSQL:
    """Raw SQL on a bare psycopg connection (one drawn from a pool by the caller)."""

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self.conn = conn

    async def fetchone(self, sql: str, params: Params) -> tuple[Any, ...] | None:
        return await _fetchone(self.conn, sql, params)

    async def fetchall(self, sql: str, params: Params) -> list[tuple[Any, ...]]:
        return await _fetchall(self.conn, sql, params)

    async def execute(self, sql: str, params: Params) -> None:
        await _execute(self.conn, sql, params)


class SessionSQL:
    """Raw SQL on an ORM session's own connection, inside its transaction (the session's
    commit or rollback covers the statements)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _raw(self) -> AsyncConnection[Any]:
        conn = await self.session.connection()
        raw = await conn.get_raw_connection()
        return cast("AsyncConnection[Any]", raw.driver_connection)

    async def fetchone(self, sql: str, params: Params) -> tuple[Any, ...] | None:
        return await _fetchone(await self._raw(), sql, params)

    async def fetchall(self, sql: str, params: Params) -> list[tuple[Any, ...]]:
        return await _fetchall(await self._raw(), sql, params)

    async def execute(self, sql: str, params: Params) -> None:
        await _execute(await self._raw(), sql, params)


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncConnectionPool]] = (
    weakref.WeakKeyDictionary()
)


def _conninfo(database_url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://...``) as a libpq connection string."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def connection_pool(
    database_url: str, *, kind: str = "call", max_size: int = 20
) -> AsyncConnectionPool:
    """The pool of **autocommit** connections of ``kind`` for ``database_url``, one per URL,
    kind and event loop (opened on first use).

    Kinds: ``"call"`` for :class:`PooledConnection` (the model-call pipeline) and ``"side"``
    for short statements made while a call's own connection is held (rate-limit counters):
    drawing both from one pool deadlocks under load once every connection belongs to a
    waiting request.

    Commits are asynchronous (``synchronous_commit = off``): visible to every other
    transaction at once, flushed to disk by the WAL writer within ``wal_writer_delay``
    (200 ms) instead of an fsync per statement (~0.25 ms here). A database crash can forget
    the last of them: budget reservations of calls that were in flight (and fail with it)
    and a few rate-limit counts. Run records are written by :meth:`PooledConnection.atomic`,
    which turns ``synchronous_commit`` back on for its batch."""
    per_loop = _pools.setdefault(asyncio.get_running_loop(), {})
    key = f"{kind} {database_url}"
    pool = per_loop.get(key)
    if pool is None:
        # Fail fast while the database is down (promptops.db.errors maps the PoolTimeout to a
        # 503): wait at most PROMPTOPS_DB_POOL_TIMEOUT_S for a connection, and give up each
        # chain of reconnect attempts as soon (psycopg_pool backs off exponentially, which
        # would keep the pool away for about as long as the outage lasted; the next request
        # starts a new chain at once).
        settings = get_settings()
        pool = per_loop[key] = AsyncConnectionPool(
            _conninfo(database_url),
            min_size=1,
            max_size=max_size,
            open=False,
            timeout=settings.db_pool_timeout_s,
            reconnect_timeout=settings.db_pool_timeout_s,
            kwargs={
                "autocommit": True,
                "options": "-c synchronous_commit=off",
                "connect_timeout": settings.db_connect_timeout_s,
            },
        )
        await pool.open()
    return pool


@asynccontextmanager
async def side_connection(database_url: str) -> AsyncIterator[ConnectionSQL]:
    """An autocommit connection of the ``side`` pool of ``database_url`` for the block."""
    pool = await connection_pool(database_url, kind="side", max_size=10)
    async with pool.connection() as conn:
        yield ConnectionSQL(conn)


async def pooled_connection(database_url: str, *, durable: bool = True) -> PooledConnection:
    """A :class:`PooledConnection` on the ``"call"`` pool of ``database_url``."""
    return PooledConnection(await connection_pool(database_url), durable=durable)


async def close_pools() -> None:
    """Close every pool of the running event loop (an app's or a worker's shutdown)."""
    for pool in list(_pools.pop(asyncio.get_running_loop(), {}).values()):
        await pool.close()
