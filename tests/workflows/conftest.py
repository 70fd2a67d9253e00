from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from promptops.gateway import ModelCatalog
from promptops.settings import Settings


@pytest.fixture
async def api(pg_url: str, temporal_env: WorkflowEnvironment, catalog: ModelCatalog,
              task_queue: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the real app (lifespan run), the real Postgres and Temporal."""
    settings = Settings(PROMPTOPS_TASK_QUEUE=task_queue)
    app = create_app(settings, database_url=pg_url, catalog=catalog)
    async with app.router.lifespan_context(app):
        app.state.temporal = temporal_env.client
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/api/v1") as client:
            yield client
