"""Per-API-key rate limits: requests per minute in fixed one-minute UTC windows.

Algorithm (fixed window counter, as in the Redis ``INCR`` + ``EXPIRE`` pattern of the Redis
documentation and Stripe's "Scaling your API with rate limiters"): a request at time ``t`` falls
in the window ``w = floor(t / 60 s) * 60 s``; it increments ``count`` of row ``(api_key_id, w)``
of ``rate_limit_windows`` and is allowed iff the new ``count <= limit``. So::

    remaining = max(0, limit - count)
    reset_s   = ceil(w + 60 - t)          (seconds until the next window, 1..60)

The increment is ONE statement, ``INSERT ... ON CONFLICT (api_key_id, window_start) DO UPDATE
SET count = rate_limit_windows.count + 1 RETURNING count``, committed on its own (an
autocommit connection of the side pool, :func:`promptops.db.connection.connection_pool`): Postgres
takes the row lock for the update, so concurrent requests on any number of API replicas get
distinct counts 1, 2, 3, ... and exactly ``limit`` of them are allowed.

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

from promptops.db.connection import SQL
from promptops.db.repositories.ratelimit import RateLimitRepository

WINDOW = timedelta(minutes=1)
#: Windows that started this long before the current one are deleted (see the module doc).
KEEP = timedelta(minutes=2)


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
    return RateDecision(
        allowed=count <= limit_rpm,
        limit=limit_rpm,
        remaining=max(0, limit_rpm - count),
        reset_s=max(1, math.ceil(left)),
        count=count,
    )


async def hit(
    db: SQL, api_key_id: uuid.UUID, limit_rpm: int, now: datetime | None = None
) -> RateDecision:
    """Count one request of key ``api_key_id`` against ``limit_rpm`` requests per minute.

    ``db``: an autocommit connection apart from the caller's transaction (the ``side`` pool of
    :func:`promptops.db.connection.connection_pool`), so the count commits at once. ``now``:
    the request time (default: the wall clock, UTC), for tests. Raises ``ValueError`` for
    ``limit_rpm < 1``.
    """
    if limit_rpm < 1:
        raise ValueError("limit_rpm must be >= 1")
    now = now or datetime.now(UTC)
    start = window_start(now)
    windows = RateLimitRepository(db)
    count = await windows.count(api_key_id, start)
    if count == 1:
        await windows.prune(api_key_id, start - KEEP)
    return decide(count, limit_rpm, now)
