from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query

from api.deps import AdminPrincipal, SessionDep
from promptops.db.repositories import AuditRepository

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("")
async def list_audit(session: SessionDep, principal: AdminPrincipal,
                     action: str | None = None, entity_type: str | None = None,
                     entity_id: str | None = None, actor: str | None = None,
                     since: datetime | None = None, until: datetime | None = None,
                     limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """Audit entries of the caller's organization, newest first."""
    rows = await AuditRepository(session).list(
        organization_id=principal.organization_id, action=action, entity_type=entity_type,
        entity_id=entity_id, actor=actor, since=since, until=until, limit=limit)
    return {"data": [
        {"id": r.id, "actor": r.actor, "action": r.action, "entity_type": r.entity_type,
         "entity_id": r.entity_id, "before": r.before, "after": r.after,
         "request_id": r.request_id, "created_at": r.created_at.isoformat()}
        for r in rows
    ]}
