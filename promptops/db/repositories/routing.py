"""SQL of routing policies and of the evaluation-quality figure routing ranks on:
:class:`RoutingPolicyRepository` administers policies (ORM, the API's unit of work);
:class:`RoutingReads` is what the model-call path reads (raw SQL on any
:class:`promptops.db.connection.SQL` handle)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.connection import SQL
from promptops.db.models import RoutingPolicy
from promptops.db.models.base import plain_record

#: A routing policy as the model-call path reads it (every column as a plain attribute).
RoutingPolicyRecord = plain_record(RoutingPolicy, frozen=True)
_POLICY_COLUMNS = tuple(RoutingPolicyRecord.__dataclass_fields__)
_POLICY = (
    f"SELECT {', '.join(_POLICY_COLUMNS)} FROM routing_policies "
    "WHERE project_id = %(project)s AND name = %(name)s"
)
_NAMES = "SELECT name FROM routing_policies WHERE project_id = %(project)s ORDER BY name"
_MEAN_SCORES = """
SELECT r.model, avg(least(greatest(er.value, 0.0), 1.0)), count(er.id)
FROM evaluation_results er JOIN runs r ON r.id = er.run_id
WHERE r.project_id = %(project)s AND r.model = ANY(%(models)s)
  AND er.metric = ANY(%(metrics)s) AND er.created_at >= %(since)s
GROUP BY r.model
"""


class RoutingPolicyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(self, project_id: uuid.UUID) -> Sequence[RoutingPolicy]:
        return (
            (
                await self.session.execute(
                    select(RoutingPolicy)
                    .where(RoutingPolicy.project_id == project_id)
                    .order_by(RoutingPolicy.name)
                )
            )
            .scalars()
            .all()
        )

    async def get(self, project_id: uuid.UUID, name: str) -> RoutingPolicy | None:
        return (
            await self.session.execute(
                select(RoutingPolicy)
                .where(RoutingPolicy.project_id == project_id, RoutingPolicy.name == name)
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()

    async def put(
        self, project_id: uuid.UUID, name: str, values: dict[str, Any], actor: str
    ) -> RoutingPolicy:
        """Insert or replace the policy ``name`` of the project (``values``: strategy,
        candidates, fallbacks, constraints, description). One statement, so two concurrent
        PUTs of the same name cannot both insert."""
        row = {**values, "updated_by": actor}
        stmt = insert(RoutingPolicy).values(
            id=uuid.uuid4(), project_id=project_id, name=name, **row
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[RoutingPolicy.project_id, RoutingPolicy.name],
            set_={**row, "updated_at": func.now()},
        )
        await self.session.execute(stmt)
        found = await self.get(project_id, name)
        if found is None:  # pragma: no cover - written by this transaction just now
            raise LookupError(f"routing policy {name!r} vanished after its upsert")
        return found

    async def delete(self, project_id: uuid.UUID, name: str) -> None:
        await self.session.execute(
            delete(RoutingPolicy).where(
                RoutingPolicy.project_id == project_id, RoutingPolicy.name == name
            )
        )


class RoutingReads:
    """The reads of policy routing (one policy, a project's policy names, quality figures)."""

    def __init__(self, db: SQL) -> None:
        self.db = db

    async def policy(self, project_id: uuid.UUID, name: str) -> Any:
        """The project's policy ``name`` (a :data:`RoutingPolicyRecord`), or None."""
        row = await self.db.fetchone(_POLICY, {"project": project_id, "name": name})
        return None if row is None else RoutingPolicyRecord(*row)

    async def names(self, project_id: uuid.UUID) -> list[str]:
        """The project's policy names, sorted."""
        return [str(r[0]) for r in await self.db.fetchall(_NAMES, {"project": project_id})]

    async def mean_scores(
        self,
        project_id: uuid.UUID,
        models: Collection[str],
        metrics: Collection[str],
        since: datetime,
    ) -> dict[str, tuple[float, int]]:
        """Per model of ``models``: (mean, count) of ``evaluation_results.value`` clamped to
        [0, 1], over results with a metric in ``metrics``, recorded at or after ``since``, of
        runs of the project made with that model (``runs.model``). Models without any result
        are absent."""
        if not models or not metrics:
            return {}
        rows = await self.db.fetchall(
            _MEAN_SCORES,
            {
                "project": project_id,
                "models": list(models),
                "metrics": list(metrics),
                "since": since,
            },
        )
        return {str(model): (float(mean), int(n)) for model, mean, n in rows if mean is not None}
