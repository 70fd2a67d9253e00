"""API keys of the caller's organization: shown once, stored hashed, rotatable, revocable."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, status

from api.deps import CurrentPrincipal, SessionDep
from api.schemas.common import ERROR_RESPONSES
from api.schemas.identity import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    ApiKeysPublic,
    ApiKeyUpdate,
)
from api.services.identity import ApiKeyService

router = APIRouter(prefix="/api_keys", tags=["api keys"], responses=ERROR_RESPONSES)


def _service(request: Request, session: SessionDep, principal: CurrentPrincipal) -> ApiKeyService:
    return ApiKeyService(session, principal, request.app.state.server_secret)


@router.post("", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
async def create_api_key(
    body: ApiKeyCreate, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Issue a key; ``key`` is in this response only. Any member may create keys for
    themselves with a role up to their own; an Admin may issue keys to another member
    (``user_email``), never above that member's role. A project-scoped caller's keys are
    scoped to its project. 403 / 404 / 422 name the offending field."""
    return await _service(request, session, principal).create(body)


@router.get("", response_model=ApiKeysPublic)
async def list_api_keys(
    request: Request, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Admins see every key of the organization, others their own: prefix, name, role,
    scope, owner, created/last used/expiry/revocation times. Never the key or its hash."""
    data = await _service(request, session, principal).list_keys()
    return {"data": data, "count": len(data)}


@router.post("/{key_id}/rotate", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
async def rotate_api_key(
    key_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Replace a key: a new key with the same name, role, project, owner and expiry
    (``rotated_from`` = the old id) is returned once, and the old key is revoked at once,
    with no grace period. 409 for a revoked or expired key."""
    return await _service(request, session, principal).rotate(key_id)


@router.patch("/{key_id}", response_model=ApiKeyPublic)
async def update_api_key(
    key_id: uuid.UUID,
    body: ApiKeyUpdate,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """Rename a key or set its ``rate_limit_rpm`` (requests per minute, >= 1; ``null`` =
    unlimited); omitted fields stay. Owners change their own keys, Admins any key of the
    organization; 404 for another's key, 409 for a revoked one, 422 names the field."""
    return await _service(request, session, principal).update(key_id, body)


@router.delete("/{key_id}", response_model=ApiKeyPublic)
async def revoke_api_key(
    key_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Revoke a key (``revoked_at`` is set; the row stays for the audit trail). Owners revoke
    their own keys, Admins any key of the organization."""
    return await _service(request, session, principal).revoke(key_id)
