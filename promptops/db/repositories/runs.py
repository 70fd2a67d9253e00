from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.models import Project, Run


class RunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, run: Run) -> Run:
        self.session.add(run)
        await self.session.flush()
        return run

    async def get(self, run_id: uuid.UUID, organization_id: uuid.UUID) -> Run | None:
        return (await self.session.execute(
            select(Run).join(Project, Project.id == Run.project_id)
            .where(Run.id == run_id, Project.organization_id == organization_id)
        )).scalar_one_or_none()
