"""Projects' prompts, immutable versions, labels (with protected labels and emergency
rollbacks), diffs and render previews."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from api.deps import AdminPrincipal, CurrentPrincipal, EditorPrincipal, SessionDep
from api.schemas.common import ERROR_RESPONSES, INT32_MAX
from api.schemas.prompts import (
    LabelHistoryPublic,
    LabelMove,
    LabelPublic,
    LabelRollback,
    LabelRollbackPublic,
    LabelsPublic,
    PromptCreate,
    PromptPublic,
    PromptsPublic,
    PromptVersionCreate,
    PromptVersionPublic,
    PromptVersionsPublic,
    ProtectedLabelsPublic,
    RenderPublic,
    RenderRequest,
    TemplatePreview,
    TemplatePreviewPublic,
    VersionDiff,
)
from api.services.prompts import PromptService, preview_template, version_content
from promptops.db.models import Label, Prompt, PromptVersion
from promptops.db.repositories import PromptRepository
from promptops.errors import InvalidInput
from promptops.llm.templating import TemplateError

router = APIRouter(tags=["prompts"], responses=ERROR_RESPONSES)

#: A label name in a path, as ``labels.name`` holds it: 1..100 characters, no control ones.
LabelName = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]


@router.get("/projects/{project_id}/prompts", response_model=PromptsPublic)
async def list_prompts(
    project_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    await PromptService(session, principal).get_project(project_id)
    data = await PromptRepository(session).list(project_id)
    return {"data": data, "count": len(data)}


@router.post(
    "/projects/{project_id}/prompts",
    response_model=PromptPublic,
    status_code=status.HTTP_201_CREATED,
)
async def create_prompt(
    project_id: uuid.UUID, body: PromptCreate, session: SessionDep, principal: EditorPrincipal
) -> Prompt:
    return await PromptService(session, principal).create_prompt(
        project_id, body.name, body.description
    )


@router.post("/prompts/render", response_model=TemplatePreviewPublic)
async def render_template(body: TemplatePreview, principal: CurrentPrincipal) -> dict[str, Any]:
    """Check and render an UNSAVED template (the prompt editor's live preview; any role):
    the messages a model would receive, every problem creating a version with this content
    would meet (syntax, variables used but not declared, declared but not used: the same
    rules, all at once, each naming its ``field``) plus variables without a value, and
    ``prompt_tokens``, an ESTIMATE (characters / 4 plus the chat format's overhead, the one
    budgets reserve), not a tokenizer's count. A bad template is answered 200 with its
    ``errors``; 422 only for a body that is not this shape."""
    return await preview_template(body)


@router.get("/prompts/{prompt_id}", response_model=PromptPublic)
async def get_prompt(
    prompt_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> Prompt:
    return await PromptService(session, principal).get_prompt(prompt_id)


@router.post(
    "/prompts/{prompt_id}/versions",
    response_model=PromptVersionPublic,
    status_code=status.HTTP_201_CREATED,
)
async def create_version(
    prompt_id: uuid.UUID, body: PromptVersionCreate, session: SessionDep, principal: EditorPrincipal
) -> PromptVersion:
    """Create an immutable version. 422 names undeclared/unused variables or syntax errors."""
    return await PromptService(session, principal).create_version(prompt_id, body)


@router.get("/prompts/{prompt_id}/versions", response_model=PromptVersionsPublic)
async def list_versions(
    prompt_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    await PromptService(session, principal).get_prompt(prompt_id)
    data: Sequence[PromptVersion] = await PromptRepository(session).list_versions(prompt_id)
    return {"data": data, "count": len(data)}


@router.get("/prompts/{prompt_id}/diff", response_model=VersionDiff)
async def diff_versions(
    prompt_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    from_version: int = Query(alias="from", ge=1, le=INT32_MAX),
    to_version: int = Query(alias="to", ge=1, le=INT32_MAX),
) -> dict[str, Any]:
    """Unified diff of the bodies and the changed fields between two version numbers
    (1..2**31 - 1). 404 when the prompt or either version does not exist."""
    return await PromptService(session, principal).diff(prompt_id, from_version, to_version)


@router.get("/prompt_versions/{version_id}", response_model=PromptVersionPublic)
async def get_version(
    version_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> PromptVersion:
    return await PromptService(session, principal).get_version(version_id)


@router.post("/prompt_versions/{version_id}/render", response_model=RenderPublic)
async def render_preview(
    version_id: uuid.UUID, body: RenderRequest, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Render the version's messages for the given variables without calling a model."""
    version = await PromptService(session, principal).get_version(version_id)
    try:
        return {"messages": version_content(version).render_messages(body.variables)}
    except TemplateError as exc:
        raise InvalidInput(str(exc), field=exc.field) from exc


@router.get("/prompts/{prompt_id}/labels", response_model=LabelsPublic)
async def list_labels(
    prompt_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """The prompt's labels, each with ``protected``."""
    return {"data": await PromptService(session, principal).list_labels(prompt_id)}


@router.put("/prompts/{prompt_id}/labels/{name}", response_model=LabelPublic)
async def move_label(
    prompt_id: uuid.UUID,
    name: LabelName,
    body: LabelMove,
    session: SessionDep,
    principal: EditorPrincipal,
) -> Label:
    """Point an unprotected label at a version (creating it); audited ``label.move``.

    409 for a protected label (``production``, and ``dev``/``staging`` where an Admin marked
    them), whoever asks: it moves through a deployment (``POST /deployments``) or an Admin's
    emergency rollback (``POST .../labels/{name}/rollback``)."""
    return await PromptService(session, principal).move_label(
        prompt_id, name, body.prompt_version_id
    )


@router.post("/prompts/{prompt_id}/labels/{name}/rollback", response_model=LabelRollbackPublic)
async def rollback_label(
    prompt_id: uuid.UUID,
    name: LabelName,
    body: LabelRollback,
    session: SessionDep,
    principal: AdminPrincipal,
) -> dict[str, Any]:
    """Emergency rollback (Admin): point protected label ``name`` back at an Approved version
    it served before (see ``.../history``), with a required ``reason``; audited
    ``label.rollback`` with the reason.

    422 for an empty ``reason``; 409 naming ``prompt_version_id`` for a version the label never
    served, one that is not Approved or the one it serves now; 409 naming the deployment while
    one of this prompt to the label's environment is active (abort it first); 409 for an
    unprotected label (PUT it)."""
    return await PromptService(session, principal).rollback_label(
        prompt_id, name, body.prompt_version_id, body.reason
    )


@router.get("/prompts/{prompt_id}/labels/{name}/history", response_model=LabelHistoryPublic)
async def label_history(
    prompt_id: uuid.UUID,
    name: LabelName,
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: int = Query(default=100, ge=1, le=1000),
) -> dict[str, Any]:
    """Every version the label pointed at, newest first (``current`` marks today's): the
    versions an emergency rollback may return to, if Approved."""
    return await PromptService(session, principal).label_history(prompt_id, name, limit)


@router.get("/projects/{project_id}/protected_labels", response_model=ProtectedLabelsPublic)
async def list_protected_labels(
    project_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """The project's protected labels: ``production`` (always) and those an Admin marked."""
    return await PromptService(session, principal).protected_labels(project_id)


@router.put("/projects/{project_id}/protected_labels/{name}", response_model=ProtectedLabelsPublic)
async def protect_label(
    project_id: uuid.UUID, name: LabelName, session: SessionDep, principal: AdminPrincipal
) -> dict[str, Any]:
    """Mark ``dev`` or ``staging`` protected in the project (Admin; idempotent; audited
    ``label.protect``). 422 (``name``) for another label: only labels deployments move can be
    protected; 409 while that label of a prompt points at a version that is not Approved."""
    return await PromptService(session, principal).protect_label(project_id, name)


@router.delete(
    "/projects/{project_id}/protected_labels/{name}", response_model=ProtectedLabelsPublic
)
async def unprotect_label(
    project_id: uuid.UUID, name: LabelName, session: SessionDep, principal: AdminPrincipal
) -> dict[str, Any]:
    """Unmark a label (Admin; idempotent; audited ``label.unprotect``). 409 for
    ``production``, protected in every project."""
    return await PromptService(session, principal).unprotect_label(project_id, name)
