"""``GET /api/v1/me``: who the API key belongs to, and where the operator tools are (the web app
shows what the role may do and links workflows to the Temporal UI)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentPrincipal, SettingsDep
from api.schemas.common import ERROR_RESPONSES
from api.schemas.identity import MePublic

router = APIRouter(prefix="/me", tags=["identity"], responses=ERROR_RESPONSES)


@router.get("", response_model=MePublic)
async def me(principal: CurrentPrincipal, settings: SettingsDep) -> MePublic:
    """The caller: organization, user (email as ``actor``), effective role (the weaker of the
    key's and the membership's), the project the key is scoped to, if any, and the Temporal
    Web UI's address and namespace (``PROMPTOPS_TEMPORAL_UI_URL`` when the UI is elsewhere).
    401 for a missing, unknown, revoked or expired key."""
    return MePublic(
        organization_id=principal.organization_id,
        actor=principal.actor,
        role=principal.role.value,
        user_id=principal.user_id,
        project_id=principal.project_id,
        api_key_id=principal.api_key_id,
        temporal_ui_url=settings.temporal_ui_url,
        temporal_namespace=settings.temporal_namespace,
    )
