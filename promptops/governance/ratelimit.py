"""Per-API-key rate limits: requests per minute in fixed one-minute UTC windows.

Algorithm (fixed window counter, as in the Redis ``INCR`` + ``EXPIRE`` pattern of the Redis
documentation and Stripe's "Scaling your API with rate limiters"): a request at time ``t`` falls
in the window ``w = floor(t / 60 s) * 60 s``; it increments ``count`` of row ``(api_key_id, w)``
of ``rate_limit_windows`` and is allowed iff the new ``count <= limit``. So::

    remaining = max(0, limit - count)
    reset_s   = ceil(w + 60 - t)          (seconds until the next window, 1..60)

The increment is ONE statement, ``INSERT ... ON CONFLICT (api_key_id, window_start) DO UPDATE
SET count = rate_limit_windows.count + 1 RETURNING count``, committed on its own (an
autocommit connection of :func:`promptops.db.driver.side_pool`): Postgres takes the row lock
for the update, so concurrent requests on any number of API replicas get distinct counts 1, 2,
3, ... and exactly ``limit`` of them are allowed.

Known limits of fixed windows:

- Burst at the edges: a client may send ``limit`` requests in the last second of a window and
  ``limit`` more in the first second of the next, i.e. up to ``2 * limit`` within ~1 s (a
  sliding-window log or GCRA avoids this at more cost per request).
- Refused requests count too (the counter is incremented before the comparison), so a client
  that keeps retrying inside the window stays refused until the window ends; ``Retry-After``
  tells it when.

Old windows are deleted occasionally: when a key opens a new window (its ``count`` is 1) the
next statement drops that key's windows that started more than 2 minutes ago, so each key
keeps at most a few rows without a separate sweeper.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from promptops.db.driver import execute, fetchone, side_pool

WINDOW = timedelta(minutes=1)
#: Windows that started this long before the current one are deleted (see the module doc).
KEEP = timedelta(minutes=2)

_COUNT = ("INSERT INTO rate_limit_windows (api_key_id, window_start, count) "
          "VALUES (%(key)s, %(start)s, 1) ON CONFLICT (api_key_id, window_start) "
          "DO UPDATE SET count = rate_limit_windows.count + 1 RETURNING count")
_PRUNE = "DELETE FROM rate_limit_windows WHERE api_key_id = %(key)s AND window_start < %(before)s"


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


async def hit(bind: Any, api_key_id: uuid.UUID, limit_rpm: int,
              now: datetime | None = None) -> RateDecision:
    """Count one request of key ``api_key_id`` against ``limit_rpm`` requests per minute.

    ``bind``: the database, as anything :func:`promptops.db.driver.side_pool` accepts (an
    engine, a session, a request connection); the count is taken on that side pool, apart
    from the caller's transaction, and commits at once. ``now``: the request time (default:
    the wall clock, UTC), for tests. Raises ``ValueError`` for ``limit_rpm < 1``.
    """
    if limit_rpm < 1:
        raise ValueError("limit_rpm must be >= 1")
    now = now or datetime.now(UTC)
    start = window_start(now)
    pool = await side_pool(bind)
    async with pool.connection() as conn:
        row = await fetchone(conn, _COUNT, {"key": api_key_id, "start": start})
        assert row is not None  # INSERT ... RETURNING always returns the row
        count = int(row[0])
        if count == 1:
            await execute(conn, _PRUNE, {"key": api_key_id, "before": start - KEEP})
    return decide(count, limit_rpm, now)
