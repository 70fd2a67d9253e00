"""SQL of retrieval evaluations: per-example results (``retrieval_eval_results``), written
idempotently by the evaluation activity and read by finalize and the API."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.models import Example, RetrievalEvalResult


@dataclass(frozen=True)
class StoredQuery:
    """A recorded example of one configuration: its metric values and latency (ms)."""

    example_id: uuid.UUID
    metrics: dict[str, float]
    latency_ms: float


class RetrievalEvalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def finished(
        self, evaluation_id: str, config_id: str, example_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, StoredQuery]:
        """The examples among ``example_ids`` already recorded for this configuration."""
        if not example_ids:
            return {}
        rows = await self.session.execute(
            select(
                RetrievalEvalResult.example_id,
                RetrievalEvalResult.metrics,
                RetrievalEvalResult.latency_ms,
            ).where(
                RetrievalEvalResult.evaluation_id == evaluation_id,
                RetrievalEvalResult.config_id == config_id,
                RetrievalEvalResult.example_id.in_(list(example_ids)),
            )
        )
        return {
            eid: StoredQuery(eid, {k: float(v) for k, v in metrics.items()}, float(latency))
            for eid, metrics, latency in rows.tuples()
        }

    async def record(
        self,
        evaluation_id: str,
        config_id: str,
        example_id: uuid.UUID,
        *,
        metrics: dict[str, float],
        hits: list[dict[str, Any]],
        ranking: list[str],
        latency_ms: float,
    ) -> bool:
        """Insert one example's result unless it is recorded (``ON CONFLICT DO NOTHING`` on
        the primary key). Returns whether this call inserted it."""
        result = await self.session.execute(
            insert(RetrievalEvalResult)
            .values(
                evaluation_id=evaluation_id,
                config_id=config_id,
                example_id=example_id,
                metrics=metrics,
                hits=hits,
                ranking=ranking,
                latency_ms=latency_ms,
            )
            .on_conflict_do_nothing(index_elements=["evaluation_id", "config_id", "example_id"])
            .returning(RetrievalEvalResult.example_id)
        )
        return result.first() is not None

    async def count(self, evaluation_id: str) -> int:
        return int(
            (
                await self.session.execute(
                    select(func.count())
                    .select_from(RetrievalEvalResult)
                    .where(RetrievalEvalResult.evaluation_id == evaluation_id)
                )
            ).scalar_one()
        )

    async def scored(self, evaluation_id: str) -> list[tuple[str, str, dict[str, float], float]]:
        """``(config_id, example external id, metrics, latency_ms)`` of every recorded
        example, in dataset order."""
        rows = await self.session.execute(
            select(
                RetrievalEvalResult.config_id,
                Example.external_id,
                RetrievalEvalResult.metrics,
                RetrievalEvalResult.latency_ms,
            )
            .join(Example, Example.id == RetrievalEvalResult.example_id)
            .where(RetrievalEvalResult.evaluation_id == evaluation_id)
            .order_by(Example.position, RetrievalEvalResult.config_id)
        )
        return [(c, e, dict(m), float(ms)) for c, e, m, ms in rows.tuples()]

    async def rows(
        self, evaluation_id: str, *, offset: int = 0, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Per-example rows in dataset order (configurations in id order): ``example_id``
        (external), ``input``, ``expected``, ``config_id``, ``metrics``, ``hits``,
        ``ranking``, ``latency_ms``."""
        rows = await self.session.execute(
            select(
                Example.external_id,
                Example.input,
                Example.expected,
                RetrievalEvalResult.config_id,
                RetrievalEvalResult.metrics,
                RetrievalEvalResult.hits,
                RetrievalEvalResult.ranking,
                RetrievalEvalResult.latency_ms,
            )
            .join(Example, Example.id == RetrievalEvalResult.example_id)
            .where(RetrievalEvalResult.evaluation_id == evaluation_id)
            .order_by(Example.position, RetrievalEvalResult.config_id)
            .offset(offset)
            .limit(limit)
        )
        return [
            {
                "example_id": external_id,
                "input": inp,
                "expected": expected,
                "config_id": config_id,
                "metrics": metrics,
                "hits": hits,
                "ranking": ranking,
                "latency_ms": latency_ms,
            }
            for external_id, inp, expected, config_id, metrics, hits, ranking, latency_ms in rows
        ]
