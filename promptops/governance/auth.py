"""Who is calling: API-key authentication, shared by every transport (the FastAPI dependencies,
the gateway's hot path) so a request is authenticated by the same code whichever way it comes.

A key (``po_<prefix>_<secret>``) is looked up by its prefix and compared by HMAC-SHA256 under
the server secret (:mod:`promptops.governance.security`). Its effective role is the weaker of the
key's own role and its user's membership role; a key or membership narrowed to one project scopes
the caller to it. Keys with ``rate_limit_rpm`` are counted per minute
(:mod:`promptops.governance.ratelimit`). Authenticated keys are kept in a principal cache
(:class:`promptops.ttl_cache.TTLCache`) for ``auth_cache_ttl_s`` seconds; writes to keys and
memberships in this process clear it at once (:func:`invalidate_principals`), another replica
sees them within the TTL.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.connection import side_connection
from promptops.db.errors import database_errors
from promptops.db.models import Role
from promptops.db.repositories.identity import ApiKeyAuthRepository, KeyFacts
from promptops.errors import Forbidden, RateLimited, Unauthorized
from promptops.governance.ratelimit import hit
from promptops.governance.security import api_key_prefix, hash_api_key
from promptops.ttl_cache import Generation, TTLCache

__all__ = ["LAST_USED_RESOLUTION", "Authenticator", "Principal", "invalidate_principals"]

#: ``last_used_at`` is written at most this often per key.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the API key's organization, user, role and optional project scope.

    ``role`` is the weaker of the key's role and the user's membership role; ``project_id``
    set means the caller sees only that project (404 for every other one).
    """

    organization_id: uuid.UUID
    actor: str
    request_id: str
    role: Role = Role.VIEWER
    user_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None

    def can_access_project(self, project_id: uuid.UUID) -> bool:
        return self.project_id is None or self.project_id == project_id

    def require(self, role: Role) -> None:
        """Raises :class:`promptops.errors.Forbidden` (403) unless the caller has at least
        ``role``."""
        if not self.role.at_least(role):
            raise Forbidden(f"this needs the {role.value} role; the API key has {self.role.value}")


@dataclass
class _CachedKey:
    """An authenticated key's facts, kept in the principal cache."""

    organization_id: uuid.UUID
    actor: str
    role: Role
    user_id: uuid.UUID | None
    project_id: uuid.UUID | None
    api_key_id: uuid.UUID
    prefix: str
    rate_limit_rpm: int | None
    expires_at: datetime | None
    touched_at: datetime


#: Writes to API keys and memberships, shared by every authenticator in the process.
_PRINCIPAL_WRITES = Generation()


def invalidate_principals(session: AsyncSession | None = None) -> None:
    """Forget every cached principal of this process (called by every write to keys and
    memberships: revoke, rotate, update, member role change or removal). With ``session``,
    again once it commits, so a request that read the old rows meanwhile cannot keep them."""
    _PRINCIPAL_WRITES.bump(session)


class Authenticator:
    """Authenticates presented API keys against the database at ``database_url`` (raw SQL on
    the autocommit ``side`` pool: no ORM session, no transaction of the request's)."""

    def __init__(
        self, database_url: str, server_secret: bytes, *, cache_ttl_s: float = 5.0
    ) -> None:
        self.database_url = database_url
        self.server_secret = server_secret
        self.cache: TTLCache[str, _CachedKey] = TTLCache(cache_ttl_s, _PRINCIPAL_WRITES)

    async def authenticate(
        self, presented_key: str | None, request_id: str, *, now: datetime | None = None
    ) -> Principal:
        """The principal of ``presented_key`` (``request_id`` is kept for the audit log,
        cut to 64 characters).

        Raises :class:`promptops.errors.Unauthorized` (401) for a missing, malformed, unknown,
        revoked or expired key, or a key whose user is no longer a member of the key's
        organization; :class:`promptops.errors.RateLimited` (429, with ``Retry-After``) when a
        key with ``rate_limit_rpm`` has used up its current minute (keys without a limit cost
        nothing more)."""
        if not presented_key:
            raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
        prefix = api_key_prefix(presented_key)
        if prefix is None:
            raise Unauthorized("malformed API key")
        with database_errors():
            return await self._authenticate(prefix, presented_key, request_id, now)

    async def _authenticate(
        self, prefix: str, presented_key: str, request_id: str, now: datetime | None
    ) -> Principal:
        digest = hash_api_key(presented_key, self.server_secret)
        now = now or datetime.now(UTC)
        request_id = request_id[:64]
        _, cached = self.cache.get(digest)
        if cached is None or (cached.expires_at is not None and cached.expires_at <= now):
            generation = _PRINCIPAL_WRITES.value
            async with side_connection(self.database_url) as db:
                facts = await ApiKeyAuthRepository(db).lookup(prefix)
            cached = self._check(facts, digest, now)
            self.cache.put(digest, cached, generation)
            # A fresh lookup touches at once (the check above just read the row).
            cached.touched_at = now - LAST_USED_RESOLUTION
        await self._count_and_touch(cached, now)
        return Principal(
            organization_id=cached.organization_id,
            actor=cached.actor,
            request_id=request_id,
            role=cached.role,
            user_id=cached.user_id,
            project_id=cached.project_id,
            api_key_id=cached.api_key_id,
        )

    @staticmethod
    def _check(facts: KeyFacts | None, digest: str, now: datetime) -> _CachedKey:
        if facts is None or not hmac.compare_digest(digest, facts.secret_hash):
            raise Unauthorized("unknown API key")
        if facts.revoked_at is not None:
            raise Unauthorized("this API key was revoked")
        if facts.expires_at is not None and facts.expires_at <= now:
            raise Unauthorized("this API key has expired")
        if facts.member_role is None:
            raise Unauthorized("the key's user is no longer a member of its organization")
        key_role, member_role = Role(facts.role), Role(facts.member_role)
        if (
            facts.project_id
            and facts.member_project_id
            and facts.project_id != facts.member_project_id
        ):
            raise Unauthorized("the key's project is outside its user's membership")
        return _CachedKey(
            organization_id=facts.organization_id,
            actor=facts.email or "?",
            role=key_role if member_role.at_least(key_role) else member_role,
            user_id=facts.user_id,
            project_id=facts.project_id or facts.member_project_id,
            api_key_id=facts.id,
            prefix=facts.prefix,
            rate_limit_rpm=facts.rate_limit_rpm,
            expires_at=facts.expires_at,
            touched_at=now,
        )

    async def _count_and_touch(self, key: _CachedKey, now: datetime) -> None:
        """The key's rate limit (if it has one) and its once-a-minute ``last_used_at``."""
        touch = now - key.touched_at >= LAST_USED_RESOLUTION
        if key.rate_limit_rpm is None and not touch:
            return
        async with side_connection(self.database_url) as db:
            if key.rate_limit_rpm is not None:
                decision = await hit(db, key.api_key_id, key.rate_limit_rpm, now)
                if not decision.allowed:
                    raise RateLimited(
                        f"API key po_{key.prefix} exceeded its rate limit of {decision.limit} "
                        f"requests per minute; retry in {decision.reset_s} s",
                        limit=decision.limit,
                        remaining=decision.remaining,
                        retry_after_s=decision.reset_s,
                    )
            if touch:
                await ApiKeyAuthRepository(db).touch(
                    key.api_key_id, now, older_than=now - LAST_USED_RESOLUTION
                )
                key.touched_at = now
