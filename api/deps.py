"""Request-scoped dependencies: the database session (one commit per request), the Temporal
client, the model catalog and the current principal (authenticated by API key, with a role)."""

from __future__ import annotations

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
from promptops.gateway import LLMGateway
from promptops.ratelimit import hit, rate_limit_engine
from promptops.security import SecretBox, api_key_prefix, verify_api_key
from promptops.settings import Settings
from promptops.telemetry import temporal_interceptors


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


SessionDep = Annotated[AsyncSession, Depends(get_session)]

#: ``last_used_at`` is written at most this often per key.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.headers.get("x-api-key")


async def get_principal(request: Request, session: SessionDep) -> Principal:
    """Authenticate the request's API key (``Authorization: Bearer po_...`` or ``X-API-Key``).

    Raises Unauthorized (401) for a missing, malformed, unknown, revoked or expired key, or a key
    whose user is no longer a member of the key's organization; RateLimited (429, with
    ``Retry-After``) when a key with ``rate_limit_rpm`` has used up its current minute
    (:mod:`promptops.ratelimit`; keys without a limit cost nothing more).
    """
    key = _presented_key(request)
    if not key:
        raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
    prefix = api_key_prefix(key)
    if prefix is None:
        raise Unauthorized("malformed API key")
    identity = IdentityRepository(session)
    found = await identity.key_with_membership(prefix)
    secret: bytes = request.app.state.server_secret
    if found is None or not verify_api_key(key, found[0].secret_hash, secret):
        raise Unauthorized("unknown API key")
    row, membership, user = found
    now = datetime.now(UTC)
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
    if row.rate_limit_rpm is not None:
        decision = await hit(rate_limit_engine(session), row.id, row.rate_limit_rpm)
        if not decision.allowed:
            raise RateLimited(
                f"API key po_{row.prefix} exceeded its rate limit of {decision.limit} requests "
                f"per minute; retry in {decision.reset_s} s", limit=decision.limit,
                remaining=decision.remaining, retry_after_s=decision.reset_s)
    await identity.touch_key(row.id, now, older_than=now - LAST_USED_RESOLUTION)
    # Kept to the audit column's width; an over-long client id must not fail the request.
    request_id = (request.headers.get("x-request-id") or uuid.uuid4().hex)[:64]
    return Principal(organization_id=row.organization_id, actor=user.email if user else "?",
                     request_id=request_id, role=role, user_id=row.user_id,
                     project_id=project_id, api_key_id=row.id)


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
