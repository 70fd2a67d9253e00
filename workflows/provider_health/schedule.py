"""The Temporal Schedule that runs :class:`ProviderHealthCheckWorkflow` periodically.

Called by the worker at start (``workers.main``); safe to call from every worker replica: it
creates the schedule, or updates the existing one to the given interval and task queue.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, Schedule, ScheduleHandle

from workflows.provider_health.types import SCHEDULE_ID, ProviderHealthCheckInput
from workflows.provider_health.workflow import ProviderHealthCheckWorkflow
from workflows.schedules import ensure_schedule, interval_schedule


def health_check_schedule(task_queue: str, interval_s: int) -> Schedule:
    """The schedule: every ``interval_s`` seconds start ``ProviderHealthCheckWorkflow`` on
    ``task_queue``; overlap SKIP (a round still running makes the next one be skipped); rounds
    missed while no worker ran are not caught up beyond one interval (a stale probe is
    worthless)."""
    return interval_schedule(
        SCHEDULE_ID,
        ProviderHealthCheckWorkflow.run,
        ProviderHealthCheckInput(),
        task_queue,
        interval_s,
        execution_timeout=timedelta(seconds=max(60, interval_s)),
    )


async def ensure_health_check_schedule(
    client: Client, task_queue: str, interval_s: int = 300
) -> ScheduleHandle | None:
    """Create (running the first round at once, so /models/providers has a check right after
    start) or update the schedule ``provider-health-check`` (idempotent). ``interval_s``:
    seconds between rounds; ``<= 0`` deletes the schedule if it exists (disabled) and returns
    None. Raises ``temporalio.service.RPCError`` when Temporal refuses."""
    schedule = health_check_schedule(task_queue, interval_s) if interval_s > 0 else None
    return await ensure_schedule(client, SCHEDULE_ID, schedule)
