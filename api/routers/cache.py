"""Response caching: a project's cache settings and purging cached answers."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from api.deps import CurrentPrincipal, EditorPrincipal, SessionDep
from api.schemas.cache import CachePurge, CachePurged, CacheSettingsPublic, CacheSettingsUpdate
from api.schemas.common import ERROR_RESPONSES
from api.services.cache import CacheService

router = APIRouter(tags=["cache"], responses=ERROR_RESPONSES)


@router.get("/projects/{project_id}/cache", response_model=CacheSettingsPublic)
async def get_cache_settings(
    project_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """The project's cache settings: ``exact {enabled, ttl_s}``, ``semantic {enabled,
    threshold, ttl_s}`` (TTL in seconds, threshold a cosine similarity). Both off unless the
    project opted in. 404 for a project outside the caller's scope."""
    return await CacheService(session, principal).get(project_id)


@router.put("/projects/{project_id}/cache", response_model=CacheSettingsPublic)
async def put_cache_settings(
    project_id: uuid.UUID,
    body: CacheSettingsUpdate,
    session: SessionDep,
    principal: EditorPrincipal,
) -> dict[str, Any]:
    """Replace the project's cache settings (Editor). A missing section is reset to its
    defaults (off). 403 below Editor, 404 outside the caller's scope, 422 naming the field
    (``ttl_s`` 1 .. 2592000 s, ``threshold`` in (0, 1])."""
    return await CacheService(session, principal).put(project_id, body)


@router.post("/cache/purge", response_model=CachePurged)
async def purge_cache(
    body: CachePurge, session: SessionDep, principal: EditorPrincipal
) -> dict[str, Any]:
    """Delete cached answers of ``project_id`` (Editor), optionally only those of
    ``prompt_version_id`` and/or ``model``, from the ``exact`` or ``semantic`` cache or ``all``.
    Returns ``{project_id, kind, exact, semantic}`` (rows deleted). 403 below Editor, 404 for
    a project or prompt version outside the caller's scope."""
    return await CacheService(session, principal).purge(body)
