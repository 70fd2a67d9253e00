"""The Temporal Schedule that runs :class:`ProviderHealthCheckWorkflow` periodically.

Called by the worker at start (``workers.main``); safe to call from every worker replica: it
creates the schedule, or updates the existing one to the given interval and task queue.
"""

from __future__ import annotations

import logging
from datetime import timedelta

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

from workflows.provider_health.types import SCHEDULE_ID, ProviderHealthCheckInput
from workflows.provider_health.workflow import ProviderHealthCheckWorkflow

log = logging.getLogger(__name__)


def health_check_schedule(task_queue: str, interval_s: int) -> Schedule:
    """The schedule: every ``interval_s`` seconds start ``ProviderHealthCheckWorkflow`` on
    ``task_queue``; overlap SKIP (a round still running makes the next one be skipped); rounds
    missed while no worker ran are not caught up beyond one interval (a stale probe is
    worthless)."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ProviderHealthCheckWorkflow.run,
            ProviderHealthCheckInput(),
            id=SCHEDULE_ID,
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=max(60, interval_s)),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=interval_s))]),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(seconds=interval_s)
        ),
    )


async def ensure_health_check_schedule(
    client: Client, task_queue: str, interval_s: int = 300
) -> ScheduleHandle | None:
    """Create (running the first round at once) or update the schedule
    ``provider-health-check`` (idempotent). ``interval_s``:
    seconds between rounds; ``<= 0`` deletes the schedule if it exists (disabled) and returns
    None. Raises ``temporalio.service.RPCError`` when Temporal refuses."""
    handle = client.get_schedule_handle(SCHEDULE_ID)
    if interval_s <= 0:
        try:
            await handle.delete()
            log.info("provider health check schedule deleted (disabled)")
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
        return None
    schedule = health_check_schedule(task_queue, interval_s)
    try:
        # The first round runs at once, so /models/providers has a check right after start.
        return await client.create_schedule(SCHEDULE_ID, schedule, trigger_immediately=True)
    except ScheduleAlreadyRunningError:
        pass

    def _update(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    await handle.update(_update)
    return handle
