"""``RunRollupFoldWorkflow`` on a real worker and the test Postgres: it folds the delta rows the
``runs`` triggers appended into ``run_rollups``; the schedule ``run-rollup-fold`` is created,
updated and deleted like the other interval schedules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.rollups.activities import RollupActivities
from promptops.db.session import get_session_factory
from workflows.rollups.schedule import ensure_rollup_fold_schedule
from workflows.rollups.types import SCHEDULE_ID, RunRollupFoldInput
from workflows.rollups.workflow import RunRollupFoldWorkflow


async def test_a_fold_moves_the_deltas_into_the_rollups(
    temporal_env: WorkflowEnvironment, task_queue: str, pg_url: str
) -> None:
    org, project = uuid.uuid4(), uuid.uuid4()
    at = datetime(2026, 2, 3, 4, 30, tzinfo=UTC)
    async with get_session_factory(pg_url)() as session:
        await session.execute(
            text("INSERT INTO organizations (id, name) VALUES (:id, :name)"),
            {"id": org, "name": f"fold-{org.hex[:8]}"},
        )
        await session.execute(
            text(
                "INSERT INTO projects (id, organization_id, name, description) "
                "VALUES (:id, :org, 'p', '')"
            ),
            {"id": project, "org": org},
        )
        await session.execute(
            text(
                "INSERT INTO runs (id, project_id, source, model, variables, rendered_input, "
                "success, tokens_in, tokens_out, cost_usd, latency_ms, created_at) "
                "SELECT gen_random_uuid(), :project, 'execute', 'm', '{}', '[]', i <> 3, 10, 5, "
                "0.5, 100 * i, :at FROM generate_series(1, 4) AS i"
            ),
            {"project": project, "at": at},
        )
        await session.commit()
    activities = RollupActivities(pg_url)
    async with Worker(
        temporal_env.client,
        task_queue=task_queue,
        workflows=[RunRollupFoldWorkflow],
        activities=[activities.fold_run_rollups],
    ):
        result = await temporal_env.client.execute_workflow(
            RunRollupFoldWorkflow.run,
            RunRollupFoldInput(),
            id=f"fold-{uuid.uuid4().hex[:8]}",
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=60),
        )
    assert result.moved >= 4
    async with get_session_factory(pg_url)() as session:
        left = await session.scalar(
            text("SELECT count(*) FROM run_rollup_deltas WHERE project_id = :p"), {"p": project}
        )
        rows = (
            await session.execute(
                text(
                    "SELECT grain, bucket_start, runs, successes, tokens_in, latency_ms_sum "
                    "FROM run_rollups WHERE project_id = :p ORDER BY grain"
                ),
                {"p": project},
            )
        ).all()
    assert left == 0
    assert [tuple(r) for r in rows] == [
        ("day", at.replace(hour=0, minute=0), 4, 3, 40, 1000.0),
        ("hour", at.replace(minute=0), 4, 3, 40, 1000.0),
    ]


async def test_the_schedule_is_created_updated_and_deleted(
    temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = temporal_env.client
    try:
        await ensure_rollup_fold_schedule(client, task_queue, interval_s=120)
        await ensure_rollup_fold_schedule(client, task_queue, interval_s=120)
        desc = await client.get_schedule_handle(SCHEDULE_ID).describe()
        assert desc.schedule.spec.intervals[0].every == timedelta(seconds=120)
        assert desc.schedule.action.task_queue == task_queue  # type: ignore[union-attr]
        assert desc.schedule.policy.overlap.name == "SKIP"
        await ensure_rollup_fold_schedule(client, task_queue, interval_s=60)
        desc = await client.get_schedule_handle(SCHEDULE_ID).describe()
        assert desc.schedule.spec.intervals[0].every == timedelta(seconds=60)
    finally:
        assert await ensure_rollup_fold_schedule(client, task_queue, interval_s=0) is None
        assert await ensure_rollup_fold_schedule(client, task_queue, interval_s=0) is None
