"""Per-project budgets: limits (USD and tokens per UTC day and month) and their usage. The
reservation every model call makes before it reaches the provider is the pipeline's budget
stage (:mod:`promptops.llm.budgets.guard`); this service reads and sets the limits.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal
from api.schemas.budgets import BudgetUpdate
from api.services.identity import record_audit
from api.services.prompts import PromptService
from promptops.db.models import ProjectBudget, Role
from promptops.db.repositories import BudgetRepository
from promptops.llm.budgets.bounds import PERIOD_FIELDS, period_end, period_start

LIMIT_FIELDS = ("daily_usd", "monthly_usd", "daily_tokens", "monthly_tokens")


def _limits(budget: ProjectBudget | None) -> dict[str, Any]:
    return {f: (getattr(budget, f) if budget is not None else None) for f in LIMIT_FIELDS}


def _summary(budget: ProjectBudget | None) -> dict[str, Any]:
    """Limits as JSON for the audit log (USD as strings: exact)."""
    return {f: (None if v is None else str(v)) for f, v in _limits(budget).items()}


class BudgetService:
    """Reading (any role) and setting (Admin) a project's budgets. 404 for a project outside
    the caller's organization or project scope."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.budgets = BudgetRepository(session)

    async def get(self, project_id: uuid.UUID, *, now: datetime | None = None) -> dict[str, Any]:
        """Limits plus usage of the current day and month (see ``BudgetPublic``)."""
        await PromptService(self.session, self.principal).get_project(project_id)
        budget = await self.budgets.get(project_id)
        limits = _limits(budget)
        usage = []
        for period, (usd_field, tokens_field) in PERIOD_FIELDS.items():
            start = period_start(period, now)
            row = await self.budgets.usage(project_id, period.value, start)
            spent_usd = row.spent_usd if row else Decimal(0)
            reserved_usd = row.reserved_usd if row else Decimal(0)
            spent_tokens = row.spent_tokens if row else 0
            reserved_tokens = row.reserved_tokens if row else 0
            limit_usd, limit_tokens = limits[usd_field], limits[tokens_field]
            usage.append(
                {
                    "period": period.value,
                    "period_start": start,
                    "period_end": period_end(period, start),
                    "spent_usd": float(spent_usd),
                    "reserved_usd": float(reserved_usd),
                    "spent_tokens": spent_tokens,
                    "reserved_tokens": reserved_tokens,
                    "limit_usd": None if limit_usd is None else float(limit_usd),
                    "limit_tokens": limit_tokens,
                    "remaining_usd": None
                    if limit_usd is None
                    else float(max(Decimal(0), limit_usd - spent_usd - reserved_usd)),
                    "remaining_tokens": None
                    if limit_tokens is None
                    else max(0, limit_tokens - spent_tokens - reserved_tokens),
                }
            )
        return {
            "project_id": project_id,
            **{
                f: (None if v is None else (float(v) if isinstance(v, Decimal) else v))
                for f, v in limits.items()
            },
            "updated_at": budget.updated_at if budget else None,
            "updated_by": budget.updated_by if budget else None,
            "usage": usage,
        }

    async def put(self, project_id: uuid.UUID, data: BudgetUpdate) -> dict[str, Any]:
        """Replace the project's limits (Admin; 403 otherwise). Audited as ``budget.update``."""
        self.principal.require(Role.ADMIN)
        await PromptService(self.session, self.principal).get_project(project_id)
        before = await self.budgets.get(project_id)
        before_summary = _summary(before) if before is not None else None
        after = await self.budgets.put(project_id, data.model_dump(), self.principal.actor)
        await record_audit(
            self.session,
            self.principal,
            "budget.update",
            "project_budget",
            project_id,
            before=before_summary,
            after=_summary(after),
        )
        return await self.get(project_id)
