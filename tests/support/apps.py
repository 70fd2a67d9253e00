"""The real FastAPI app on the test Postgres and Temporal, and API keys for it."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from temporalio.client import Client

from api.main import create_app
from promptops.db.models import Role
from promptops.db.session import get_session_factory
from promptops.governance.identity import IssuedKey, bootstrap_admin
from promptops.llm import ModelCatalog
from promptops.settings import Settings

#: One pair of secrets per test session (the app and key issuing must agree).
SECRET_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
ENCRYPTION_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()


def test_settings(task_queue: str, **extra: str) -> Settings:
    return Settings(
        PROMPTOPS_TASK_QUEUE=task_queue,
        PROMPTOPS_SECRET_KEY=SECRET_KEY,
        PROMPTOPS_ENCRYPTION_KEY=ENCRYPTION_KEY,
        **extra,
    )


async def issue_key(
    pg_url: str,
    *,
    organization: str = "default",
    email: str = "local@promptops.local",
    role: Role = Role.ADMIN,
    project_id: uuid.UUID | None = None,
) -> IssuedKey:
    """Create the organization, the user and its membership (if missing) and a new key."""
    async with get_session_factory(pg_url)() as session:
        issued = await bootstrap_admin(
            session,
            base64.urlsafe_b64decode(SECRET_KEY),
            organization=organization,
            email=email,
            role=role,
            project_id=project_id,
            key_name=f"test-{role.value}",
        )
        await session.commit()
    return issued


@dataclass
class RunningApp:
    app: FastAPI

    def client(self, key: str | None, *, prefix: str = "/api/v1") -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url=f"http://test{prefix}",
            headers=headers,
            timeout=120,
        )


@asynccontextmanager
async def running_app(
    pg_url: str, temporal: Client | None, catalog: ModelCatalog, task_queue: str
) -> AsyncIterator[RunningApp]:
    """The app with its lifespan run, pointed at the test servers."""
    app = create_app(test_settings(task_queue), database_url=pg_url, catalog=catalog)
    async with app.router.lifespan_context(app):
        if temporal is not None:
            app.state.temporal = temporal
        yield RunningApp(app)


@asynccontextmanager
async def serving_app(
    pg_url: str, temporal: Client | None, catalog: ModelCatalog, task_queue: str
) -> AsyncIterator[str]:
    """The app served by a real uvicorn server on a loopback port, in this event loop (so real
    HTTP clients, e.g. the OpenAI SDK, stream from it). Yields the base URL."""
    import asyncio
    import socket

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(test_settings(task_queue), database_url=pg_url, catalog=catalog)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        if temporal is not None:
            app.state.temporal = temporal
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def hot_and_plain(
    pg_url: str,
    catalog: ModelCatalog,
    monkeypatch: Any,
    headers: dict[str, str] | None = None,
) -> AsyncIterator[tuple[dict[str, FastAPI], dict[str, httpx.AsyncClient]]]:
    """The same app twice, with the gateway's hot path on (``"hot"``) and off (``"plain"``),
    lifespans run, and an HTTP client on each (base URL without a prefix)."""
    built = {}
    for name, flag in (("hot", "1"), ("plain", "0")):
        monkeypatch.setenv("PROMPTOPS_HOT_PATH", flag)
        built[name] = create_app(
            test_settings(f"tq-{uuid.uuid4().hex[:8]}"), database_url=pg_url, catalog=catalog
        )
    async with (
        built["hot"].router.lifespan_context(built["hot"]),
        built["plain"].router.lifespan_context(built["plain"]),
    ):
        clients = {
            name: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://test",
                timeout=60,
                headers=headers or {},
            )
            for name, app in built.items()
        }
        try:
            yield built, clients
        finally:
            for client in clients.values():
                await client.aclose()
