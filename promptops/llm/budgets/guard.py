"""The budget reservation every model call makes BEFORE it reaches the provider (protocol in
:mod:`api.services.budgets`); shared by the API's request path and the evaluation activities.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.driver import RequestConnection, fetchone, side_pool
from promptops.db.models import BudgetUsage
from promptops.db.repositories import BudgetRepository
from promptops.db.repositories.budgets import reserve_periods_on, settle_periods_on
from promptops.db.repositories.serving import BudgetLimits
from promptops.llm import ModelEntry
from promptops.llm.budgets.bounds import (
    DEFAULT_MAX_TOKENS,
    Period,
    Usage,
    completion_token_bound,
    estimate_prompt_tokens,
    max_usage,
    period_start,
)

#: Period -> (USD limit field, token limit field) of a project's budget.
PERIOD_FIELDS = {Period.DAY: ("daily_usd", "daily_tokens"),
                  Period.MONTH: ("monthly_usd", "monthly_tokens")}
_PERIOD_WORD = {Period.DAY: "daily", Period.MONTH: "monthly"}


class BudgetExhausted(Exception):
    """A call whose maximum usage does not fit in one of its project's budgets; the message
    names the budget (the API answers 429 with it)."""


def format_usd(value: Decimal) -> str:
    """USD for messages: at least 2 and at most 8 decimals, trailing zeros dropped."""
    text = f"{value:.8f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


@dataclass(frozen=True)
class Reservation:
    """Usage reserved in each period (``(period, period_start)``) of one request."""

    project_id: uuid.UUID
    periods: tuple[tuple[str, date], ...]
    usage: Usage


_USAGE = ("SELECT spent_usd, reserved_usd, spent_tokens, reserved_tokens FROM budget_usage "
          "WHERE project_id = %(project)s AND period = %(period)s AND period_start = %(start)s")


class BudgetGuard:
    """Reserves, settles and releases usage with statements that commit on their own, apart
    from the caller's transaction (:meth:`_autocommit`: the request's own autocommit connection
    on the hot path, else :func:`promptops.db.driver.side_pool`). ``session`` reads the limits
    when the caller did not pass them. Used by the API's request path and by the evaluation
    activities, so every model call of the platform is budgeted."""

    def __init__(self, session: AsyncSession) -> None:
        self.request_session = session
        self.bind = session.bind

    async def reserve(self, project_id: uuid.UUID, entry: ModelEntry | Sequence[ModelEntry],
                      messages: Sequence[Mapping[str, Any]], max_tokens: int | None, *,
                      attempts: int = 1, limits: BudgetLimits | None = None,
                      now: datetime | None = None) -> Reservation | None:
        """Reserve the request's maximum usage in every limited period of the project.

        ``entry`` may list every model the call may reach (fallbacks, a routing policy's
        candidates): the most expensive one is reserved for. ``attempts`` multiplies the bound
        (a structured-output call may ask the provider that many times).
        Returns None when the project has no limit (nothing reserved). Raises
        :class:`BudgetExhausted` (nothing reserved) when a period would overflow; its message
        names the budget."""
        # Limits are read on the request's own connection (or given, read with the serving
        # query): the common unlimited case then costs no second connection.
        budget: Any = limits
        if budget is None:
            budget = await BudgetRepository(self.request_session).get(project_id)
        limited = [(period, getattr(budget, usd_field), getattr(budget, tokens_field))
                  for period, (usd_field, tokens_field) in PERIOD_FIELDS.items()
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
            async with self._autocommit() as conn:  # one round trip
                reserved = await reserve_periods_on(conn, project_id, periods,
                                                    usd=usage.usd, tokens=usage.tokens)
                if reserved and len(reserved) != len(periods):
                    # Some period refused: give back the ones the statement took. Meanwhile
                    # the budget looked fuller than it is, never emptier: no overspend.
                    await settle_periods_on(
                        conn, project_id, [(p, s) for p, s, _, _ in periods if p in reserved],
                        reserved_usd=usage.usd, reserved_tokens=usage.tokens,
                        spent_usd=Decimal(0), spent_tokens=0)
                    reserved = set()
        if len(reserved) != len(periods):
            # Name the budget that refused; read apart from the caller's transaction (never on
            # the sessions' pool, which a burst of refused requests could exhaust while holding
            # their own connections).
            async with self._autocommit() as conn:
                for period, limit_usd, limit_tokens in limited:
                    if period.value in reserved:
                        continue
                    row = await fetchone(conn, _USAGE, {
                        "project": project_id, "period": period.value,
                        "start": period_start(period, now)})
                    used_usd = (row[0] + row[1]) if row else Decimal(0)
                    used_tokens = (row[2] + row[3]) if row else 0
                    if ((limit_usd is None or used_usd + usage.usd <= limit_usd)
                            and (limit_tokens is None
                                 or used_tokens + usage.tokens <= limit_tokens)):
                        continue  # this period had room: another one refused
                    name = await fetchone(conn, "SELECT name FROM projects WHERE id = %(p)s",
                                          {"p": project_id})
                    usage_row = (BudgetUsage(spent_usd=row[0], reserved_usd=row[1],
                                             spent_tokens=row[2], reserved_tokens=row[3])
                                 if row else None)
                    raise BudgetExhausted(_exhausted(
                        period, name[0] if name else str(project_id), usage_row, usage,
                        limit_usd, limit_tokens))
            raise BudgetExhausted(f"the budget of project {project_id} has no room for this "
                                  "request (another request took it meanwhile); retry")
        return Reservation(project_id, tuple((p, start) for p, start, _, _ in periods), usage)

    @asynccontextmanager
    async def _autocommit(self) -> AsyncIterator[AsyncConnection[Any]]:
        """An autocommit connection with asynchronous commits: the request's own when it has
        one (:class:`promptops.db.driver.RequestConnection`: it holds no transaction), else
        one of the side pool (a session holds its transaction's connection meanwhile)."""
        if isinstance(self.request_session, RequestConnection):
            yield await self.request_session.raw()
            return
        pool = await side_pool(self.bind)
        async with pool.connection() as conn:
            yield conn

    async def settle(self, reservation: Reservation, *, usd: Decimal, tokens: int) -> None:
        """Replace the reservation by the actual usage (``usd`` in USD, ``tokens`` prompt +
        completion as the provider reported them)."""
        async with self._autocommit() as conn:
            await settle_periods_on(conn, reservation.project_id, list(reservation.periods),
                                    reserved_usd=reservation.usage.usd,
                                    reserved_tokens=reservation.usage.tokens,
                                    spent_usd=usd, spent_tokens=tokens)

    async def settle_in(self, session: AsyncSession, reservation: Reservation, *, usd: Decimal,
                        tokens: int) -> None:
        """:meth:`settle` in ``session``'s transaction (the request's, so the settlement
        commits with the run record; the rows stay locked until it does)."""
        await BudgetRepository(session).settle_periods(
            reservation.project_id, list(reservation.periods),
            reserved_usd=reservation.usage.usd, reserved_tokens=reservation.usage.tokens,
            spent_usd=usd, spent_tokens=tokens)

    async def release(self, reservation: Reservation) -> None:
        """Give the reservation back (the call failed: nothing was spent)."""
        await self.settle(reservation, usd=Decimal(0), tokens=0)


def hold_to_bound(decoding: dict[str, Any], reservation: Reservation | None) -> None:
    """Set ``max_tokens`` in ``decoding`` (the provider request's parameters) when a
    reservation was made without one: the bound assumed ``DEFAULT_MAX_TOKENS``, and the
    provider must honour that cap for the reservation to cover the call."""
    if reservation is not None and decoding.get("max_tokens") is None:
        decoding["max_tokens"] = DEFAULT_MAX_TOKENS


#: Prompt tokens a structured-output retry adds besides the previous answer: the fed-back
#: validation error (bounded to a few hundred characters by promptops.llm.structured).
FEEDBACK_TOKENS = 200


def request_bound(entry: ModelEntry | Sequence[ModelEntry], messages: Sequence[Mapping[str, Any]],
                  max_tokens: int | None, attempts: int = 1) -> Usage:
    """The most a request can use over ``attempts`` calls at the most expensive of ``entry``:
    call k (1-based) sends the prompt estimate plus (k - 1) x (completion bound +
    :data:`FEEDBACK_TOKENS`) (earlier answers and their errors fed back) and may receive the
    completion bound; each call is priced by ``promptops.llm.budgets.bounds.max_usage``."""
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


