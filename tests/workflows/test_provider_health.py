"""``ProviderHealthCheckWorkflow`` on the real Temporal dev server with a real worker running
``check_provider_health`` against the stub LLM and the test Postgres; the schedule; and
``last_check`` in ``GET /models/providers``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.provider_health.activities import ProviderHealthActivities, check_id
from promptops.db.models.gateway import ProviderHealthCheck
from promptops.db.session import get_session_factory
from promptops.llm import LLMGateway, ModelCatalog
from tests.support.stub_llm import StubLLMServer
from workflows.provider_health.schedule import ensure_health_check_schedule
from workflows.provider_health.types import (
    SCHEDULE_ID,
    ProviderHealthCheckInput,
    ProviderHealthCheckResult,
)
from workflows.provider_health.workflow import ProviderHealthCheckWorkflow


@pytest.fixture
def two_models(stub_llm: StubLLMServer) -> ModelCatalog:
    """Two deployments on the stub, each under a unique name (rows are global, not per test)."""
    names = [f"health-{uuid.uuid4().hex[:6]}-{i}" for i in range(2)]
    data = {"model_list": [item for n in names for item in stub_llm.model_list(n)["model_list"]]}
    return ModelCatalog.from_dict(data)


def health_worker(client: Client, task_queue: str, pg_url: str, catalog: ModelCatalog) -> Worker:
    activities = ProviderHealthActivities(pg_url, LLMGateway(catalog), timeout_s=5)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ProviderHealthCheckWorkflow],
        activities=[activities.check_provider_health],
    )


async def _run(env: WorkflowEnvironment, task_queue: str) -> tuple[str, ProviderHealthCheckResult]:
    handle = await env.client.start_workflow(
        ProviderHealthCheckWorkflow.run,
        ProviderHealthCheckInput(),
        id=f"health-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        execution_timeout=timedelta(seconds=60),
    )
    result = await handle.result()
    return str(handle.result_run_id), result


async def _rows(pg_url: str, names: list[str]) -> list[ProviderHealthCheck]:
    async with get_session_factory(pg_url)() as session:
        return list(
            (
                await session.execute(
                    select(ProviderHealthCheck).where(ProviderHealthCheck.model_name.in_(names))
                )
            ).scalars()
        )


async def test_a_run_writes_one_ok_row_per_model(
    temporal_env: WorkflowEnvironment, task_queue: str, pg_url: str, two_models: ModelCatalog
) -> None:
    names = list(two_models.entries)
    async with health_worker(temporal_env.client, task_queue, pg_url, two_models):
        run_id, result = await _run(temporal_env, task_queue)
    assert result.ok == {n: True for n in names}
    assert result.failed == []
    rows = await _rows(pg_url, names)
    assert sorted(r.model_name for r in rows) == sorted(names)
    for row in rows:
        assert row.ok and row.status_code == 200 and row.error is None
        assert row.latency_ms is not None and row.latency_ms >= 0
        assert row.id == check_id(run_id, row.model_name)


async def test_rows_are_idempotent_per_run(pg_url: str, two_models: ModelCatalog) -> None:
    from activities.provider_health.types import CheckProviderHealthInput

    activities = ProviderHealthActivities(pg_url, LLMGateway(two_models), timeout_s=5)
    inp = CheckProviderHealthInput(run_key=f"run-{uuid.uuid4().hex}")
    first = await activities.check_provider_health(inp)
    again = await activities.check_provider_health(inp)
    assert (first.written, again.written) == (2, 0)
    assert len(await _rows(pg_url, list(two_models.entries))) == 2


async def test_a_failing_provider_writes_ok_false(
    temporal_env: WorkflowEnvironment, task_queue: str, pg_url: str, stub_llm: StubLLMServer
) -> None:
    name = f"health-down-{uuid.uuid4().hex[:6]}"
    catalog = ModelCatalog.from_dict(stub_llm.model_list(name))
    stub_llm.cfg.fail_status, stub_llm.cfg.fail_next = 500, 1
    try:
        async with health_worker(temporal_env.client, task_queue, pg_url, catalog):
            _, result = await _run(temporal_env, task_queue)
    finally:
        stub_llm.cfg.fail_next = 0
    assert result.failed == [name]
    [row] = await _rows(pg_url, [name])
    assert row.ok is False
    assert row.status_code == 500
    assert row.error and "injected failure" in row.error


async def test_schedule_is_created_and_updated(
    temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = temporal_env.client
    try:
        await ensure_health_check_schedule(client, task_queue, interval_s=3600)
        await ensure_health_check_schedule(client, task_queue, interval_s=3600)
        desc = await client.get_schedule_handle(SCHEDULE_ID).describe()
        for _ in range(50):  # created: the first round was triggered at once, once
            if desc.info.num_actions:
                break
            await asyncio.sleep(0.1)
            desc = await client.get_schedule_handle(SCHEDULE_ID).describe()
        assert desc.info.num_actions == 1
        assert desc.schedule.policy.catchup_window == timedelta(seconds=3600)
        assert desc.schedule.spec.intervals[0].every == timedelta(seconds=3600)
        assert desc.schedule.action.task_queue == task_queue  # type: ignore[union-attr]
        await ensure_health_check_schedule(client, task_queue, interval_s=300)
        desc = await client.get_schedule_handle(SCHEDULE_ID).describe()
        assert desc.schedule.spec.intervals[0].every == timedelta(seconds=300)
        assert desc.schedule.policy.overlap.name == "SKIP"
    finally:
        # 0 disables: the schedule is deleted, and deleting a missing one does not fail.
        assert await ensure_health_check_schedule(client, task_queue, interval_s=0) is None
        assert await ensure_health_check_schedule(client, task_queue, interval_s=0) is None


@pytest.fixture
async def providers_api(
    pg_url: str, two_models: ModelCatalog, task_queue: str
) -> AsyncIterator[httpx.AsyncClient]:
    from tests.support.apps import issue_key, running_app

    key = await issue_key(pg_url)
    async with (
        running_app(pg_url, None, two_models, task_queue) as running,
        running.client(key.key) as client,
    ):
        yield client


async def test_providers_show_the_last_check(
    providers_api: httpx.AsyncClient, pg_url: str, two_models: ModelCatalog, stub_llm: StubLLMServer
) -> None:
    from activities.provider_health.types import CheckProviderHealthInput

    names = list(two_models.entries)
    r = await providers_api.get("/models/providers")
    assert r.status_code == 200, r.text
    assert [p["last_check"] for p in r.json()["data"]] == [None, None]

    activities = ProviderHealthActivities(pg_url, LLMGateway(two_models), timeout_s=5)
    await activities.check_provider_health(CheckProviderHealthInput(run_key="a"))
    stub_llm.cfg.fail_status, stub_llm.cfg.fail_next = 503, 1
    try:
        await activities.check_provider_health(
            CheckProviderHealthInput(run_key="b", models=[names[1]])
        )
    finally:
        stub_llm.cfg.fail_next = 0

    data = {
        p["model_name"]: p for p in (await providers_api.get("/models/providers")).json()["data"]
    }
    first, second = data[names[0]]["last_check"], data[names[1]]["last_check"]
    assert first["ok"] is True and first["status_code"] == 200 and first["error"] is None
    assert first["latency_ms"] >= 0 and first["checked_at"]
    assert second["ok"] is False and second["status_code"] == 503
    assert "injected failure" in second["error"]
