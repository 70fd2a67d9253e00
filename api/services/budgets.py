"""Per-project budgets: limits (USD and tokens per UTC day and month), their usage, and the
reservation every model call makes BEFORE it reaches the provider.

Protocol of one request (see :class:`BudgetGuard`):

1. ``reserve``: in its own short transaction (a session apart from the request's, so that
   concurrent requests see it as soon as it commits), ONE statement for every period with a
   limit: ``INSERT ... ON CONFLICT DO UPDATE SET reserved += x WHERE spent + reserved + x <=
   limit RETURNING period`` (a new period's row is created holding the reservation). If any
   period refuses, the transaction rolls back and :class:`BudgetExceeded` (HTTP 429) names the
   budget.
2. ``settle`` after the call: reserved -= reservation, spent += the provider's reported usage,
   one statement. On success it runs in the request's own transaction, so it commits with the
   run record; ``release`` (provider failure) runs in a transaction of its own.

Budget transactions use a pool of their own (:func:`budget_engine`): a request holds its
request session's connection while it reserves, so drawing the reservation's connection from
the same pool would deadlock once every pooled connection belongs to a waiting request (50
concurrent requests against a pool of 30 do exactly that).

Spend can exceed a limit only if a provider reports more than the reserved maximum (the prompt
side is an estimate, see ``promptops.budgets``).
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from api.deps import Principal
from api.errors import APIError
from api.schemas.budgets import BudgetUpdate
from api.services.identity import record_audit
from api.services.prompts import PromptService
from promptops.budgets import (
    Period,
    Usage,
    completion_token_bound,
    estimate_prompt_tokens,
    max_usage,
    period_end,
    period_start,
)
from promptops.db.driver import side_pool
from promptops.db.models import BudgetUsage, Project, ProjectBudget, Role
from promptops.db.repositories import BudgetRepository
from promptops.db.repositories.budgets import reserve_periods_on, settle_periods_on
from promptops.db.repositories.serving import BudgetLimits
from promptops.gateway import ModelEntry

LIMIT_FIELDS = ("daily_usd", "monthly_usd", "daily_tokens", "monthly_tokens")
_PERIOD_FIELDS = {Period.DAY: ("daily_usd", "daily_tokens"),
                  Period.MONTH: ("monthly_usd", "monthly_tokens")}
_PERIOD_WORD = {Period.DAY: "daily", Period.MONTH: "monthly"}
#: Connections of the budget pool: its transactions are a few statements long.
BUDGET_POOL_SIZE = 5
BUDGET_POOL_OVERFLOW = 5
#: Connections are replaced after this many seconds. No pre-ping: it would cost a round trip
#: per transaction; a connection the server dropped fails one transaction and is discarded.
POOL_RECYCLE_S = 1800

_engines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncEngine]] = (
    weakref.WeakKeyDictionary())


def budget_engine(bind: Any) -> AsyncEngine:
    """The budget pool for the database of ``bind`` (an engine or connection), one per URL
    and event loop (async connections belong to the loop that opened them)."""
    url = bind.engine.url if hasattr(bind, "engine") else bind.url
    key = url.render_as_string(hide_password=False)
    per_loop = _engines.setdefault(asyncio.get_running_loop(), {})
    engine = per_loop.get(key)
    if engine is None:
        engine = per_loop[key] = create_async_engine(
            url, pool_size=BUDGET_POOL_SIZE, max_overflow=BUDGET_POOL_OVERFLOW,
            pool_recycle=POOL_RECYCLE_S)
    return engine


class BudgetExceeded(APIError):
    """A request whose maximum usage does not fit in one of its project's budgets (429)."""

    status_code = 429


def format_usd(value: Decimal) -> str:
    """USD for messages: at least 2 and at most 8 decimals, trailing zeros dropped."""
    text = f"{value:.8f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _limits(budget: ProjectBudget | None) -> dict[str, Any]:
    return {f: (getattr(budget, f) if budget is not None else None) for f in LIMIT_FIELDS}


def _summary(budget: ProjectBudget | None) -> dict[str, Any]:
    """Limits as JSON for the audit log (USD as strings: exact)."""
    return {f: (None if v is None else str(v)) for f, v in _limits(budget).items()}


class _Incomplete(Exception):
    """A period refused the reservation: the transaction must roll back."""


@dataclass(frozen=True)
class Reservation:
    """Usage reserved in each period (``(period, period_start)``) of one request."""

    project_id: uuid.UUID
    periods: tuple[tuple[str, date], ...]
    usage: Usage


class BudgetGuard:
    """Reserves, settles and releases usage in transactions of their own, on sessions of the
    budget pool (:func:`budget_engine`) for the request session's database."""

    def __init__(self, session: AsyncSession) -> None:
        self.request_session = session
        self.bind = session.bind

    def _session(self) -> AsyncSession:
        return AsyncSession(bind=budget_engine(self.bind), expire_on_commit=False)

    async def reserve(self, project_id: uuid.UUID, entry: ModelEntry | Sequence[ModelEntry],
                      messages: Sequence[Mapping[str, Any]], max_tokens: int | None, *,
                      attempts: int = 1, limits: BudgetLimits | None = None,
                      now: datetime | None = None) -> Reservation | None:
        """Reserve the request's maximum usage in every limited period of the project.

        ``entry`` may list every model the call may reach (fallbacks, a routing policy's
        candidates): the most expensive one is reserved for. ``attempts`` multiplies the bound
        (a structured-output call may ask the provider that many times).
        Returns None when the project has no limit (nothing reserved). Raises
        :class:`BudgetExceeded` (429, nothing reserved) when a period would overflow."""
        # Limits are read on the request's own connection (or given, read with the serving
        # query): the common unlimited case then costs no second connection.
        budget: Any = limits
        if budget is None:
            budget = await BudgetRepository(self.request_session).get(project_id)
        limited = [(period, getattr(budget, usd_field), getattr(budget, tokens_field))
                  for period, (usd_field, tokens_field) in _PERIOD_FIELDS.items()
                  if budget is not None and (getattr(budget, usd_field) is not None
                                             or getattr(budget, tokens_field) is not None)]
        if not limited:
            return None
        usage = request_bound(entry, messages, max_tokens, attempts)
        periods = [(period.value, period_start(period, now), limit_usd, limit_tokens)
                   for period, limit_usd, limit_tokens in limited]
        fits_empty = all((lu is None or usage.usd <= lu) and (lt is None or usage.tokens <= lt)
                         for _, _, lu, lt in periods)
        reserved: set[str] = set()
        if fits_empty:
            pool = await side_pool(self.bind)
            try:
                async with pool.connection() as conn:
                    reserved = await reserve_periods_on(conn, project_id, periods,
                                                        usd=usage.usd, tokens=usage.tokens)
                    if len(reserved) != len(periods):
                        raise _Incomplete  # rolls the partial reservation back
            except _Incomplete:
                pass
        if len(reserved) != len(periods):
            async with self._session() as session:
                repo = BudgetRepository(session)
                for period, limit_usd, limit_tokens in limited:
                    if period.value in reserved:
                        continue
                    row = await repo.usage(project_id, period.value, period_start(period, now))
                    used_usd = (row.spent_usd + row.reserved_usd) if row else Decimal(0)
                    used_tokens = (row.spent_tokens + row.reserved_tokens) if row else 0
                    if ((limit_usd is None or used_usd + usage.usd <= limit_usd)
                            and (limit_tokens is None
                                 or used_tokens + usage.tokens <= limit_tokens)):
                        continue  # this period had room: another one refused
                    project = await session.get(Project, project_id)
                    raise BudgetExceeded(_exhausted(
                        period, project.name if project else str(project_id), row, usage,
                        limit_usd, limit_tokens))
            raise BudgetExceeded(f"the budget of project {project_id} has no room for this "
                                 "request (another request took it meanwhile); retry")
        return Reservation(project_id, tuple((p, start) for p, start, _, _ in periods), usage)

    async def settle(self, reservation: Reservation, *, usd: Decimal, tokens: int) -> None:
        """Replace the reservation by the actual usage (``usd`` in USD, ``tokens`` prompt +
        completion as the provider reported them)."""
        pool = await side_pool(self.bind)
        async with pool.connection() as conn:
            await settle_periods_on(conn, reservation.project_id, list(reservation.periods),
                                    reserved_usd=reservation.usage.usd,
                                    reserved_tokens=reservation.usage.tokens,
                                    spent_usd=usd, spent_tokens=tokens)

    async def settle_in(self, session: AsyncSession, reservation: Reservation, *, usd: Decimal,
                        tokens: int) -> None:
        """:meth:`settle` as one statement in ``session``'s transaction (the request's, so
        the settlement commits with the run record; the row stays locked until it does)."""
        await BudgetRepository(session).settle_periods(
            reservation.project_id, list(reservation.periods),
            reserved_usd=reservation.usage.usd, reserved_tokens=reservation.usage.tokens,
            spent_usd=usd, spent_tokens=tokens)

    async def release(self, reservation: Reservation) -> None:
        """Give the reservation back (the call failed: nothing was spent)."""
        await self.settle(reservation, usd=Decimal(0), tokens=0)


#: Prompt tokens a structured-output retry adds besides the previous answer: the fed-back
#: validation error (bounded to a few hundred characters by promptops.structured).
FEEDBACK_TOKENS = 200


def request_bound(entry: ModelEntry | Sequence[ModelEntry], messages: Sequence[Mapping[str, Any]],
                  max_tokens: int | None, attempts: int = 1) -> Usage:
    """The most a request can use over ``attempts`` calls at the most expensive of ``entry``:
    call k (1-based) sends the prompt estimate plus (k - 1) x (completion bound +
    :data:`FEEDBACK_TOKENS`) (earlier answers and their errors fed back) and may receive the
    completion bound; each call is priced by ``promptops.budgets.max_usage``."""
    entries = [entry] if isinstance(entry, ModelEntry) else list(entry)
    prompt_tokens = estimate_prompt_tokens(messages)
    completion = completion_token_bound(max_tokens)
    total = Usage(tokens=0, usd=Decimal(0))
    for k in range(max(1, attempts)):
        prompt_k = prompt_tokens + k * (completion + FEEDBACK_TOKENS)
        worst = max((max_usage(prompt_k, max_tokens, e.input_cost_per_token,
                               e.output_cost_per_token) for e in entries),
                    key=lambda u: (u.usd, u.tokens))
        total = Usage(tokens=total.tokens + worst.tokens, usd=total.usd + worst.usd)
    return total


def _exhausted(period: Period, project: str, row: BudgetUsage | None, usage: Usage,
               limit_usd: Decimal | None, limit_tokens: int | None) -> str:
    word = _PERIOD_WORD[period]
    spent_usd = row.spent_usd if row else Decimal(0)
    reserved_usd = row.reserved_usd if row else Decimal(0)
    if limit_usd is not None and spent_usd + reserved_usd + usage.usd > limit_usd:
        return (f"{word} USD budget of project {project!r} exhausted: spent "
                f"{format_usd(spent_usd)} + reserved {format_usd(reserved_usd)} + this "
                f"request's max {format_usd(usage.usd)} > {format_usd(limit_usd)}")
    spent_tokens = row.spent_tokens if row else 0
    reserved_tokens = row.reserved_tokens if row else 0
    return (f"{word} token budget of project {project!r} exhausted: spent {spent_tokens} + "
            f"reserved {reserved_tokens} + this request's max {usage.tokens} > {limit_tokens}")


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
        for period, (usd_field, tokens_field) in _PERIOD_FIELDS.items():
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
