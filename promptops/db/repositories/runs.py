from __future__ import annotations

import uuid
from collections.abc import Sequence

from psycopg.types.json import Jsonb
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.driver import execute
from promptops.db.models import (
    ACTIVE_DEPLOYMENT_STATUSES,
    Deployment,
    Feedback,
    Outcome,
    Project,
    Run,
)

_JSONB_COLUMNS = frozenset({"variables", "rendered_input", "routing", "attempts"})


class RunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, run: Run) -> Run:
        """Insert ``run`` with one raw ``INSERT`` on the session's psycopg connection, in its
        transaction (the request path's cheap way, :mod:`promptops.db.driver`; batched inside
        :func:`promptops.db.driver.atomic`); the object is
        not attached to the session. Columns left None take their defaults (``created_at``
        stays None on the object)."""
        values = {c.name: getattr(run, c.key) for c in Run.__table__.columns
                  if getattr(run, c.key, None) is not None}
        for name in _JSONB_COLUMNS & values.keys():
            values[name] = Jsonb(values[name])
        names = list(values)
        sql = (f"INSERT INTO runs ({', '.join(names)}) VALUES "
               f"({', '.join(f'%({n})s' for n in names)})")
        await execute(self.session, sql, values)
        return run

    async def get(self, run_id: uuid.UUID, organization_id: uuid.UUID,
                  project_id: uuid.UUID | None = None) -> Run | None:
        q = (select(Run).join(Project, Project.id == Run.project_id)
             .where(Run.id == run_id, Project.organization_id == organization_id))
        if project_id is not None:
            q = q.where(Project.id == project_id)
        return (await self.session.execute(q)).scalar_one_or_none()

    async def active_deployment(self, prompt_id: uuid.UUID, environment: str) -> Deployment | None:
        """The deployment splitting this prompt's traffic in ``environment`` (read on every
        request, so a weight change applies to the next request)."""
        return (await self.session.execute(
            select(Deployment).where(
                Deployment.prompt_id == prompt_id, Deployment.environment == environment,
                Deployment.status.in_(ACTIVE_DEPLOYMENT_STATUSES),
            )
        )).scalar_one_or_none()

    async def latest_run_of_subject(self, project_id: uuid.UUID, subject_id: str) -> Run | None:
        return (await self.session.execute(
            select(Run).where(Run.project_id == project_id, Run.subject_id == subject_id)
            .order_by(Run.created_at.desc()).limit(1)
        )).scalar_one_or_none()

    async def add_feedback(self, feedback: Feedback) -> Feedback:
        self.session.add(feedback)
        await self.session.flush()
        return feedback

    async def add_outcome(self, outcome: Outcome) -> Outcome:
        self.session.add(outcome)
        await self.session.flush()
        return outcome

    async def feedback_of_run(self, run_id: uuid.UUID) -> Sequence[Feedback]:
        return (await self.session.execute(
            select(Feedback).where(Feedback.run_id == run_id).order_by(Feedback.created_at)
        )).scalars().all()
