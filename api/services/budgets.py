"""Per-project budgets: limits (USD and tokens per UTC day and month), their usage, and the
reservation every model call makes BEFORE it reaches the provider.

Protocol of one request (see :class:`BudgetGuard`):

1. ``reserve``: ONE statement, committed on its own before the provider call (so concurrent
   requests see it at once), for every period with a limit: ``INSERT ... ON CONFLICT DO UPDATE
   SET reserved += x WHERE spent + reserved + x <= limit RETURNING period`` (a new period's row
   is created holding the reservation). If a period refuses, what the others took is given back
   at once and :class:`BudgetExceeded` (HTTP 429) names the budget.
2. ``settle`` after the call: reserved -= reservation, spent += the provider's reported usage,
   one statement per period. On success it runs with the run record (the request's transaction,
   or the hot path's batch) and commits with it; ``release`` (provider failure) commits alone.

The statements that commit alone run on the request's own autocommit connection on the hot
path (:class:`promptops.db.driver.RequestConnection`), else on a pool of their own
(:func:`promptops.db.driver.side_pool`): a request holds its session's connection while it
reserves, so drawing the reservation's connection from the sessions' pool would deadlock once
every pooled connection belongs to a waiting request (50 concurrent requests against a pool of
30 do exactly that). The guard itself is :class:`promptops.llm.budgets.guard.BudgetGuard`, shared with
the evaluation activities.

Spend can exceed a limit only if a provider reports more than the reserved maximum (the prompt
side is an estimate, see ``promptops.llm.budgets.bounds``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal
from api.errors import APIError
from api.schemas.budgets import BudgetUpdate
from api.services.identity import record_audit
from api.services.prompts import PromptService
from promptops.db.models import ProjectBudget, Role
from promptops.db.repositories import BudgetRepository
from promptops.llm.budgets.bounds import (
    period_end,
    period_start,
)
from promptops.llm.budgets.guard import PERIOD_FIELDS, BudgetExhausted, Reservation
from promptops.llm.budgets.guard import BudgetGuard as _CoreGuard

LIMIT_FIELDS = ("daily_usd", "monthly_usd", "daily_tokens", "monthly_tokens")


class BudgetExceeded(APIError):
    """A request whose maximum usage does not fit in one of its project's budgets (429)."""

    status_code = 429


class BudgetGuard(_CoreGuard):
    """:class:`promptops.llm.budgets.guard.BudgetGuard` answering 429 (:class:`BudgetExceeded`)."""

    async def reserve(self, *args: Any, **kwargs: Any) -> Reservation | None:
        try:
            return await super().reserve(*args, **kwargs)
        except BudgetExhausted as exc:
            raise BudgetExceeded(str(exc)) from exc


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
            usage.append({
                "period": period.value, "period_start": start,
                "period_end": period_end(period, start),
                "spent_usd": float(spent_usd), "reserved_usd": float(reserved_usd),
                "spent_tokens": spent_tokens, "reserved_tokens": reserved_tokens,
                "limit_usd": None if limit_usd is None else float(limit_usd),
                "limit_tokens": limit_tokens,
                "remaining_usd": None if limit_usd is None else float(
                    max(Decimal(0), limit_usd - spent_usd - reserved_usd)),
                "remaining_tokens": None if limit_tokens is None else max(
                    0, limit_tokens - spent_tokens - reserved_tokens),
            })
        return {"project_id": project_id,
                **{f: (None if v is None else (float(v) if isinstance(v, Decimal) else v))
                   for f, v in limits.items()},
                "updated_at": budget.updated_at if budget else None,
                "updated_by": budget.updated_by if budget else None,
                "usage": usage}

    async def put(self, project_id: uuid.UUID, data: BudgetUpdate) -> dict[str, Any]:
        """Replace the project's limits (Admin; 403 otherwise). Audited as ``budget.update``."""
        self.principal.require(Role.ADMIN)
        await PromptService(self.session, self.principal).get_project(project_id)
        before = await self.budgets.get(project_id)
        before_summary = _summary(before) if before is not None else None
        after = await self.budgets.put(project_id, data.model_dump(), self.principal.actor)
        await record_audit(self.session, self.principal, "budget.update", "project_budget",
                           project_id, before=before_summary, after=_summary(after))
        return await self.get(project_id)
