"""SQL of per-API-key rate limits: fixed one-minute windows in ``rate_limit_windows`` (the
algorithm is in :mod:`promptops.governance.ratelimit`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from promptops.db.connection import SQL

_COUNT = (
    "INSERT INTO rate_limit_windows (api_key_id, window_start, count) "
    "VALUES (%(key)s, %(start)s, 1) ON CONFLICT (api_key_id, window_start) "
    "DO UPDATE SET count = rate_limit_windows.count + 1 RETURNING count"
)
_PRUNE = "DELETE FROM rate_limit_windows WHERE api_key_id = %(key)s AND window_start < %(before)s"


class RateLimitRepository:
    def __init__(self, db: SQL) -> None:
        self.db = db

    async def count(self, api_key_id: uuid.UUID, window_start: datetime) -> int:
        """Count one request in the key's window and return the window's new count: ONE
        statement (``INSERT ... ON CONFLICT DO UPDATE SET count = count + 1 RETURNING
        count``); Postgres takes the row lock, so concurrent requests on any number of API
        replicas get distinct counts."""
        row = await self.db.fetchone(_COUNT, {"key": api_key_id, "start": window_start})
        if row is None:  # pragma: no cover - INSERT ... RETURNING always returns the row
            raise LookupError("the rate-limit window was not counted")
        return int(row[0])

    async def prune(self, api_key_id: uuid.UUID, before: datetime) -> None:
        """Delete the key's windows that started before ``before``."""
        await self.db.execute(_PRUNE, {"key": api_key_id, "before": before})
