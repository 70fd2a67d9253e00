"""Listing the runs of a project: what the playground and later run browsers read."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal
from api.errors import Unprocessable
from api.schemas.runs import parse_cursor, run_cursor
from api.services.prompts import PromptService
from promptops.db.repositories.runs import RunFilter, RunRepository


class RunListService:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    async def list(
        self,
        project_id: uuid.UUID | None,
        where: RunFilter,
        *,
        before: str | None,
        offset: int,
        limit: int,
    ) -> dict[str, Any]:
        """A page of the runs of ``project_id`` (default: the key's project when the key is
        scoped to one) matching ``where``, newest first,
        as :class:`api.schemas.runs.RunsPublic`. Raises Unprocessable (422, ``project_id``)
        when no project is given to a key that is not scoped, NotFound (404) for a project
        the caller cannot see (another organization's, or a sibling of a scoped key's)."""
        if project_id is None:
            project_id = self.principal.project_id
            if project_id is None:
                raise Unprocessable(
                    "project_id is required (this API key is not scoped to one project)",
                    field="project_id",
                )
        project = await PromptService(self.session, self.principal).get_project(project_id)
        rows = await RunRepository(self.session).list(
            project.id,
            where,
            before=parse_cursor(before) if before is not None else None,
            offset=offset,
            limit=limit,
        )
        data = [dict(row._mapping) for row in rows]
        last = rows[-1] if len(rows) == limit else None
        return {
            "data": data,
            "count": len(data),
            "next_before": run_cursor(last.created_at, last.id) if last is not None else None,
        }
