"""In-process caches of database facts on the request path (authenticated API keys, decrypted
provider keys): entries live for ``ttl_s`` seconds, and a write to what they mirror forgets
them at once in this process.

A write bumps the cache's :class:`Generation`, now and again when the writing session commits
(so a request that read the old rows meanwhile cannot store them under the new generation); an
entry stored under an older generation is a miss. Other processes (API replicas) see the write
once their entries expire, within ``ttl_s``.
"""

from __future__ import annotations

import time
from typing import Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

K = TypeVar("K")
V = TypeVar("V")


class Generation:
    """A counter of writes to what one kind of cache holds (shared by every cache of that
    kind in the process)."""

    def __init__(self) -> None:
        self.value = 0

    def bump(self, session: AsyncSession | None = None) -> None:
        """Count a write now and, with ``session``, again once it commits."""
        self.value += 1
        if session is not None:
            event.listen(session.sync_session, "after_commit", self._after_commit, once=True)

    def _after_commit(self, _: object) -> None:
        self.value += 1


class TTLCache(Generic[K, V]):
    """``key -> value`` for ``ttl_s`` seconds (0 disables the cache), forgotten when
    ``generation`` moves. At most ``max_entries``: when full it is emptied, a cheap bound that
    only costs a round of misses."""

    def __init__(self, ttl_s: float, generation: Generation, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.generation = generation
        self.max_entries = max_entries
        self._entries: dict[K, tuple[V, float, int]] = {}

    def get(self, key: K) -> tuple[bool, V | None]:
        """(found, value): ``found`` is False on a miss, an expired or an outdated entry (so a
        cached ``None`` is told apart from a miss)."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        value, cached_at, generation = entry
        if generation != self.generation.value or time.monotonic() - cached_at > self.ttl_s:
            self._entries.pop(key, None)
            return False, None
        return True, value

    def put(self, key: K, value: V, generation: int) -> None:
        """Store ``value`` read under ``generation`` (the generation's value taken BEFORE the
        read, so a write that raced the read makes the entry a miss)."""
        if self.ttl_s <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (value, time.monotonic(), generation)

    def invalidate(self, session: AsyncSession | None = None) -> None:
        """Forget every entry of this kind (see :meth:`Generation.bump`)."""
        self.generation.bump(session)
