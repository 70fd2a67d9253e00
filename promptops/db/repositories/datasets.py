from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.models import Dataset, Example, Project


class DatasetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(
        self, dataset_id: uuid.UUID, organization_id: uuid.UUID, project_id: uuid.UUID | None = None
    ) -> Dataset | None:
        q = (
            select(Dataset)
            .join(Project, Project.id == Dataset.project_id)
            .where(Dataset.id == dataset_id, Project.organization_id == organization_id)
        )
        if project_id is not None:
            q = q.where(Project.id == project_id)
        return (await self.session.execute(q)).scalar_one_or_none()

    async def list(self, project_id: uuid.UUID) -> Sequence[Dataset]:
        return (
            (
                await self.session.execute(
                    select(Dataset)
                    .where(Dataset.project_id == project_id)
                    .order_by(Dataset.created_at)
                )
            )
            .scalars()
            .all()
        )

    async def add(self, dataset: Dataset) -> Dataset:
        self.session.add(dataset)
        await self.session.flush()
        return dataset

    async def lock(self, dataset_id: uuid.UUID) -> None:
        await self.session.execute(
            select(Dataset.id).where(Dataset.id == dataset_id).with_for_update()
        )

    async def count_examples(self, dataset_id: uuid.UUID) -> int:
        return (
            await self.session.execute(
                select(func.count()).select_from(Example).where(Example.dataset_id == dataset_id)
            )
        ).scalar_one()

    async def existing_external_ids(
        self, dataset_id: uuid.UUID, ids: builtins.list[str]
    ) -> set[str]:
        rows = await self.session.execute(
            select(Example.external_id).where(
                Example.dataset_id == dataset_id, Example.external_id.in_(ids)
            )
        )
        return set(rows.scalars())

    async def add_examples(self, rows: builtins.list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(Example), rows)

    async def list_examples(
        self, dataset_id: uuid.UUID, *, offset: int, limit: int
    ) -> Sequence[Example]:
        return (
            (
                await self.session.execute(
                    select(Example)
                    .where(Example.dataset_id == dataset_id)
                    .order_by(Example.position)
                    .offset(offset)
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
