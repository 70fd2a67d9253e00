"""Per-project budgets (USD and tokens per UTC day and month) and their current usage."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from api.deps import AdminPrincipal, CurrentPrincipal, SessionDep
from api.schemas.budgets import BudgetPublic, BudgetUpdate
from api.schemas.common import ERROR_RESPONSES
from api.services.budgets import BudgetService

router = APIRouter(tags=["budgets"], responses=ERROR_RESPONSES)


@router.get("/projects/{project_id}/budgets", response_model=BudgetPublic)
async def get_budgets(
    project_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """The project's limits (null = unlimited) and, per period (``day``, ``month``; UTC), the
    USD and tokens spent, reserved by requests in flight, and remaining. 404 for a project
    outside the caller's scope."""
    return await BudgetService(session, principal).get(project_id)


@router.put("/projects/{project_id}/budgets", response_model=BudgetPublic)
async def put_budgets(
    project_id: uuid.UUID, body: BudgetUpdate, session: SessionDep, principal: AdminPrincipal
) -> dict[str, Any]:
    """Set the project's budgets (Admin): ``{daily_usd, monthly_usd, daily_tokens,
    monthly_tokens}``, each >= 0 or null/missing for unlimited; replaces all four. Requests
    whose maximum usage would pass a limit get 429 before reaching the provider. 403 below
    Admin, 404 for a project outside the caller's scope, 422 for a negative limit."""
    return await BudgetService(session, principal).put(project_id, body)
