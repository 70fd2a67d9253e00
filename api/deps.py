"""Request-scoped dependencies: the database session (one commit per request), the Temporal
client, the model-call pipeline and the current principal (authenticated by API key, with a
role, by :func:`authorize`, which the hot path calls too)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.errors import Unavailable
from promptops.db.models import Role
from promptops.governance.auth import Authenticator, Principal, invalidate_principals
from promptops.governance.security import SecretBox
from promptops.llm import LLMGateway
from promptops.llm.pipeline import Pipeline
from promptops.settings import Settings
from promptops.telemetry import temporal_interceptors

__all__ = [
    "AdminPrincipal",
    "CurrentPrincipal",
    "EditorPrincipal",
    "GatewayDep",
    "PipelineDep",
    "Principal",
    "SecretBoxDep",
    "SessionDep",
    "SettingsDep",
    "TemporalClientDep",
    "authorize",
    "get_session",
    "invalidate_principals",
    "require_role",
]


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
                settings.resolved_temporal_address,
                namespace=settings.temporal_namespace,
                interceptors=temporal_interceptors(),
            )
        except Exception as exc:
            raise Unavailable(
                f"Temporal at {settings.resolved_temporal_address} is unreachable: {exc}"
            ) from exc
    client: Client = state.temporal
    return client


def get_pipeline(request: Request) -> Pipeline:
    pipeline: Pipeline = request.app.state.pipeline
    return pipeline


def get_gateway(request: Request) -> LLMGateway:
    gateway: LLMGateway = request.app.state.gateway
    return gateway


def get_secret_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


#: ``scope="function"``: the request's transaction commits BEFORE the response is sent, so a
#: client that got a 201 can use what it created in its very next request.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.headers.get("x-api-key")


async def authorize(request: Request, role: Role) -> Principal:
    """Authenticate the request's API key (``Authorization: Bearer po_...`` or ``X-API-Key``)
    and require ``role``: what every route does, FastAPI's (through :func:`require_role`) and
    the hot path's alike. Raises Unauthorized (401), RateLimited (429, ``Retry-After``),
    Forbidden (403); see :meth:`promptops.governance.auth.Authenticator.authenticate`."""
    authenticator: Authenticator = request.app.state.authenticator
    principal = await authenticator.authenticate(
        _presented_key(request), request.headers.get("x-request-id") or uuid.uuid4().hex
    )
    principal.require(role)
    return principal


def require_role(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    async def dependency(request: Request) -> Principal:
        return await authorize(request, role)

    dependency.__name__ = f"require_{role.value.lower()}"
    return dependency


TemporalClientDep = Annotated[Client, Depends(get_temporal)]
GatewayDep = Annotated[LLMGateway, Depends(get_gateway)]
PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SecretBoxDep = Annotated[SecretBox, Depends(get_secret_box)]
#: Any authenticated caller (Viewer and up): reads.
CurrentPrincipal = Annotated[Principal, Depends(require_role(Role.VIEWER))]
#: Editor and up: creates versions, datasets, runs, evaluations, reviews, deployments.
EditorPrincipal = Annotated[Principal, Depends(require_role(Role.EDITOR))]
#: Admin: members, API keys, provider keys, approval policies, the audit log.
AdminPrincipal = Annotated[Principal, Depends(require_role(Role.ADMIN))]
