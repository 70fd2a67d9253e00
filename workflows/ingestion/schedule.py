"""The Temporal Schedule that runs :class:`RetrievalMaintenanceWorkflow` periodically (the TTL
sweep and the scheduled re-index). Called by the worker at start, from every replica alike."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, ScheduleHandle

from workflows.ingestion.types import MAINTENANCE_SCHEDULE_ID, RetrievalMaintenanceInput
from workflows.ingestion.workflow import RetrievalMaintenanceWorkflow
from workflows.schedules import ensure_schedule, interval_schedule


async def ensure_retrieval_maintenance_schedule(
    client: Client, task_queue: str, interval_s: int = 300
) -> ScheduleHandle | None:
    """Create or update the schedule ``retrieval-maintenance`` (every ``interval_s`` seconds,
    overlap SKIP); ``interval_s <= 0`` deletes it (no TTL sweep, no scheduled re-index) and
    returns None. Raises ``temporalio.service.RPCError`` when Temporal refuses."""
    schedule = (
        interval_schedule(
            MAINTENANCE_SCHEDULE_ID,
            RetrievalMaintenanceWorkflow.run,
            RetrievalMaintenanceInput(),
            task_queue,
            interval_s,
            execution_timeout=timedelta(minutes=30),
        )
        if interval_s > 0
        else None
    )
    return await ensure_schedule(client, MAINTENANCE_SCHEDULE_ID, schedule)
