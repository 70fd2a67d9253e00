"""SQL of approvals: reads for the API, idempotent writes for the approval activities.

Writes are keyed so that a retried activity cannot write twice: the approval row by its id (the
workflow id), a decision by ``(approval_id, reviewer)``, the final status only while the row is
not final yet. Nothing here commits.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.models import (
    Approval,
    ApprovalDecision,
    AuditLog,
    Project,
    Prompt,
    PromptVersion,
    PromptVersionStatus,
)

#: ``approvals.status`` values after which nothing changes any more.
FINAL_APPROVAL_STATUSES = ("Approved", "Rejected", "Expired", "CheckFailed")


@dataclass(frozen=True)
class VersionFacts:
    """What a reviewer reads an approval by: the prompt, the version number and its author."""

    prompt_id: uuid.UUID
    prompt_name: str
    version: int
    author: str


class ApprovalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # Reads ----------------------------------------------------------------------------------
    async def get(
        self, approval_id: str, organization_id: uuid.UUID, project_id: uuid.UUID | None = None
    ) -> Approval | None:
        """The approval if it belongs to the organization (and to ``project_id`` when given)."""
        q = (
            select(Approval)
            .join(Project, Project.id == Approval.project_id)
            .where(Approval.id == approval_id, Project.organization_id == organization_id)
        )
        if project_id is not None:
            q = q.where(Project.id == project_id)
        return (await self.session.execute(q)).scalar_one_or_none()

    async def get_by_id(self, approval_id: str) -> Approval | None:
        """Unscoped read for activities (the workflow already holds a checked id)."""
        return await self.session.get(Approval, approval_id)

    async def for_version(self, version_id: uuid.UUID) -> Sequence[Approval]:
        """Every approval of a version, oldest first."""
        return (
            (
                await self.session.execute(
                    select(Approval)
                    .where(Approval.prompt_version_id == version_id)
                    .order_by(Approval.created_at, Approval.id)
                )
            )
            .scalars()
            .all()
        )

    async def count_for_version(self, version_id: uuid.UUID, status: str) -> int:
        return int(
            (
                await self.session.execute(
                    select(func.count())
                    .select_from(Approval)
                    .where(Approval.prompt_version_id == version_id, Approval.status == status)
                )
            ).scalar_one()
        )

    async def list(
        self,
        organization_id: uuid.UUID,
        *,
        scope_project_id: uuid.UUID | None = None,
        project_id: uuid.UUID | None = None,
        status: str | None = None,
        prompt_version_id: uuid.UUID | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[Approval]:
        """Approvals of the organization, newest first; ``scope_project_id`` is the caller's
        project scope, ``project_id``/``status``/``prompt_version_id`` are filters."""
        q = (
            select(Approval)
            .join(Project, Project.id == Approval.project_id)
            .where(Project.organization_id == organization_id)
        )
        if scope_project_id is not None:
            q = q.where(Approval.project_id == scope_project_id)
        if project_id is not None:
            q = q.where(Approval.project_id == project_id)
        if status is not None:
            q = q.where(Approval.status == status)
        if prompt_version_id is not None:
            q = q.where(Approval.prompt_version_id == prompt_version_id)
        q = q.order_by(Approval.created_at.desc(), Approval.id).offset(offset).limit(limit)
        return (await self.session.execute(q)).scalars().all()

    async def version_facts(
        self, version_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, VersionFacts]:
        """Prompt id and name, version number and author of each version (by version id)."""
        if not version_ids:
            return {}
        rows = (
            await self.session.execute(
                select(
                    PromptVersion.id,
                    Prompt.id,
                    Prompt.name,
                    PromptVersion.version,
                    PromptVersion.created_by,
                )
                .join(Prompt, Prompt.id == PromptVersion.prompt_id)
                .where(PromptVersion.id.in_(set(version_ids)))
            )
        ).all()
        return {vid: VersionFacts(pid, name, n, author) for vid, pid, name, n, author in rows}

    async def decisions(
        self,
        approval_ids: Sequence[str],
    ) -> dict[str, builtins.list[ApprovalDecision]]:
        """Decisions per approval id, oldest first (every id is a key, maybe with ``[]``)."""
        # ``builtins.list``: the ``list`` method above shadows the builtin in this class.
        out: dict[str, builtins.list[ApprovalDecision]] = {a: [] for a in approval_ids}
        if not approval_ids:
            return out
        rows = (
            (
                await self.session.execute(
                    select(ApprovalDecision)
                    .where(ApprovalDecision.approval_id.in_(list(approval_ids)))
                    .order_by(ApprovalDecision.created_at, ApprovalDecision.id)
                )
            )
            .scalars()
            .all()
        )
        for row in rows:
            out[row.approval_id].append(row)
        return out

    async def reminder_recorded(self, approval_id: str, reminder: int) -> bool:
        """Whether the audit log already holds reminder number ``reminder`` of the approval."""
        found = (
            await self.session.execute(
                select(AuditLog.id)
                .where(
                    AuditLog.action == "approval.reminder",
                    AuditLog.entity_type == "approval",
                    AuditLog.entity_id == approval_id,
                    AuditLog.after["reminder"].as_integer() == reminder,
                )
                .limit(1)
            )
        ).first()
        return found is not None

    # Writes (activities) --------------------------------------------------------------------
    async def upsert(
        self,
        *,
        approval_id: str,
        project_id: uuid.UUID,
        prompt_version_id: uuid.UUID,
        status: str,
        required_approvals: int,
        policy: dict[str, Any],
        requested_by: str,
        deadline_at: datetime | None,
    ) -> bool:
        """Insert the approval row; an existing row that is not final is reset to ``status``
        (a run restarted after a termination). Returns whether the row was inserted."""
        inserted = (
            await self.session.execute(
                insert(Approval)
                .values(
                    id=approval_id,
                    project_id=project_id,
                    prompt_version_id=prompt_version_id,
                    status=status,
                    required_approvals=required_approvals,
                    policy=policy,
                    requested_by=requested_by,
                    reason="",
                    deadline_at=deadline_at,
                )
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(Approval.id)
            )
        ).first()
        if inserted is None:
            await self.session.execute(
                update(Approval)
                .where(Approval.id == approval_id, Approval.status.not_in(FINAL_APPROVAL_STATUSES))
                .values(
                    status=status,
                    required_approvals=required_approvals,
                    policy=policy,
                    deadline_at=deadline_at,
                )
            )
        return inserted is not None

    async def add_decision(
        self, *, approval_id: str, reviewer: str, decision: str, comment: str
    ) -> tuple[bool, ApprovalDecision]:
        """Insert a reviewer's decision unless one is stored for ``(approval_id, reviewer)``.

        Returns ``(created, the stored decision)``.
        """
        created = (
            await self.session.execute(
                insert(ApprovalDecision)
                .values(
                    id=uuid.uuid4(),
                    approval_id=approval_id,
                    reviewer=reviewer,
                    decision=decision,
                    comment=comment,
                )
                .on_conflict_do_nothing(index_elements=["approval_id", "reviewer"])
                .returning(ApprovalDecision.id)
            )
        ).first()
        row = (
            await self.session.execute(
                select(ApprovalDecision)
                .where(
                    ApprovalDecision.approval_id == approval_id,
                    ApprovalDecision.reviewer == reviewer,
                )
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        return created is not None, row

    async def set_check(
        self,
        approval_id: str,
        *,
        evaluation_id: str,
        eval_score: float | None,
        status: str | None,
        reason: str,
    ) -> None:
        """Store the evaluation check's score (and move the row to ``status`` when given)."""
        values: dict[str, Any] = {
            "evaluation_id": evaluation_id,
            "eval_score": eval_score,
            "reason": reason,
        }
        if status is not None:
            values["status"] = status
        await self.session.execute(
            update(Approval)
            .where(Approval.id == approval_id, Approval.status.not_in(FINAL_APPROVAL_STATUSES))
            .values(**values)
        )

    async def finish(
        self,
        approval_id: str,
        *,
        status: str,
        reason: str,
        eval_score: float | None,
        evaluation_id: str | None,
        completed_at: datetime,
    ) -> Approval | None:
        """Set a final status unless the row already has one; returns the updated row, or
        ``None`` when nothing changed."""
        values: dict[str, Any] = {"status": status, "reason": reason, "completed_at": completed_at}
        if eval_score is not None:
            values["eval_score"] = eval_score
        if evaluation_id is not None:
            values["evaluation_id"] = evaluation_id
        return (
            await self.session.execute(
                update(Approval)
                .where(Approval.id == approval_id, Approval.status.not_in(FINAL_APPROVAL_STATUSES))
                .values(**values)
                .returning(Approval)
            )
        ).scalar_one_or_none()

    async def get_version(self, version_id: uuid.UUID) -> PromptVersion | None:
        return await self.session.get(PromptVersion, version_id)

    async def set_version_status(
        self, version_id: uuid.UUID, status: PromptVersionStatus
    ) -> PromptVersionStatus | None:
        """Set a version's status; returns the status it had (``None``: no such version)."""
        before = (
            await self.session.execute(
                select(PromptVersion.status).where(PromptVersion.id == version_id).with_for_update()
            )
        ).scalar_one_or_none()
        if before is not None and before != status:
            await self.session.execute(
                update(PromptVersion).where(PromptVersion.id == version_id).values(status=status)
            )
        return before
