from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.models import (
    Label,
    LabelHistory,
    Project,
    Prompt,
    PromptVersion,
    PromptVersionStatus,
    ProtectedLabel,
)


class PromptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(
        self, prompt_id: uuid.UUID, organization_id: uuid.UUID, project_id: uuid.UUID | None = None
    ) -> Prompt | None:
        """The prompt if it belongs to the organization (and to ``project_id`` when given)."""
        q = (
            select(Prompt)
            .join(Project, Project.id == Prompt.project_id)
            .where(Prompt.id == prompt_id, Project.organization_id == organization_id)
        )
        if project_id is not None:
            q = q.where(Project.id == project_id)
        return (await self.session.execute(q)).scalar_one_or_none()

    async def get_by_name(self, project_id: uuid.UUID, name: str) -> Prompt | None:
        return (
            await self.session.execute(
                select(Prompt).where(Prompt.project_id == project_id, Prompt.name == name)
            )
        ).scalar_one_or_none()

    async def list(self, project_id: uuid.UUID) -> Sequence[Prompt]:
        return (
            (
                await self.session.execute(
                    select(Prompt)
                    .where(Prompt.project_id == project_id)
                    .order_by(Prompt.created_at)
                )
            )
            .scalars()
            .all()
        )

    async def add(self, prompt: Prompt) -> Prompt:
        self.session.add(prompt)
        await self.session.flush()
        return prompt

    async def lock_prompt(self, prompt_id: uuid.UUID) -> None:
        """Serialise version numbering per prompt (row lock until commit)."""
        await self.session.execute(
            select(Prompt.id).where(Prompt.id == prompt_id).with_for_update()
        )

    async def next_version_number(self, prompt_id: uuid.UUID) -> int:
        current = (
            await self.session.execute(
                select(func.max(PromptVersion.version)).where(PromptVersion.prompt_id == prompt_id)
            )
        ).scalar_one()
        return (current or 0) + 1

    async def add_version(self, version: PromptVersion) -> PromptVersion:
        self.session.add(version)
        await self.session.flush()
        return version

    async def get_version(
        self,
        version_id: uuid.UUID,
        organization_id: uuid.UUID,
        project_id: uuid.UUID | None = None,
    ) -> PromptVersion | None:
        """The version if it belongs to the organization (and to ``project_id`` when given)."""
        q = (
            select(PromptVersion)
            .join(Prompt, Prompt.id == PromptVersion.prompt_id)
            .join(Project, Project.id == Prompt.project_id)
            .where(PromptVersion.id == version_id, Project.organization_id == organization_id)
        )
        if project_id is not None:
            q = q.where(Project.id == project_id)
        return (await self.session.execute(q)).scalar_one_or_none()

    async def get_version_by_number(
        self, prompt_id: uuid.UUID, number: int
    ) -> PromptVersion | None:
        return (
            await self.session.execute(
                select(PromptVersion).where(
                    PromptVersion.prompt_id == prompt_id, PromptVersion.version == number
                )
            )
        ).scalar_one_or_none()

    async def list_versions(self, prompt_id: uuid.UUID) -> Sequence[PromptVersion]:
        return (
            (
                await self.session.execute(
                    select(PromptVersion)
                    .where(PromptVersion.prompt_id == prompt_id)
                    .order_by(PromptVersion.version)
                )
            )
            .scalars()
            .all()
        )

    async def project_of_prompt(self, prompt_id: uuid.UUID) -> uuid.UUID:
        return (
            await self.session.execute(select(Prompt.project_id).where(Prompt.id == prompt_id))
        ).scalar_one()

    async def get_label(
        self, prompt_id: uuid.UUID, name: str, *, for_update: bool = False
    ) -> Label | None:
        q = select(Label).where(Label.prompt_id == prompt_id, Label.name == name)
        if for_update:
            q = q.with_for_update()
        return (await self.session.execute(q)).scalar_one_or_none()

    async def list_labels(self, prompt_id: uuid.UUID) -> Sequence[Label]:
        return (
            (
                await self.session.execute(
                    select(Label).where(Label.prompt_id == prompt_id).order_by(Label.name)
                )
            )
            .scalars()
            .all()
        )

    async def point_label(self, prompt_id: uuid.UUID, name: str, version_id: uuid.UUID) -> None:
        """Point label ``name`` of the prompt at ``version_id``, creating it if missing (one
        ``INSERT ... ON CONFLICT (prompt_id, name) DO UPDATE``)."""
        await self.session.execute(
            insert(Label)
            .values(id=uuid.uuid4(), prompt_id=prompt_id, name=name, prompt_version_id=version_id)
            .on_conflict_do_update(
                index_elements=["prompt_id", "name"],
                set_={"prompt_version_id": version_id, "updated_at": datetime.now(UTC)},
            )
        )

    async def add_label(self, label: Label) -> Label:
        self.session.add(label)
        await self.session.flush()
        return label

    # ------------------------------------------------------------------ label history
    async def label_served(self, prompt_id: uuid.UUID, name: str, version_id: uuid.UUID) -> bool:
        """Whether label ``name`` of the prompt ever pointed at the version (a row of the
        trigger-written ``label_history``)."""
        return bool(
            (
                await self.session.execute(
                    select(
                        exists().where(
                            LabelHistory.prompt_id == prompt_id,
                            LabelHistory.name == name,
                            LabelHistory.prompt_version_id == version_id,
                        )
                    )
                )
            ).scalar_one()
        )

    async def label_history(
        self, prompt_id: uuid.UUID, name: str, *, limit: int = 100
    ) -> Sequence[tuple[LabelHistory, int]]:
        """The values label ``name`` took, newest first, each with its version number."""
        return (
            (
                await self.session.execute(
                    select(LabelHistory, PromptVersion.version)
                    .join(PromptVersion, PromptVersion.id == LabelHistory.prompt_version_id)
                    .where(LabelHistory.prompt_id == prompt_id, LabelHistory.name == name)
                    .order_by(LabelHistory.moved_at.desc(), LabelHistory.id.desc())
                    .limit(limit)
                )
            )
            .tuples()
            .all()
        )

    # ------------------------------------------------------------------ protected labels
    async def lock_project(self, project_id: uuid.UUID, *, exclusive: bool) -> None:
        """Serialise changes of a project's protected labels (exclusive) with label moves that
        depend on them (shared): row lock on the project until commit."""
        q = select(Project.id).where(Project.id == project_id)
        await self.session.execute(
            q.with_for_update() if exclusive else q.with_for_update(read=True)
        )

    async def protected_labels(self, project_id: uuid.UUID) -> Sequence[ProtectedLabel]:
        """The labels an Admin marked protected in the project, by name."""
        return (
            (
                await self.session.execute(
                    select(ProtectedLabel)
                    .where(ProtectedLabel.project_id == project_id)
                    .order_by(ProtectedLabel.name)
                )
            )
            .scalars()
            .all()
        )

    async def add_protected_label(self, project_id: uuid.UUID, name: str, actor: str) -> bool:
        """Mark ``name`` protected in the project; False when it already was."""
        result = await self.session.execute(
            insert(ProtectedLabel)
            .values(id=uuid.uuid4(), project_id=project_id, name=name, created_by=actor)
            .on_conflict_do_nothing(index_elements=["project_id", "name"])
            .returning(ProtectedLabel.id)
        )
        return result.scalar_one_or_none() is not None

    async def remove_protected_label(self, project_id: uuid.UUID, name: str) -> bool:
        """Unmark ``name``; False when it was not marked."""
        result = await self.session.execute(
            delete(ProtectedLabel)
            .where(ProtectedLabel.project_id == project_id, ProtectedLabel.name == name)
            .returning(ProtectedLabel.id)
        )
        return result.scalar_one_or_none() is not None

    async def unapproved_under_label(
        self, project_id: uuid.UUID, name: str
    ) -> Sequence[tuple[str, int, PromptVersionStatus]]:
        """Prompts of the project whose label ``name`` points at a version that is not
        Approved: ``(prompt name, version number, status)``, by prompt name."""
        return (
            (
                await self.session.execute(
                    select(Prompt.name, PromptVersion.version, PromptVersion.status)
                    .join(Label, Label.prompt_id == Prompt.id)
                    .join(PromptVersion, PromptVersion.id == Label.prompt_version_id)
                    .where(
                        Prompt.project_id == project_id,
                        Label.name == name,
                        PromptVersion.status != PromptVersionStatus.APPROVED,
                    )
                    .order_by(Prompt.name)
                )
            )
            .tuples()
            .all()
        )
