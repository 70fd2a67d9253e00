"""Members of the caller's organization: any role lists, Admins add, change and remove."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, status

from api.deps import AdminPrincipal, CurrentPrincipal, SessionDep
from api.schemas.common import ERROR_RESPONSES
from api.schemas.identity import (
    MemberCreate,
    MemberPublic,
    MemberRemoved,
    MembersPublic,
    MemberUpdate,
)
from api.services.identity import MemberService

router = APIRouter(prefix="/members", tags=["members"], responses=ERROR_RESPONSES)


@router.get("", response_model=MembersPublic)
async def list_members(session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Members with their role and optional project narrowing, by email."""
    data = await MemberService(session, principal).list_members()
    return {"data": data, "count": len(data)}


@router.post("", response_model=MemberPublic, status_code=status.HTTP_201_CREATED)
async def add_member(
    body: MemberCreate, session: SessionDep, principal: AdminPrincipal
) -> dict[str, Any]:
    """Add a user (created if new) with a role. 409 if already a member; 404 for a project
    outside the organization. Audited as ``member.add``."""
    return await MemberService(session, principal).add(body)


@router.patch("/{user_id}", response_model=MemberPublic)
async def update_member(
    user_id: uuid.UUID, body: MemberUpdate, session: SessionDep, principal: AdminPrincipal
) -> dict[str, Any]:
    """Change role and/or project narrowing (``project_id: null`` = whole organization).
    409 if the organization would be left without an organization-wide Admin."""
    return await MemberService(session, principal).update(user_id, body)


@router.delete("/{user_id}", response_model=MemberRemoved)
async def remove_member(
    user_id: uuid.UUID, session: SessionDep, principal: AdminPrincipal
) -> dict[str, Any]:
    """Remove a member and revoke their API keys of this organization. 409 for the last
    organization-wide Admin."""
    return await MemberService(session, principal).remove(user_id)
