"""Request-scoped dependencies: the database session (one commit per request), the Temporal
client, the model catalog and the current principal (authenticated by API key, with a role)."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.errors import Forbidden, RateLimited, Unauthorized, Unavailable
from promptops.db.models import Role
from promptops.db.repositories import IdentityRepository
from promptops.governance.ratelimit import hit
from promptops.governance.security import SecretBox, api_key_prefix, hash_api_key
from promptops.llm import LLMGateway
from promptops.settings import Settings
from promptops.telemetry import temporal_interceptors
from promptops.ttl_cache import Generation, TTLCache


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.session_factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def get_temporal(request: Request) -> Client:
    state = request.app.state
    if state.temporal is None:
        settings: Settings = state.settings
        try:
            state.temporal = await Client.connect(
                settings.resolved_temporal_address, namespace=settings.temporal_namespace,
                interceptors=temporal_interceptors(),
            )
        except Exception as exc:
            raise Unavailable(
                f"Temporal at {settings.resolved_temporal_address} is unreachable: {exc}"
            ) from exc
    client: Client = state.temporal
    return client


def get_gateway(request: Request) -> LLMGateway:
    gateway: LLMGateway = request.app.state.gateway
    return gateway


def get_secret_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


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
        """Raises Forbidden (403) unless the caller has at least ``role``."""
        if not self.role.at_least(role):
            raise Forbidden(f"this needs the {role.value} role; the API key has {self.role.value}")


#: ``scope="function"``: the request's transaction commits BEFORE the response is sent, so a
#: client that got a 201 can use what it created in its very next request.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

#: ``last_used_at`` is written at most this often per key.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.headers.get("x-api-key")


@dataclass
class _CachedKey:
    """An authenticated key's facts, kept in the principal cache (:func:`_principal_cache`)."""

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


#: Writes to API keys and memberships, shared by every app's principal cache in the process.
_PRINCIPAL_WRITES = Generation()


def invalidate_principals(session: AsyncSession | None = None) -> None:
    """Forget every cached principal of this process (called by every write to keys and
    memberships: revoke, rotate, update, member role change or removal). With ``session``,
    again once it commits, so a request that read the old rows meanwhile cannot keep them."""
    _PRINCIPAL_WRITES.bump(session)


def _principal_cache(request: Request) -> TTLCache[str, _CachedKey]:
    """Authenticated API keys by the HMAC of the presented key (:class:`promptops.ttl_cache.
    TTLCache`, one per app). A hit skips the key/membership query; the key's expiry, its rate
    limit and the once-a-minute ``last_used_at`` write still apply. Writes to keys or
    memberships in this process clear it at once (:func:`invalidate_principals`); another API
    replica sees them within ``PROMPTOPS_AUTH_CACHE_TTL_S`` (default 5 s; 0 disables it)."""
    cache: TTLCache[str, _CachedKey] | None = getattr(request.app.state, "principal_cache", None)
    if cache is None:
        settings: Settings = request.app.state.settings
        cache = request.app.state.principal_cache = TTLCache(settings.auth_cache_ttl_s,
                                                             _PRINCIPAL_WRITES)
    return cache


async def get_principal(request: Request, session: SessionDep) -> Principal:
    """Authenticate the request's API key (``Authorization: Bearer po_...`` or ``X-API-Key``).

    Raises Unauthorized (401) for a missing, malformed, unknown, revoked or expired key, or a key
    whose user is no longer a member of the key's organization; RateLimited (429, with
    ``Retry-After``) when a key with ``rate_limit_rpm`` has used up its current minute
    (:mod:`promptops.governance.ratelimit`; keys without a limit cost nothing more).
    """
    key = _presented_key(request)
    if not key:
        raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
    prefix = api_key_prefix(key)
    if prefix is None:
        raise Unauthorized("malformed API key")
    secret: bytes = request.app.state.server_secret
    digest = hash_api_key(key, secret)
    cache = _principal_cache(request)
    now = datetime.now(UTC)
    # Kept to the audit column's width; an over-long client id must not fail the request.
    request_id = (request.headers.get("x-request-id") or uuid.uuid4().hex)[:64]
    _, cached = cache.get(digest)
    if cached is not None and (cached.expires_at is None or cached.expires_at > now):
        await _rate_limit(session, cached.api_key_id, cached.prefix, cached.rate_limit_rpm)
        if now - cached.touched_at >= LAST_USED_RESOLUTION:
            await IdentityRepository(session).touch_key(
                cached.api_key_id, now, older_than=now - LAST_USED_RESOLUTION)
            cached.touched_at = now
        return Principal(organization_id=cached.organization_id, actor=cached.actor,
                         request_id=request_id, role=cached.role, user_id=cached.user_id,
                         project_id=cached.project_id, api_key_id=cached.api_key_id)
    identity = IdentityRepository(session)
    generation = _PRINCIPAL_WRITES.value
    found = await identity.key_with_membership(prefix)
    if found is None or not hmac.compare_digest(digest, found[0].secret_hash):
        raise Unauthorized("unknown API key")
    row, membership, user = found
    if row.revoked_at is not None:
        raise Unauthorized("this API key was revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized("this API key has expired")
    if membership is None:
        raise Unauthorized("the key's user is no longer a member of its organization")
    key_role, member_role = Role(row.role), Role(membership.role)
    role = key_role if member_role.at_least(key_role) else member_role
    project_id = row.project_id or membership.project_id
    if row.project_id and membership.project_id and row.project_id != membership.project_id:
        raise Unauthorized("the key's project is outside its user's membership")
    await _rate_limit(session, row.id, row.prefix, row.rate_limit_rpm)
    await identity.touch_key(row.id, now, older_than=now - LAST_USED_RESOLUTION)
    actor = user.email if user else "?"
    cache.put(digest, _CachedKey(
        organization_id=row.organization_id, actor=actor, role=role, user_id=row.user_id,
        project_id=project_id, api_key_id=row.id, prefix=row.prefix,
        rate_limit_rpm=row.rate_limit_rpm, expires_at=row.expires_at, touched_at=now),
        generation)
    return Principal(organization_id=row.organization_id, actor=actor,
                     request_id=request_id, role=role, user_id=row.user_id,
                     project_id=project_id, api_key_id=row.id)


async def _rate_limit(session: AsyncSession, key_id: uuid.UUID, prefix: str,
                      limit_rpm: int | None) -> None:
    """Count the request against the key's per-minute limit (none: nothing to do). Raises
    RateLimited (429 with ``Retry-After``)."""
    if limit_rpm is None:
        return
    decision = await hit(session, key_id, limit_rpm)
    if not decision.allowed:
        raise RateLimited(
            f"API key po_{prefix} exceeded its rate limit of {decision.limit} requests "
            f"per minute; retry in {decision.reset_s} s", limit=decision.limit,
            remaining=decision.remaining, retry_after_s=decision.reset_s)


def require_role(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    async def dependency(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        principal.require(role)
        return principal

    dependency.__name__ = f"require_{role.value.lower()}"
    return dependency


TemporalClientDep = Annotated[Client, Depends(get_temporal)]
GatewayDep = Annotated[LLMGateway, Depends(get_gateway)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SecretBoxDep = Annotated[SecretBox, Depends(get_secret_box)]
#: Any authenticated caller (Viewer and up): reads.
CurrentPrincipal = Annotated[Principal, Depends(require_role(Role.VIEWER))]
#: Editor and up: creates versions, datasets, runs, evaluations, reviews, deployments.
EditorPrincipal = Annotated[Principal, Depends(require_role(Role.EDITOR))]
#: Admin: members, API keys, provider keys, approval policies, the audit log.
AdminPrincipal = Annotated[Principal, Depends(require_role(Role.ADMIN))]
