from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.models import (
    ACTIVE_DEPLOYMENT_STATUSES,
    Deployment,
    Feedback,
    Outcome,
    Project,
    Run,
)


class RunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, run: Run) -> Run:
        self.session.add(run)
        await self.session.flush()
        return run

    async def insert(self, run: Run) -> Run:
        """Insert ``run`` with one Core ``INSERT`` (no unit-of-work flush: the request path's
        cheaper way); the object is not attached to the session. Columns left None take their
        defaults (``created_at`` stays None on the object)."""
        values = {c.key: getattr(run, c.key) for c in Run.__table__.columns
                  if getattr(run, c.key, None) is not None}
        await self.session.execute(insert(Run).values(**values))
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
