"""Request-scoped dependencies: the database session (one commit per request), the Temporal
client, the model catalog and the current principal."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.errors import Unavailable
from promptops.db.repositories import ProjectRepository
from promptops.gateway import LLMGateway
from promptops.settings import Settings


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
                settings.resolved_temporal_address, namespace=settings.temporal_namespace
            )
        except Exception as exc:  # noqa: BLE001 - reported as 503
            raise Unavailable(
                f"Temporal at {settings.resolved_temporal_address} is unreachable: {exc}"
            ) from exc
    client: Client = state.temporal
    return client


def get_gateway(request: Request) -> LLMGateway:
    gateway: LLMGateway = request.app.state.gateway
    return gateway


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@dataclass(frozen=True)
class Principal:
    """Who is calling. Until API keys land every caller acts as the local user of the
    ``default`` organization."""

    organization_id: uuid.UUID
    actor: str
    request_id: str


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_principal(request: Request, session: SessionDep) -> Principal:
    org = await ProjectRepository(session).ensure_organization("default")
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
    return Principal(organization_id=org.id, actor="local", request_id=request_id)


TemporalClientDep = Annotated[Client, Depends(get_temporal)]
GatewayDep = Annotated[LLMGateway, Depends(get_gateway)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
