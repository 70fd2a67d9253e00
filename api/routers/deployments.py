"""``/api/v1/deployments``: canary rollouts of approved prompt versions
(``CanaryRolloutWorkflow``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status

from api.deps import CurrentPrincipal, EditorPrincipal, SessionDep, SettingsDep, TemporalClientDep
from api.schemas.common import ERROR_RESPONSES, INT32_MAX, Text
from api.schemas.deployments import (
    AbortRequest,
    DeploymentChecksPublic,
    DeploymentCreate,
    DeploymentPublic,
    DeploymentsPublic,
    DeploymentStarted,
    OperatorRequest,
)
from api.services.deployments import DeploymentService
from api.services.evals import temporal_ui_link

router = APIRouter(prefix="/deployments", tags=["deployments"], responses=ERROR_RESPONSES)


@router.post("", response_model=DeploymentStarted, status_code=status.HTTP_202_ACCEPTED)
async def create_deployment(
    body: DeploymentCreate,
    session: SessionDep,
    principal: EditorPrincipal,
    client: TemporalClientDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Start a canary rollout of an Approved version to ``environment`` (dev|staging|prod).

    202 with the deployment (status Pending until the workflow starts it), its workflow id
    ``canary-{id}`` and the Temporal UI link. 404: project/version not visible or not in the
    project. 409: version Rejected ("rejected versions cannot be deployed"), Draft/Pending
    ("not approved"), already served by the environment's label, or an active deployment of
    the prompt in that environment exists. 422: bad plan (``plan.steps``, ``plan.bake_time_s``,
    ...) or unknown environment.
    """
    service = DeploymentService(session, principal, client, settings)
    dep = await service.create(body)
    return {
        "deployment": (await service.described([dep]))[0],
        "workflow_id": dep.workflow_id,
        "temporal_ui_url": temporal_ui_link(settings, dep.workflow_id),
    }


@router.get("", response_model=DeploymentsPublic)
async def list_deployments(
    session: SessionDep,
    principal: CurrentPrincipal,
    client: TemporalClientDep,
    settings: SettingsDep,
    project_id: uuid.UUID | None = None,
    environment: Literal["dev", "staging", "prod"] | None = None,
    status_: Annotated[Text | None, Query(alias="status", max_length=20)] = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Deployments of the caller's organization (one project with ``project_id``), newest
    first; rows only (``GET /deployments/{id}`` adds the live status)."""
    service = DeploymentService(session, principal, client, settings)
    rows = await service.list(project_id, environment=environment, status=status_, limit=limit)
    return {"data": await service.described(rows), "count": len(rows)}


@router.get("/{deployment_id}", response_model=DeploymentPublic)
async def get_deployment(
    deployment_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    client: TemporalClientDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """The row plus, while the rollout runs, the workflow's ``status`` query in ``live``:
    step, weights {baseline, canary}, last guard figures per arm, breaches, step history."""
    service = DeploymentService(session, principal, client, settings)
    return (await service.described([await service.get(deployment_id)], with_live=True))[0]


@router.get("/{deployment_id}/checks", response_model=DeploymentChecksPublic)
async def list_deployment_checks(
    deployment_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    after: int = Query(
        0, ge=0, le=INT32_MAX, description="only checks with a higher check_index (polling)"
    ),
    limit: int = Query(1000, ge=1, le=10_000),
) -> dict[str, Any]:
    """The rollout's guard checks, oldest first: at each check the figures per arm (runs,
    error rate, p95 latency in ms, mean feedback, mean outcome, online eval score; cumulative
    over the step's bake window), the step and the canary weight, and when. Stored by the
    rollout's figures activity, one row per check (a retried activity rewrites its row), so
    they outlive the workflow; rollouts started before the table existed have none."""
    return await DeploymentService(session, principal, None, settings).checks(
        deployment_id, after_index=after, limit=limit
    )


async def _signal(
    name: str,
    deployment_id: uuid.UUID,
    reason: str,
    session: SessionDep,
    principal: EditorPrincipal,
    client: TemporalClientDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    dep = await DeploymentService(session, principal, client, settings).signal(
        deployment_id, name, reason
    )
    return {"id": dep.id, "workflow_id": dep.workflow_id, "requested": name, "status": dep.status}


@router.post("/{deployment_id}/pause", status_code=status.HTTP_202_ACCEPTED)
async def pause_deployment(
    deployment_id: uuid.UUID,
    session: SessionDep,
    principal: EditorPrincipal,
    client: TemporalClientDep,
    settings: SettingsDep,
    body: OperatorRequest | None = None,
) -> dict[str, Any]:
    """Hold the current weight and stop the bake clock (signal ``pause``). 409 when ended."""
    return await _signal(
        "pause", deployment_id, body.reason if body else "", session, principal, client, settings
    )


@router.post("/{deployment_id}/resume", status_code=status.HTTP_202_ACCEPTED)
async def resume_deployment(
    deployment_id: uuid.UUID,
    session: SessionDep,
    principal: EditorPrincipal,
    client: TemporalClientDep,
    settings: SettingsDep,
    body: OperatorRequest | None = None,
) -> dict[str, Any]:
    """Restart the bake clock where it stopped (signal ``resume``). 409 when ended."""
    return await _signal(
        "resume", deployment_id, body.reason if body else "", session, principal, client, settings
    )


async def _update(
    name: str,
    deployment_id: uuid.UUID,
    reason: str,
    session: SessionDep,
    principal: EditorPrincipal,
    client: TemporalClientDep,
    settings: SettingsDep,
    response: Response,
) -> dict[str, Any]:
    service = DeploymentService(session, principal, client, settings)
    dep, done = await service.update(deployment_id, name, reason)
    if not done:
        response.status_code = status.HTTP_202_ACCEPTED
    return (await service.described([dep]))[0]


@router.post("/{deployment_id}/promote", response_model=DeploymentPublic)
async def promote_deployment(
    deployment_id: uuid.UUID,
    session: SessionDep,
    principal: EditorPrincipal,
    client: TemporalClientDep,
    settings: SettingsDep,
    response: Response,
    body: OperatorRequest | None = None,
) -> dict[str, Any]:
    """Jump to 100% and promote now (update ``promote_now``). The eval-score gate still
    applies: 409 with its reason when the score is missing or too low, or when ended. 200 with
    the finished row; 202 if the workflow has not acted within 30 s."""
    return await _update(
        "promote_now",
        deployment_id,
        body.reason if body else "",
        session,
        principal,
        client,
        settings,
        response,
    )


@router.post("/{deployment_id}/abort", response_model=DeploymentPublic)
async def abort_deployment(
    deployment_id: uuid.UUID,
    body: AbortRequest,
    session: SessionDep,
    principal: EditorPrincipal,
    client: TemporalClientDep,
    settings: SettingsDep,
    response: Response,
) -> dict[str, Any]:
    """Stop the rollout: weight 0, status Aborted, ``reason`` recorded (update ``abort``).
    409 when already ended; 422 without a reason."""
    return await _update(
        "abort", deployment_id, body.reason, session, principal, client, settings, response
    )
