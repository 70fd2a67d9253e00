from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, status

from api.deps import AdminPrincipal, CurrentPrincipal, SessionDep
from api.schemas.common import ERROR_RESPONSES
from api.schemas.projects import ProjectCreate, ProjectPublic, ProjectsPublic
from api.services.prompts import PromptService
from promptops.db.models import Project
from promptops.db.repositories import ProjectRepository

router = APIRouter(prefix="/projects", tags=["projects"], responses=ERROR_RESPONSES)


@router.post("", response_model=ProjectPublic, status_code=status.HTTP_201_CREATED)
async def create_project(
    body: ProjectCreate, session: SessionDep, principal: AdminPrincipal
) -> Project:
    """Create a project in the caller's organization. 409 if the name is taken."""
    return await PromptService(session, principal).create_project(body.name, body.description)


@router.get("", response_model=ProjectsPublic)
async def list_projects(session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    data = await ProjectRepository(session).list(principal.organization_id, principal.project_id)
    return {"data": data, "count": len(data)}


@router.get("/{project_id}", response_model=ProjectPublic)
async def get_project(
    project_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> Project:
    return await PromptService(session, principal).get_project(project_id)
