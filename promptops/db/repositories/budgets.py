"""SQL of budgets: limits per project and usage rows per (project, period, period_start).

Reservations are race-free without explicit locks: :meth:`BudgetRepository.reserve` is one
conditional ``UPDATE ... WHERE spent + reserved + x <= limit RETURNING``; Postgres takes the
row lock and re-evaluates the condition on the newest row version, so concurrent requests
serialize on the usage row and the sum can never pass the limit.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Numeric, and_, case, cast, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.models import BudgetUsage, ProjectBudget


class BudgetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, project_id: uuid.UUID) -> ProjectBudget | None:
        return await self.session.get(ProjectBudget, project_id, populate_existing=True)

    async def put(self, project_id: uuid.UUID, limits: dict[str, Any],
                  actor: str) -> ProjectBudget:
        """Insert or replace the project's limits (keys: daily_usd, monthly_usd, daily_tokens,
        monthly_tokens; None = unlimited)."""
        values = {**limits, "updated_by": actor}
        stmt = insert(ProjectBudget).values(project_id=project_id, **values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[ProjectBudget.project_id],
            set_={**values, "updated_at": stmt.excluded.updated_at})
        await self.session.execute(stmt)
        row = await self.get(project_id)
        assert row is not None
        return row

    async def usage(self, project_id: uuid.UUID, period: str,
                    start: date) -> BudgetUsage | None:
        return (await self.session.execute(
            select(BudgetUsage).where(BudgetUsage.project_id == project_id,
                                      BudgetUsage.period == period,
                                      BudgetUsage.period_start == start)
            .execution_options(populate_existing=True))).scalar_one_or_none()

    async def ensure_usage(self, project_id: uuid.UUID, period: str, start: date) -> None:
        """Create the (zero) usage row of the period if it does not exist yet."""
        await self.session.execute(
            insert(BudgetUsage).values(project_id=project_id, period=period, period_start=start,
                                       spent_usd=0, reserved_usd=0, spent_tokens=0,
                                       reserved_tokens=0)
            .on_conflict_do_nothing(index_elements=["project_id", "period", "period_start"]))

    async def reserve(self, project_id: uuid.UUID, period: str, start: date, *,
                      usd: Decimal, tokens: int, limit_usd: Decimal | None,
                      limit_tokens: int | None) -> bool:
        """Add ``usd`` / ``tokens`` to the period's reservation if spent + reserved + them stays
        within each non-None limit; False (nothing changed) otherwise. The row must exist
        (:meth:`ensure_usage`)."""
        u = BudgetUsage
        stmt = (update(u)
                .where(u.project_id == project_id, u.period == period,
                       u.period_start == start)
                .values(reserved_usd=u.reserved_usd + usd,
                        reserved_tokens=u.reserved_tokens + tokens)
                .returning(u.period))
        if limit_usd is not None:
            stmt = stmt.where(u.spent_usd + u.reserved_usd + usd <= limit_usd)
        if limit_tokens is not None:
            stmt = stmt.where(u.spent_tokens + u.reserved_tokens + tokens <= limit_tokens)
        return (await self.session.execute(stmt)).first() is not None

    async def settle(self, project_id: uuid.UUID, period: str, start: date, *,
                     reserved_usd: Decimal, reserved_tokens: int, spent_usd: Decimal,
                     spent_tokens: int) -> None:
        """Take a reservation off the period and add the actual usage (zero to release)."""
        u = BudgetUsage
        await self.session.execute(
            update(u)
            .where(u.project_id == project_id, u.period == period, u.period_start == start)
            .values(reserved_usd=u.reserved_usd - reserved_usd,
                    reserved_tokens=u.reserved_tokens - reserved_tokens,
                    spent_usd=u.spent_usd + spent_usd,
                    spent_tokens=u.spent_tokens + spent_tokens))

    async def reserve_periods(self, project_id: uuid.UUID,
                              periods: list[tuple[str, date, Decimal | None, int | None]], *,
                              usd: Decimal, tokens: int) -> set[str]:
        """Reserve ``usd`` / ``tokens`` in every period ``(period, start, limit_usd,
        limit_tokens)`` with ONE statement: ``INSERT ... ON CONFLICT DO UPDATE ... WHERE spent
        + reserved + x <= limit RETURNING period``. A missing row is created holding the
        reservation (the caller has checked that it fits an empty period); an existing row is
        only updated when it stays within its limits. Returns the periods reserved: the caller
        rolls back unless all of them were (the rows stay locked until then)."""
        u = BudgetUsage
        rows = [{"project_id": project_id, "period": period, "period_start": start,
                 "spent_usd": 0, "reserved_usd": usd, "spent_tokens": 0,
                 "reserved_tokens": tokens} for period, start, _, _ in periods]
        stmt = insert(u).values(rows)
        limit_usd = case(*[(u.period == p, cast(literal(lim), Numeric(20, 10)))
                           for p, _, lim, _ in periods], else_=None)
        limit_tokens = case(*[(u.period == p, cast(literal(lim), BigInteger))
                              for p, _, _, lim in periods], else_=None)
        stmt = stmt.on_conflict_do_update(
            index_elements=["project_id", "period", "period_start"],
            set_={"reserved_usd": u.reserved_usd + stmt.excluded.reserved_usd,
                  "reserved_tokens": u.reserved_tokens + stmt.excluded.reserved_tokens},
            where=(or_(limit_usd.is_(None),
                       u.spent_usd + u.reserved_usd + stmt.excluded.reserved_usd <= limit_usd)
                   & or_(limit_tokens.is_(None),
                         u.spent_tokens + u.reserved_tokens + stmt.excluded.reserved_tokens
                         <= limit_tokens)),
        ).returning(u.period)
        return set((await self.session.execute(stmt)).scalars().all())

    async def settle_periods(self, project_id: uuid.UUID, periods: list[tuple[str, date]], *,
                             reserved_usd: Decimal, reserved_tokens: int, spent_usd: Decimal,
                             spent_tokens: int) -> None:
        """:meth:`settle` for every period of a reservation in one statement."""
        u = BudgetUsage
        keys = [and_(u.period == p, u.period_start == start) for p, start in periods]
        await self.session.execute(
            update(u).where(u.project_id == project_id, or_(*keys))
            .values(reserved_usd=u.reserved_usd - reserved_usd,
                    reserved_tokens=u.reserved_tokens - reserved_tokens,
                    spent_usd=u.spent_usd + spent_usd,
                    spent_tokens=u.spent_tokens + spent_tokens))
