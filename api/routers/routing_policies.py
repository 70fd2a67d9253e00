"""Routing policies per project: a request with ``model = "policy:<name>"`` is routed by the
project's policy of that name (see :mod:`promptops.llm.routing.policy`)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from api.deps import CurrentPrincipal, EditorPrincipal, GatewayDep, SessionDep
from api.schemas.common import ERROR_RESPONSES, ShortName
from api.schemas.routing_policies import (
    RoutingDecisionPublic,
    RoutingPoliciesPublic,
    RoutingPolicyPublic,
    RoutingPolicyPut,
    RoutingPreviewRequest,
)
from api.services.routing_policies import RoutingPolicyService
from promptops.db.models import RoutingPolicy

#: A routing policy's name in the path (``routing_policies.name`` is ``VARCHAR(100)``).
PolicyName = Annotated[ShortName, Path()]

router = APIRouter(tags=["routing"], responses=ERROR_RESPONSES)
BASE = "/projects/{project_id}/routing_policies"


@router.get(BASE, response_model=RoutingPoliciesPublic)
async def list_routing_policies(
    project_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, gateway: GatewayDep
) -> dict[str, Any]:
    """The project's routing policies, by name. 404 for a project outside the caller's scope."""
    data = await RoutingPolicyService(session, principal, gateway).list(project_id)
    return {"data": data, "count": len(data)}


@router.get(BASE + "/{name}", response_model=RoutingPolicyPublic)
async def get_routing_policy(
    project_id: uuid.UUID,
    name: PolicyName,
    session: SessionDep,
    principal: CurrentPrincipal,
    gateway: GatewayDep,
) -> RoutingPolicy:
    """One policy. 404 when the project or the policy is not found."""
    return await RoutingPolicyService(session, principal, gateway).get(project_id, name)


@router.put(BASE + "/{name}", response_model=RoutingPolicyPublic)
async def put_routing_policy(
    project_id: uuid.UUID,
    name: PolicyName,
    body: RoutingPolicyPut,
    session: SessionDep,
    principal: EditorPrincipal,
    gateway: GatewayDep,
) -> RoutingPolicy:
    """Create or replace the policy ``name`` (Editor): ``{strategy: cost_first |
    quality_first | latency_first, candidates: [model, ...], fallbacks: [model, ...],
    constraints: {max_p95_latency_ms, min_quality, max_cost_usd}, description}``. 422 naming
    the field for an unknown model, a duplicate or a bad name; 403 below Editor; 404 for a
    project outside the caller's scope."""
    return await RoutingPolicyService(session, principal, gateway).put(project_id, name, body)


@router.delete(BASE + "/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_routing_policy(
    project_id: uuid.UUID,
    name: PolicyName,
    session: SessionDep,
    principal: EditorPrincipal,
    gateway: GatewayDep,
) -> Response:
    """Delete the policy (Editor). 404 when the project or the policy is not found."""
    await RoutingPolicyService(session, principal, gateway).delete(project_id, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(BASE + "/{name}/preview", response_model=RoutingDecisionPublic)
async def preview_routing_policy(
    project_id: uuid.UUID,
    name: PolicyName,
    body: RoutingPreviewRequest,
    session: SessionDep,
    principal: CurrentPrincipal,
    gateway: GatewayDep,
) -> dict[str, Any]:
    """The decision the policy would take now for a sample request (``messages``,
    ``max_tokens``): models in the order they would be tried, the reason, and every
    candidate's live figures (p95 ms, error rate, quality, estimated cost USD) with why it is
    excluded. Nothing is sent to a provider or recorded. 422 (field ``model``) when no
    candidate is eligible and there is no fallback."""
    return await RoutingPolicyService(session, principal, gateway).preview(project_id, name, body)
