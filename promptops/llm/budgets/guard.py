"""The budget protocol of every model call (the pipeline's budget stage runs it):

1. ``reserve`` BEFORE the provider call: the call's maximum usage (:func:`request_bound`) in
   every period with a limit, ONE statement committed on its own (the call's autocommit
   connection), so concurrent calls see it at once. If a period refuses, what the others took is
   given back at once and :class:`promptops.errors.BudgetExceeded` (HTTP 429) names the budget.
2. ``settle`` after the call: reserved -= reservation, spent += the provider's reported usage.
   On success it is sent inside the run record's ``atomic`` batch and commits with it;
   ``release`` (provider failure) commits alone.

Spend can exceed a limit only if a provider reports more than the reserved maximum (the prompt
side is an estimate, see :mod:`promptops.llm.budgets.bounds`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from promptops.db.connection import SQL
from promptops.db.repositories.budgets import BudgetLedger
from promptops.db.repositories.serving import BudgetLimits
from promptops.errors import BudgetExceeded
from promptops.llm.budgets.bounds import (
    DEFAULT_MAX_TOKENS,
    PERIOD_FIELDS,
    Period,
    Usage,
    completion_token_bound,
    estimate_prompt_tokens,
    max_usage,
    period_start,
)
from promptops.llm.catalog import ModelEntry

_PERIOD_WORD = {Period.DAY: "daily", Period.MONTH: "monthly"}


def format_usd(value: Decimal) -> str:
    """USD for messages: at least 2 and at most 8 decimals, trailing zeros dropped."""
    text = f"{value:.8f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


@dataclass(frozen=True)
class Reservation:
    """Usage reserved in each period (``(period, period_start)``) of one call."""

    project_id: uuid.UUID
    periods: tuple[tuple[str, date], ...]
    usage: Usage


class BudgetGuard:
    """Reserves, settles and releases a project's usage on ``db`` (a model call's autocommit
    connection: each statement commits on its own unless sent inside its ``atomic`` block)."""

    def __init__(self, db: SQL) -> None:
        self.ledger = BudgetLedger(db)

    async def reserve(
        self,
        project_id: uuid.UUID,
        entry: ModelEntry | Sequence[ModelEntry],
        messages: Sequence[Mapping[str, Any]],
        max_tokens: int | None,
        *,
        limits: BudgetLimits,
        attempts: int = 1,
        now: datetime | None = None,
    ) -> Reservation | None:
        """Reserve the call's maximum usage in every limited period of the project.

        ``entry`` may list every model the call may reach (fallbacks, a routing policy's
        candidates): the most expensive one is reserved for. ``attempts`` multiplies the bound
        (a structured-output call may ask the provider that many times). Returns None when the
        project has no limit (nothing reserved, no statement sent). Raises
        :class:`promptops.errors.BudgetExceeded` (nothing reserved) when a period would
        overflow; its message names the budget."""
        limited = [
            (period, getattr(limits, usd_field), getattr(limits, tokens_field))
            for period, (usd_field, tokens_field) in PERIOD_FIELDS.items()
            if getattr(limits, usd_field) is not None or getattr(limits, tokens_field) is not None
        ]
        if not limited:
            return None
        usage = request_bound(entry, messages, max_tokens, attempts)
        periods = [
            (period.value, period_start(period, now), limit_usd, limit_tokens)
            for period, limit_usd, limit_tokens in limited
        ]
        fits_empty = all(
            (lu is None or usage.usd <= lu) and (lt is None or usage.tokens <= lt)
            for _, _, lu, lt in periods
        )
        reserved: set[str] = set()
        if fits_empty:
            reserved = await self.ledger.reserve(
                project_id, periods, usd=usage.usd, tokens=usage.tokens
            )
            if reserved and len(reserved) != len(periods):
                # Some period refused: give back the ones the statement took. Meanwhile the
                # budget looked fuller than it is, never emptier: no overspend.
                await self.ledger.settle(
                    project_id,
                    [(p, s) for p, s, _, _ in periods if p in reserved],
                    reserved_usd=usage.usd,
                    reserved_tokens=usage.tokens,
                    spent_usd=Decimal(0),
                    spent_tokens=0,
                )
                reserved = set()
        if len(reserved) != len(periods):
            raise BudgetExceeded(await self._refusal(project_id, limited, usage, now))
        return Reservation(project_id, tuple((p, start) for p, start, _, _ in periods), usage)

    async def _refusal(
        self,
        project_id: uuid.UUID,
        limited: list[tuple[Period, Decimal | None, int | None]],
        usage: Usage,
        now: datetime | None,
    ) -> str:
        """The message naming the budget that refused (read after the refusal)."""
        for period, limit_usd, limit_tokens in limited:
            row = await self.ledger.usage(project_id, period.value, period_start(period, now))
            spent_usd, reserved_usd, spent_tokens, reserved_tokens = row or (
                Decimal(0),
                Decimal(0),
                0,
                0,
            )
            if limit_usd is not None and spent_usd + reserved_usd + usage.usd > limit_usd:
                name = await self.ledger.project_name(project_id) or str(project_id)
                return (
                    f"{_PERIOD_WORD[period]} USD budget of project {name!r} exhausted: "
                    f"spent {format_usd(spent_usd)} + reserved {format_usd(reserved_usd)}"
                    f" + this request's max {format_usd(usage.usd)} > "
                    f"{format_usd(limit_usd)}"
                )
            if (
                limit_tokens is not None
                and spent_tokens + reserved_tokens + usage.tokens > limit_tokens
            ):
                name = await self.ledger.project_name(project_id) or str(project_id)
                return (
                    f"{_PERIOD_WORD[period]} token budget of project {name!r} exhausted: "
                    f"spent {spent_tokens} + reserved {reserved_tokens} + this request's "
                    f"max {usage.tokens} > {limit_tokens}"
                )
        return (
            f"the budget of project {project_id} has no room for this request (another "
            "request took it meanwhile); retry"
        )

    async def settle(self, reservation: Reservation, *, usd: Decimal, tokens: int) -> None:
        """Replace the reservation by the actual usage (``usd`` in USD, ``tokens`` prompt +
        completion as the provider reported them)."""
        await self.ledger.settle(
            reservation.project_id,
            list(reservation.periods),
            reserved_usd=reservation.usage.usd,
            reserved_tokens=reservation.usage.tokens,
            spent_usd=usd,
            spent_tokens=tokens,
        )

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


def request_bound(
    entry: ModelEntry | Sequence[ModelEntry],
    messages: Sequence[Mapping[str, Any]],
    max_tokens: int | None,
    attempts: int = 1,
) -> Usage:
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
        worst = max(
            (
                max_usage(prompt_k, max_tokens, e.input_cost_per_token, e.output_cost_per_token)
                for e in entries
            ),
            key=lambda u: (u.usd, u.tokens),
        )
        total = Usage(tokens=total.tokens + worst.tokens, usd=total.usd + worst.usd)
    return total
