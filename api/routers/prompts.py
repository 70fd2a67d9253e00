from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, status

from api.deps import CurrentPrincipal, EditorPrincipal, SessionDep
from api.errors import Unprocessable
from api.schemas.prompts import (
    LabelMove,
    LabelPublic,
    LabelsPublic,
    PromptCreate,
    PromptPublic,
    PromptsPublic,
    PromptVersionCreate,
    PromptVersionPublic,
    PromptVersionsPublic,
    RenderPublic,
    RenderRequest,
    VersionDiff,
)
from api.services.prompts import PromptService, version_content
from promptops.db.repositories import PromptRepository
from promptops.llm.templating import TemplateError

router = APIRouter(tags=["prompts"])


@router.get("/projects/{project_id}/prompts", response_model=PromptsPublic)
async def list_prompts(project_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    await PromptService(session, principal).get_project(project_id)
    data = await PromptRepository(session).list(project_id)
    return {"data": data, "count": len(data)}


@router.post("/projects/{project_id}/prompts", response_model=PromptPublic,
             status_code=status.HTTP_201_CREATED)
async def create_prompt(project_id: uuid.UUID, body: PromptCreate, session: SessionDep,
                        principal: EditorPrincipal):
    return await PromptService(session, principal).create_prompt(project_id, body.name,
                                                                 body.description)


@router.get("/prompts/{prompt_id}", response_model=PromptPublic)
async def get_prompt(prompt_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    return await PromptService(session, principal).get_prompt(prompt_id)


@router.post("/prompts/{prompt_id}/versions", response_model=PromptVersionPublic,
             status_code=status.HTTP_201_CREATED)
async def create_version(prompt_id: uuid.UUID, body: PromptVersionCreate, session: SessionDep,
                         principal: EditorPrincipal):
    """Create an immutable version. 422 names undeclared/unused variables or syntax errors."""
    return await PromptService(session, principal).create_version(prompt_id, body)


@router.get("/prompts/{prompt_id}/versions", response_model=PromptVersionsPublic)
async def list_versions(prompt_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    await PromptService(session, principal).get_prompt(prompt_id)
    data = await PromptRepository(session).list_versions(prompt_id)
    return {"data": data, "count": len(data)}


@router.get("/prompts/{prompt_id}/diff", response_model=VersionDiff)
async def diff_versions(prompt_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                        from_version: int = Query(alias="from", ge=1),
                        to_version: int = Query(alias="to", ge=1)):
    """Unified diff of the bodies and the changed fields between two version numbers."""
    return await PromptService(session, principal).diff(prompt_id, from_version, to_version)


@router.get("/prompt_versions/{version_id}", response_model=PromptVersionPublic)
async def get_version(version_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    return await PromptService(session, principal).get_version(version_id)


@router.post("/prompt_versions/{version_id}/render", response_model=RenderPublic)
async def render_preview(version_id: uuid.UUID, body: RenderRequest, session: SessionDep,
                         principal: CurrentPrincipal):
    """Render the version's messages for the given variables without calling a model."""
    version = await PromptService(session, principal).get_version(version_id)
    try:
        return {"messages": version_content(version).render_messages(body.variables)}
    except TemplateError as exc:
        raise Unprocessable(str(exc), field=exc.field) from exc


@router.get("/prompts/{prompt_id}/labels", response_model=LabelsPublic)
async def list_labels(prompt_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    await PromptService(session, principal).get_prompt(prompt_id)
    return {"data": await PromptRepository(session).list_labels(prompt_id)}


@router.put("/prompts/{prompt_id}/labels/{name}", response_model=LabelPublic)
async def move_label(prompt_id: uuid.UUID, name: str, body: LabelMove, session: SessionDep,
                     principal: EditorPrincipal):
    """Point label ``name`` at a version (creating it); moving it back is a rollback. Audited."""
    return await PromptService(session, principal).move_label(prompt_id, name,
                                                              body.prompt_version_id)
