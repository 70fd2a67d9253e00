from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.models import Evaluation, EvaluationResult, Example, Project, Run


class EvaluationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, evaluation_id: str, organization_id: uuid.UUID,
                  project_id: uuid.UUID | None = None) -> Evaluation | None:
        q = (select(Evaluation).join(Project, Project.id == Evaluation.project_id)
             .where(Evaluation.id == evaluation_id, Project.organization_id == organization_id))
        if project_id is not None:
            q = q.where(Project.id == project_id)
        return (await self.session.execute(q)).scalar_one_or_none()

    async def count_runs(self, evaluation_id: str) -> int:
        return (await self.session.execute(
            select(func.count()).select_from(Run).where(Run.evaluation_id == evaluation_id)
        )).scalar_one()

    async def rows(self, evaluation_id: str, *, offset: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """Per-example rows: input, output, expected and each metric's value, per version."""
        runs = (await self.session.execute(
            select(Run, Example.external_id, Example.input, Example.expected)
            .join(Example, Example.id == Run.example_id)
            .where(Run.evaluation_id == evaluation_id)
            .order_by(Example.position, Run.prompt_version_id)
            .offset(offset).limit(limit)
        )).all()
        ids = [r[0].id for r in runs]
        values: dict[uuid.UUID, dict[str, Any]] = {}
        labels: dict[uuid.UUID, str | None] = {}
        if ids:
            for run_id, metric, value, details in (await self.session.execute(
                select(EvaluationResult.run_id, EvaluationResult.metric, EvaluationResult.value,
                       EvaluationResult.details).where(EvaluationResult.run_id.in_(ids))
            )).all():
                values.setdefault(run_id, {})[metric] = value
                if details is not None:
                    labels[run_id] = details
        out = []
        for run, external_id, inp, expected in runs:
            out.append({
                "example_id": external_id, "prompt_version_id": str(run.prompt_version_id),
                "run_id": str(run.id), "input": inp, "output": run.output, "expected": expected,
                "predicted_label": labels.get(run.id), "success": run.success, "error": run.error,
                "metrics": values.get(run.id, {}), "latency_ms": run.latency_ms,
                "tokens_in": run.tokens_in, "tokens_out": run.tokens_out,
                "cost_usd": float(run.cost_usd),
            })
        return out
