"""Interval Temporal Schedules the worker sets up at start (provider health checks, run rollup
folds): created, or updated to the given interval and task queue, from every worker replica
alike; an interval of 0 deletes the schedule (the feature is disabled)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

log = logging.getLogger(__name__)


def interval_schedule(
    schedule_id: str,
    run: Any,
    arg: Any,
    task_queue: str,
    interval_s: int,
    *,
    execution_timeout: timedelta,
) -> Schedule:
    """Every ``interval_s`` seconds start the workflow ``run`` (a ``@workflow.run`` method)
    with ``arg`` on ``task_queue``, its runs named ``{schedule_id}-<timestamp>``; overlap SKIP
    (a run still going makes the next one be skipped); runs missed while no worker ran are
    not caught up beyond one interval."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            run,
            arg,
            id=schedule_id,
            task_queue=task_queue,
            execution_timeout=execution_timeout,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=interval_s))]),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(seconds=interval_s)
        ),
    )


async def ensure_schedule(
    client: Client, schedule_id: str, schedule: Schedule | None
) -> ScheduleHandle | None:
    """Create ``schedule`` as ``schedule_id`` (its first run at once) or update the existing
    one to it (idempotent); ``None`` deletes the schedule if it exists and returns None.
    Raises ``temporalio.service.RPCError`` when Temporal refuses."""
    handle = client.get_schedule_handle(schedule_id)
    if schedule is None:
        try:
            await handle.delete()
            log.info("schedule %s deleted (disabled)", schedule_id)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
        return None
    try:
        return await client.create_schedule(schedule_id, schedule, trigger_immediately=True)
    except ScheduleAlreadyRunningError:
        pass

    def _update(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    await handle.update(_update)
    return handle
