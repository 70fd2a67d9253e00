"""``provider_health_checks``: written by the ``check_provider_health`` activity, read by
``GET /models/providers``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.models.gateway import ProviderHealthCheck


class HealthCheckRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def ping(self) -> None:
        """One round trip to the database (``SELECT 1``): raises the driver's error when it
        cannot be reached."""
        await self.session.execute(select(literal(1)))

    async def add_once(self, rows: list[dict[str, Any]]) -> int:
        """Insert check rows (``id, model_name, checked_at, ok, latency_ms, status_code,
        error``), skipping ids already written (``ON CONFLICT DO NOTHING``: a retried activity
        writes nothing twice). Returns the rows inserted."""
        result = await self.session.execute(
            insert(ProviderHealthCheck)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[ProviderHealthCheck.id])
            .returning(ProviderHealthCheck.id)
        )
        return len(result.all())

    async def latest_by_model(self) -> dict[str, ProviderHealthCheck]:
        """The latest check of every model name, in one query (``DISTINCT ON (model_name)``
        ordered by ``checked_at DESC``, served by the ``(model_name, checked_at)`` index)."""
        rows = (
            (
                await self.session.execute(
                    select(ProviderHealthCheck)
                    .distinct(ProviderHealthCheck.model_name)
                    .order_by(
                        ProviderHealthCheck.model_name,
                        ProviderHealthCheck.checked_at.desc(),
                        ProviderHealthCheck.id,
                    )
                )
            )
            .scalars()
            .all()
        )
        return {row.model_name: row for row in rows}
