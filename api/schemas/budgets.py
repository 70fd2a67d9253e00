from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import RequestModel

#: Upper bounds that fit the columns (NUMERIC(20, 10), BIGINT); USD is stored to 1e-10.
MAX_USD = Decimal(10**9)
MAX_TOKENS = 10**18


class BudgetUpdate(RequestModel):
    """A project's limits; a missing or null limit means unlimited. USD in US dollars, tokens
    prompt + completion, per UTC calendar day / month."""

    model_config = ConfigDict(extra="forbid")

    daily_usd: Decimal | None = Field(default=None, ge=0, le=MAX_USD)
    monthly_usd: Decimal | None = Field(default=None, ge=0, le=MAX_USD)
    daily_tokens: int | None = Field(default=None, ge=0, le=MAX_TOKENS)
    monthly_tokens: int | None = Field(default=None, ge=0, le=MAX_TOKENS)


class PeriodUsage(BaseModel):
    """Usage in the current period. ``remaining_*`` = limit - spent - reserved (never below
    0), null when that budget is unlimited."""

    period: str
    period_start: date
    period_end: date
    spent_usd: float
    reserved_usd: float
    spent_tokens: int
    reserved_tokens: int
    limit_usd: float | None
    limit_tokens: int | None
    remaining_usd: float | None
    remaining_tokens: int | None


class BudgetPublic(BaseModel):
    project_id: uuid.UUID
    daily_usd: float | None = None
    monthly_usd: float | None = None
    daily_tokens: int | None = None
    monthly_tokens: int | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None
    usage: list[PeriodUsage]
