"""A project's response-cache settings (``Project.cache_settings``) and cache purges.

Reading needs any role; changing settings and purging need Editor (403 below). A project or
prompt version outside the caller's organization or project scope is 404. Changes are
audited (``cache_settings.update``, ``cache.purge``).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal
from api.errors import NotFound
from api.schemas.cache import CachePurge, CacheSettingsUpdate
from api.services.identity import record_audit
from api.services.prompts import PromptService
from promptops.db.connection import SessionSQL
from promptops.db.models import Project, Role
from promptops.db.repositories.cache import CacheRepository
from promptops.llm.cache import CacheSettings


def stored_settings(project: Project) -> CacheSettings:
    """The project's settings; defaults (both caches off) when none or invalid are stored."""
    try:
        return CacheSettings.model_validate(project.cache_settings or {})
    except ValueError:
        return CacheSettings()


class CacheService:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.prompts = PromptService(session, principal)

    async def get(self, project_id: uuid.UUID) -> dict[str, Any]:
        """``{project_id, exact: {enabled, ttl_s}, semantic: {enabled, threshold, ttl_s}}``."""
        project = await self.prompts.get_project(project_id)
        return {"project_id": project.id, **stored_settings(project).model_dump()}

    async def put(self, project_id: uuid.UUID, data: CacheSettingsUpdate) -> dict[str, Any]:
        """Replace the project's settings (Editor). Audited as ``cache_settings.update``."""
        self.principal.require(Role.EDITOR)
        project = await self.prompts.get_project(project_id)
        before = stored_settings(project).model_dump()
        after = CacheSettings.model_validate(data.model_dump()).model_dump()
        project.cache_settings = after
        await self.session.flush()
        await record_audit(
            self.session,
            self.principal,
            "cache_settings.update",
            "project",
            project.id,
            before=before,
            after=after,
        )
        return {"project_id": project.id, **after}

    async def purge(self, data: CachePurge) -> dict[str, Any]:
        """Delete the project's entries matching the filters (Editor); returns the rows
        deleted per cache. 404 for a project, or prompt version of another project, outside
        the caller's scope. Audited as ``cache.purge``."""
        self.principal.require(Role.EDITOR)
        project = await self.prompts.get_project(data.project_id)
        if data.prompt_version_id is not None:
            version = await self.prompts.prompts.get_version(
                data.prompt_version_id, self.principal.organization_id, project.id
            )
            if version is None:
                raise NotFound(
                    f"prompt version {data.prompt_version_id} not found in project {project.id}",
                    field="prompt_version_id",
                )
        counts = await CacheRepository(SessionSQL(self.session)).purge(
            self.principal.organization_id,
            project.id,
            data.prompt_version_id,
            data.model,
            data.kind,
        )
        await record_audit(
            self.session,
            self.principal,
            "cache.purge",
            "project",
            project.id,
            after={
                "prompt_version_id": None
                if data.prompt_version_id is None
                else str(data.prompt_version_id),
                "model": data.model,
                "kind": data.kind,
                **counts,
            },
        )
        return {"project_id": project.id, "kind": data.kind, **counts}
