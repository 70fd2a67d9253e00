"""SQL of routing policies and of the evaluation-quality figure routing ranks on."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.models import EvaluationResult, RoutingPolicy, Run


class RoutingPolicyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(self, project_id: uuid.UUID) -> Sequence[RoutingPolicy]:
        return (await self.session.execute(
            select(RoutingPolicy).where(RoutingPolicy.project_id == project_id)
            .order_by(RoutingPolicy.name))).scalars().all()

    async def get(self, project_id: uuid.UUID, name: str) -> RoutingPolicy | None:
        return (await self.session.execute(
            select(RoutingPolicy).where(RoutingPolicy.project_id == project_id,
                                        RoutingPolicy.name == name)
            .execution_options(populate_existing=True))).scalar_one_or_none()

    async def put(self, project_id: uuid.UUID, name: str, values: dict[str, Any],
                  actor: str) -> RoutingPolicy:
        """Insert or replace the policy ``name`` of the project (``values``: strategy,
        candidates, fallbacks, constraints, description). One statement, so two concurrent
        PUTs of the same name cannot both insert."""
        row = {**values, "updated_by": actor}
        stmt = insert(RoutingPolicy).values(id=uuid.uuid4(), project_id=project_id, name=name,
                                            **row)
        stmt = stmt.on_conflict_do_update(
            index_elements=[RoutingPolicy.project_id, RoutingPolicy.name],
            set_={**row, "updated_at": func.now()})
        await self.session.execute(stmt)
        found = await self.get(project_id, name)
        if found is None:  # pragma: no cover - written by this transaction just now
            raise LookupError(f"routing policy {name!r} vanished after its upsert")
        return found

    async def delete(self, project_id: uuid.UUID, name: str) -> None:
        await self.session.execute(delete(RoutingPolicy).where(
            RoutingPolicy.project_id == project_id, RoutingPolicy.name == name))

    async def mean_scores(self, project_id: uuid.UUID, models: Collection[str],
                          metrics: Collection[str], since: datetime
                          ) -> dict[str, tuple[float, int]]:
        """Per model of ``models``: (mean, count) of ``evaluation_results.value`` clamped to
        [0, 1], over results with a metric in ``metrics``, recorded at or after ``since``, of
        runs of the project made with that model (``runs.model``). Models without any result
        are absent."""
        if not models or not metrics:
            return {}
        clamped = func.least(func.greatest(EvaluationResult.value, 0.0), 1.0)
        rows = (await self.session.execute(
            select(Run.model, func.avg(clamped), func.count(EvaluationResult.id))
            .join(Run, Run.id == EvaluationResult.run_id)
            .where(Run.project_id == project_id, Run.model.in_(list(models)),
                   EvaluationResult.metric.in_(list(metrics)),
                   EvaluationResult.created_at >= since)
            .group_by(Run.model))).all()
        return {str(model): (float(mean), int(n)) for model, mean, n in rows if mean is not None}
