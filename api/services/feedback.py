"""Feedback on runs and outcome events: what canary guards and later analytics read."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal
from api.errors import NotFound, Unprocessable
from api.schemas.runs import FeedbackCreate, OutcomeCreate
from api.services.prompts import PromptService
from promptops.db.models import Feedback, Outcome, Run
from promptops.db.repositories import AuditRepository, RunRepository


class FeedbackService:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.runs = RunRepository(session)
        self.audit = AuditRepository(session)

    async def get_run(self, run_id: uuid.UUID) -> Run:
        run = await self.runs.get(run_id, self.principal.organization_id, self.principal.project_id)
        if run is None:
            raise NotFound(f"run {run_id} not found")
        return run

    async def add_feedback(self, run_id: uuid.UUID, body: FeedbackCreate) -> Feedback:
        """Record feedback; ``value`` = score if given, else 1.0 / 0.0 for thumbs up / down.
        Raises NotFound (404) for a run of another tenant, Unprocessable (422) when neither
        thumbs nor score is given."""
        run = await self.get_run(run_id)
        if body.thumbs is None and body.score is None:
            raise Unprocessable("give thumbs (true/false) or a score in [0, 1]", field="score")
        value = body.score if body.score is not None else (1.0 if body.thumbs else 0.0)
        feedback = await self.runs.add_feedback(
            Feedback(
                id=uuid.uuid4(),
                project_id=run.project_id,
                run_id=run.id,
                thumbs=body.thumbs,
                score=body.score,
                value=value,
                comment=body.comment,
                actor=self.principal.actor,
            )
        )
        await self.audit.record(
            organization_id=self.principal.organization_id,
            actor=self.principal.actor,
            action="feedback.create",
            entity_type="run",
            entity_id=str(run.id),
            after={"feedback_id": str(feedback.id), "value": value},
            request_id=self.principal.request_id,
        )
        await self.session.refresh(feedback)
        return feedback

    async def add_outcome(self, body: OutcomeCreate) -> Outcome:
        """Record an outcome for ``run_id``, or for the latest run of ``subject_id`` in
        ``project_id``. 422 names the missing field; 404 for unknown or foreign ids."""
        run_id: uuid.UUID | None
        if body.run_id is not None:
            run = await self.get_run(body.run_id)
            project_id, run_id = run.project_id, run.id
            if body.project_id is not None and body.project_id != project_id:
                raise Unprocessable("run_id belongs to another project", field="project_id")
        else:
            if not body.subject_id:
                raise Unprocessable("give run_id, or subject_id with project_id", field="run_id")
            if body.project_id is None:
                raise Unprocessable("project_id is required with subject_id", field="project_id")
            project = await PromptService(self.session, self.principal).get_project(body.project_id)
            project_id = project.id
            latest = await self.runs.latest_run_of_subject(project_id, body.subject_id)
            run_id = latest.id if latest else None
        outcome = await self.runs.add_outcome(
            Outcome(
                id=uuid.uuid4(),
                project_id=project_id,
                name=body.name,
                value=body.value,
                run_id=run_id,
                subject_id=body.subject_id,
                actor=self.principal.actor,
            )
        )
        await self.audit.record(
            organization_id=self.principal.organization_id,
            actor=self.principal.actor,
            action="outcome.create",
            entity_type="outcome",
            entity_id=str(outcome.id),
            after={
                "name": body.name,
                "value": body.value,
                "run_id": str(run_id) if run_id else None,
            },
            request_id=self.principal.request_id,
        )
        await self.session.refresh(outcome)
        return outcome
