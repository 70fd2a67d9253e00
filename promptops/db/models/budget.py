from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Numeric,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base


class ProjectBudget(Base):
    """A project's budgets: USD and tokens (prompt + completion) per UTC day and month. A
    NULL limit means unlimited."""

    __tablename__ = "project_budgets"
    __table_args__ = (
        CheckConstraint("daily_usd IS NULL OR daily_usd >= 0", name="daily_usd_nonneg"),
        CheckConstraint("monthly_usd IS NULL OR monthly_usd >= 0", name="monthly_usd_nonneg"),
        CheckConstraint("daily_tokens IS NULL OR daily_tokens >= 0", name="daily_tokens_nonneg"),
        CheckConstraint(
            "monthly_tokens IS NULL OR monthly_tokens >= 0", name="monthly_tokens_nonneg"
        ),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    daily_usd: Mapped[Decimal | None] = mapped_column(Numeric(20, 10), nullable=True)
    monthly_usd: Mapped[Decimal | None] = mapped_column(Numeric(20, 10), nullable=True)
    daily_tokens: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    monthly_tokens: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class BudgetUsage(Base):
    """Usage of one project in one period (``day`` or ``month``, starting ``period_start``,
    UTC): ``spent_*`` settled from providers' reported usage, ``reserved_*`` held by requests
    in flight (their maximum usage). USD in US dollars, tokens prompt + completion."""

    __tablename__ = "budget_usage"
    __table_args__ = (CheckConstraint("period IN ('day', 'month')", name="period"),)

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    spent_usd: Mapped[Decimal] = mapped_column(
        Numeric(20, 10), default=Decimal(0), server_default="0"
    )
    reserved_usd: Mapped[Decimal] = mapped_column(
        Numeric(20, 10), default=Decimal(0), server_default="0"
    )
    spent_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    reserved_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
