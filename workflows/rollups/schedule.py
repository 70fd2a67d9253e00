"""The Temporal Schedule that runs :class:`RunRollupFoldWorkflow` periodically.

Called by the worker at start (``workers.main``); safe to call from every worker replica: it
creates the schedule, or updates the existing one to the given interval and task queue.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, Schedule, ScheduleHandle

from workflows.rollups.types import SCHEDULE_ID, RunRollupFoldInput
from workflows.rollups.workflow import RunRollupFoldWorkflow
from workflows.schedules import ensure_schedule, interval_schedule


def rollup_fold_schedule(task_queue: str, interval_s: int) -> Schedule:
    """Every ``interval_s`` seconds start ``RunRollupFoldWorkflow`` on ``task_queue`` (overlap
    SKIP; missed folds are not caught up: the next one folds everything)."""
    return interval_schedule(
        SCHEDULE_ID,
        RunRollupFoldWorkflow.run,
        RunRollupFoldInput(),
        task_queue,
        interval_s,
        execution_timeout=timedelta(minutes=15),
    )


async def ensure_rollup_fold_schedule(
    client: Client, task_queue: str, interval_s: int = 60
) -> ScheduleHandle | None:
    """Create (folding at once) or update the schedule ``run-rollup-fold`` (idempotent);
    ``interval_s <= 0`` deletes it (the deltas then stay unfolded: the dashboard stays right
    but reads more) and returns None. Raises ``temporalio.service.RPCError`` when Temporal
    refuses."""
    schedule = rollup_fold_schedule(task_queue, interval_s) if interval_s > 0 else None
    return await ensure_schedule(client, SCHEDULE_ID, schedule)
