"""The append-only audit log of the caller's organization (Admin only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import AdminPrincipal, SessionDep
from api.errors import Forbidden
from api.schemas.common import ERROR_RESPONSES, INT64_MAX, Text
from api.schemas.identity import AuditPublic
from promptops.db.repositories import AuditRepository

router = APIRouter(prefix="/audit", tags=["audit"], responses=ERROR_RESPONSES)


@router.get("", response_model=AuditPublic)
async def list_audit(
    session: SessionDep,
    principal: AdminPrincipal,
    since: Annotated[
        datetime | None, Query(description="from this time (inclusive, ISO 8601)")
    ] = None,
    until: Annotated[datetime | None, Query(description="before this time (exclusive)")] = None,
    actor: Annotated[
        Text | None, Query(max_length=320, description="the acting user's email")
    ] = None,
    action: Annotated[
        Text | None, Query(max_length=100, description="e.g. api_key.rotate, label.move")
    ] = None,
    entity_type: Annotated[
        Text | None, Query(max_length=60, description="e.g. api_key, prompt_version")
    ] = None,
    entity_id: Annotated[Text | None, Query(max_length=200)] = None,
    request_id: Annotated[
        Text | None, Query(max_length=64, description="the request's X-Request-ID")
    ] = None,
    before_id: Annotated[
        int | None,
        Query(ge=1, le=INT64_MAX, description="page cursor: the previous page's next_before_id"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Audit entries of the caller's organization, newest first, filtered by time range,
    actor, action, entity and request id. Page with ``before_id`` = the previous page's
    ``next_before_id``. Admin only; a project-scoped key gets 403 (the log covers the whole
    organization). 422 names a filter that is too long or holds a character that cannot be
    stored (NUL, a lone surrogate), or a ``before_id`` beyond 2**63 - 1."""
    if principal.project_id is not None:
        raise Forbidden(
            "the audit log covers the whole organization; this API key is scoped "
            f"to project {principal.project_id}"
        )
    rows = await AuditRepository(session).list(
        organization_id=principal.organization_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        actor=actor,
        since=since,
        until=until,
        limit=limit,
        request_id=request_id,
        before_id=before_id,
    )
    return {
        "data": rows,
        "count": len(rows),
        "next_before_id": rows[-1].id if len(rows) == limit else None,
    }
