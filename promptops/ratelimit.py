"""Per-API-key rate limits: requests per minute in fixed one-minute UTC windows.

Algorithm (fixed window counter, as in the Redis ``INCR`` + ``EXPIRE`` pattern of the Redis
documentation and Stripe's "Scaling your API with rate limiters"): a request at time ``t`` falls
in the window ``w = floor(t / 60 s) * 60 s``; it increments ``count`` of row ``(api_key_id, w)``
of ``rate_limit_windows`` and is allowed iff the new ``count <= limit``. So::

    remaining = max(0, limit - count)
    reset_s   = ceil(w + 60 - t)          (seconds until the next window, 1..60)

The increment is ONE statement, ``INSERT ... ON CONFLICT (api_key_id, window_start) DO UPDATE
SET count = rate_limit_windows.count + 1 RETURNING count``, committed in its own short
transaction: Postgres takes the row lock for the update, so concurrent requests on any number
of API replicas get distinct counts 1, 2, 3, ... and exactly ``limit`` of them are allowed.

Known limits of fixed windows:

- Burst at the edges: a client may send ``limit`` requests in the last second of a window and
  ``limit`` more in the first second of the next, i.e. up to ``2 * limit`` within ~1 s (a
  sliding-window log or GCRA avoids this at more cost per request).
- Refused requests count too (the counter is incremented before the comparison), so a client
  that keeps retrying inside the window stays refused until the window ends; ``Retry-After``
  tells it when.

Old windows are deleted occasionally: when a key opens a new window (its ``count`` is 1) the
same transaction drops that key's windows that started more than 2 minutes ago, so each key
keeps at most a few rows without a separate sweeper.
"""

from __future__ import annotations

import asyncio
import math
import uuid
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    create_async_engine,
)

from promptops.db.models.gateway import RateLimitWindow

WINDOW = timedelta(minutes=1)
#: Windows that started this long before the current one are deleted (see the module doc).
KEEP = timedelta(minutes=2)
#: Connections of the rate-limit pool: its transactions are one or two statements long.
POOL_SIZE = 5
POOL_OVERFLOW = 5


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one request: ``allowed``; ``limit`` (requests per minute); ``remaining``
    requests in the current window (>= 0); ``reset_s``: whole seconds until the window ends
    (1..60), the value of ``Retry-After`` when refused; ``count``: requests counted so far in
    the window, this one included."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    count: int = 0


def window_start(now: datetime) -> datetime:
    """The start of the fixed one-minute UTC window holding ``now`` (naive = UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).replace(second=0, microsecond=0)


def decide(count: int, limit_rpm: int, now: datetime) -> RateDecision:
    """The decision for the ``count``-th request of the window holding ``now``."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    left = (window_start(now) + WINDOW - now).total_seconds()
    return RateDecision(allowed=count <= limit_rpm, limit=limit_rpm,
                        remaining=max(0, limit_rpm - count),
                        reset_s=max(1, math.ceil(left)), count=count)


_engines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncEngine]] = (
    weakref.WeakKeyDictionary())


def rate_limit_engine(bind: Any) -> AsyncEngine:
    """A small pool of its own for the database of ``bind`` (an engine, connection or session),
    one per URL and event loop. A request holds its session's connection while it is counted,
    so counting through the same pool could deadlock under load (as for budgets,
    ``promptops.db.driver.side_pool``)."""
    if isinstance(bind, AsyncSession):
        bind = bind.bind
    url = bind.engine.url if hasattr(bind, "engine") else bind.url
    key = url.render_as_string(hide_password=False)
    per_loop = _engines.setdefault(asyncio.get_running_loop(), {})
    engine = per_loop.get(key)
    if engine is None:
        engine = per_loop[key] = create_async_engine(
            url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_recycle=1800)
    return engine


async def _count(conn: AsyncConnection | AsyncSession, api_key_id: uuid.UUID,
                 start: datetime) -> int:
    stmt = insert(RateLimitWindow).values(api_key_id=api_key_id, window_start=start, count=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[RateLimitWindow.api_key_id, RateLimitWindow.window_start],
        set_={"count": RateLimitWindow.count + 1},
    ).returning(RateLimitWindow.count)
    count = int((await conn.execute(stmt)).scalar_one())
    if count == 1:
        await conn.execute(delete(RateLimitWindow).where(
            RateLimitWindow.api_key_id == api_key_id,
            RateLimitWindow.window_start < start - KEEP))
    return count


async def hit(conn_or_session: AsyncEngine | AsyncConnection | AsyncSession,
              api_key_id: uuid.UUID, limit_rpm: int, now: datetime | None = None,
              ) -> RateDecision:
    """Count one request of key ``api_key_id`` against ``limit_rpm`` requests per minute.

    ``conn_or_session``: an ``AsyncEngine`` (a short transaction is begun and committed here:
    the normal case, e.g. ``rate_limit_engine(session)``), or an ``AsyncConnection`` /
    ``AsyncSession`` whose transaction the caller commits (the row stays locked until then, so
    concurrent requests of the same key wait for it). ``now``: the request time (default: the
    wall clock, UTC), for tests. Raises ``ValueError`` for ``limit_rpm < 1``.
    """
    if limit_rpm < 1:
        raise ValueError("limit_rpm must be >= 1")
    now = now or datetime.now(UTC)
    start = window_start(now)
    if isinstance(conn_or_session, AsyncEngine):
        async with conn_or_session.begin() as conn:
            count = await _count(conn, api_key_id, start)
    else:
        count = await _count(conn_or_session, api_key_id, start)
    return decide(count, limit_rpm, now)
