"""Approval policies and approvals of prompt versions (``ApprovalWorkflow``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from api.deps import (
    AdminPrincipal,
    CurrentPrincipal,
    EditorPrincipal,
    SessionDep,
    SettingsDep,
    TemporalClientDep,
)
from api.schemas.approvals import (
    ApprovalPolicyPublic,
    ApprovalPolicyPut,
    ApprovalPublic,
    ApprovalsPublic,
    ApprovalStarted,
    ReviewRequest,
)
from api.schemas.common import ERROR_RESPONSES, INT64_MAX, Text
from api.services.approvals import ApprovalService

router = APIRouter(tags=["approvals"], responses=ERROR_RESPONSES)


@router.get("/projects/{project_id}/approval_policy", response_model=ApprovalPolicyPublic)
async def get_approval_policy(
    project_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> dict[str, Any]:
    """The project's approval policy, defaults filled in (any role)."""
    return await ApprovalService(session, principal, None, settings).get_policy(project_id)


@router.put("/projects/{project_id}/approval_policy", response_model=ApprovalPolicyPublic)
async def put_approval_policy(
    project_id: uuid.UUID,
    body: ApprovalPolicyPut,
    session: SessionDep,
    principal: AdminPrincipal,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Replace the project's approval policy (Admin; audited with before/after). Omitted fields
    take their defaults. 422 names the field: out-of-range numbers, an unknown or non-score
    ``eval_metric``, a ``golden_dataset_id`` outside this project, ``reviewers`` who are not
    Editors/Admins of the organization. Running approvals keep the policy they started with."""
    return await ApprovalService(session, principal, None, settings).put_policy(project_id, body)


@router.post(
    "/prompt_versions/{version_id}/submit_for_approval",
    response_model=ApprovalStarted,
    status_code=status.HTTP_202_ACCEPTED,
)
async def submit_for_approval(
    version_id: uuid.UUID,
    session: SessionDep,
    principal: EditorPrincipal,
    client: TemporalClientDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Start the version's ``ApprovalWorkflow`` (Editor). Draft -> Pending; the checks of the
    project's policy run first, then reviewers decide. A second submit while it runs returns
    the same approval and starts nothing. 409 for an Approved or Rejected version."""
    return await ApprovalService(session, principal, client, settings).submit(version_id)


@router.post("/prompt_versions/{version_id}/approve", response_model=ApprovalPublic)
async def approve_version(
    version_id: uuid.UUID,
    session: SessionDep,
    principal: EditorPrincipal,
    client: TemporalClientDep,
    settings: SettingsDep,
    body: ReviewRequest | None = None,
) -> dict[str, Any]:
    """Approve as the caller (Editor/Admin), through the workflow's ``approve`` update; returns
    once the decision is recorded. 403: the caller wrote the version, or is not one of the
    policy's reviewers. 409: the caller already decided, or the approval is not waiting for
    reviews (still checking, or closed). 404: no running approval."""
    return await ApprovalService(session, principal, client, settings).decide(
        version_id, "approve", body.comment if body else ""
    )


@router.post("/prompt_versions/{version_id}/reject", response_model=ApprovalPublic)
async def reject_version(
    version_id: uuid.UUID,
    body: ReviewRequest,
    session: SessionDep,
    principal: EditorPrincipal,
    client: TemporalClientDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Reject as the caller (Editor/Admin) with a ``comment`` (422 when blank); one rejection
    rejects the version. Other errors as for ``approve``."""
    return await ApprovalService(session, principal, client, settings).decide(
        version_id, "reject", body.comment
    )


@router.get("/prompt_versions/{version_id}/approval", response_model=ApprovalPublic)
async def get_version_approval(
    version_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    client: TemporalClientDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """The version's current or last approval: live from the workflow's ``status`` query while
    it runs (``live: true``), else the stored record with every decision."""
    return await ApprovalService(session, principal, client, settings).get_for_version(version_id)


@router.get("/approvals", response_model=ApprovalsPublic)
async def list_approvals(
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    project_id: uuid.UUID | None = None,
    status: Annotated[
        Text | None,
        Query(
            max_length=20,
            description="Checking | Pending | Approved | Rejected | Expired | CheckFailed",
        ),
    ] = None,
    prompt_version_id: uuid.UUID | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=INT64_MAX),
) -> dict[str, Any]:
    """Approvals of the caller's organization, newest first (stored records)."""
    return await ApprovalService(session, principal, None, settings).list_approvals(
        project_id=project_id,
        status=status,
        prompt_version_id=prompt_version_id,
        limit=limit,
        offset=offset,
    )


@router.get("/approvals/{approval_id}", response_model=ApprovalPublic)
async def get_approval(
    approval_id: Annotated[Text, Path(max_length=200)],
    session: SessionDep,
    principal: CurrentPrincipal,
    client: TemporalClientDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """One approval by id (``approval-{version_id}-{n}``, its workflow id): live from the
    workflow's ``status`` query while it runs (``live: true``), else the stored record, with
    the prompt, version number, author, policy figures and every decision. 404 when unknown."""
    return await ApprovalService(session, principal, client, settings).get(approval_id)
