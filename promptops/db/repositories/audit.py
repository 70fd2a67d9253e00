from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.models import AuditLog


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        *,
        organization_id: uuid.UUID | None,
        actor: str,
        action: str,
        entity_type: str,
        entity_id: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        self.session.add(
            AuditLog(
                organization_id=organization_id,
                actor=actor,
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                before=before,
                after=after,
                request_id=request_id,
            )
        )

    async def list(
        self,
        *,
        organization_id: uuid.UUID,
        action: str | None = None,
        entity_type: str | None = None,
        entity_id: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        request_id: str | None = None,
        before_id: int | None = None,
    ) -> Sequence[AuditLog]:
        """Entries of one organization, newest first (by id); ``since`` inclusive, ``until``
        exclusive; ``before_id`` pages backwards (ids strictly below it)."""
        q = select(AuditLog).where(AuditLog.organization_id == organization_id)
        if request_id:
            q = q.where(AuditLog.request_id == request_id)
        if before_id is not None:
            q = q.where(AuditLog.id < before_id)
        if action:
            q = q.where(AuditLog.action == action)
        if entity_type:
            q = q.where(AuditLog.entity_type == entity_type)
        if entity_id:
            q = q.where(AuditLog.entity_id == entity_id)
        if actor:
            q = q.where(AuditLog.actor == actor)
        if since:
            q = q.where(AuditLog.created_at >= since)
        if until:
            q = q.where(AuditLog.created_at < until)
        return (
            (await self.session.execute(q.order_by(AuditLog.id.desc()).limit(limit)))
            .scalars()
            .all()
        )
