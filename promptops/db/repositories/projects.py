from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.models import Organization, Project


class ProjectRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def ensure_organization(self, name: str) -> Organization:
        await self.session.execute(
            insert(Organization)
            .values(id=uuid.uuid4(), name=name)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        return (
            await self.session.execute(select(Organization).where(Organization.name == name))
        ).scalar_one()

    async def get(
        self, project_id: uuid.UUID, organization_id: uuid.UUID, *, for_update: bool = False
    ) -> Project | None:
        q = select(Project).where(
            Project.id == project_id, Project.organization_id == organization_id
        )
        if for_update:
            q = q.with_for_update()
        return (await self.session.execute(q)).scalar_one_or_none()

    async def get_by_name(self, name: str, organization_id: uuid.UUID) -> Project | None:
        return (
            await self.session.execute(
                select(Project).where(
                    Project.name == name, Project.organization_id == organization_id
                )
            )
        ).scalar_one_or_none()

    async def list(
        self, organization_id: uuid.UUID, project_id: uuid.UUID | None = None
    ) -> Sequence[Project]:
        q = select(Project).where(Project.organization_id == organization_id)
        if project_id is not None:
            q = q.where(Project.id == project_id)
        return (await self.session.execute(q.order_by(Project.created_at))).scalars().all()

    async def add(self, project: Project) -> Project:
        self.session.add(project)
        await self.session.flush()
        return project
