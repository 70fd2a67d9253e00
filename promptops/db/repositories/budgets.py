"""SQL of budgets: limits per project and usage rows per (project, period, period_start).

:class:`BudgetRepository` is the limits' administration (ORM, the API's unit of work);
:class:`BudgetLedger` the usage rows every model call reserves and settles (raw SQL on the
call's autocommit connection, :mod:`promptops.db.connection`).

Reservations are race-free without explicit locks: :meth:`BudgetLedger.reserve` is one
``INSERT ... ON CONFLICT DO UPDATE ... WHERE spent + reserved + x <= limit RETURNING``; Postgres
takes the row lock and re-evaluates the condition on the newest row version, so concurrent
requests serialize on the usage row and the sum can never pass the limit.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.connection import SQL
from promptops.db.models import BudgetUsage, ProjectBudget


class BudgetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, project_id: uuid.UUID) -> ProjectBudget | None:
        return await self.session.get(ProjectBudget, project_id, populate_existing=True)

    async def put(self, project_id: uuid.UUID, limits: dict[str, Any], actor: str) -> ProjectBudget:
        """Insert or replace the project's limits (keys: daily_usd, monthly_usd, daily_tokens,
        monthly_tokens; None = unlimited)."""
        values = {**limits, "updated_by": actor}
        stmt = insert(ProjectBudget).values(project_id=project_id, **values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[ProjectBudget.project_id],
            set_={**values, "updated_at": stmt.excluded.updated_at},
        )
        await self.session.execute(stmt)
        row = await self.get(project_id)
        assert row is not None
        return row

    async def usage(self, project_id: uuid.UUID, period: str, start: date) -> BudgetUsage | None:
        return (
            await self.session.execute(
                select(BudgetUsage)
                .where(
                    BudgetUsage.project_id == project_id,
                    BudgetUsage.period == period,
                    BudgetUsage.period_start == start,
                )
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()


_SETTLE = (
    "UPDATE budget_usage SET reserved_usd = reserved_usd - %(ru)s, "
    "reserved_tokens = reserved_tokens - %(rt)s, spent_usd = spent_usd + %(su)s, "
    "spent_tokens = spent_tokens + %(st)s "
    "WHERE project_id = %(project)s AND period = %(period)s AND period_start = %(start)s"
)


_USAGE = (
    "SELECT spent_usd, reserved_usd, spent_tokens, reserved_tokens FROM budget_usage "
    "WHERE project_id = %(project)s AND period = %(period)s AND period_start = %(start)s"
)


class BudgetLedger:
    """The usage rows of model calls: reserve before the provider call, settle after."""

    def __init__(self, db: SQL) -> None:
        self.db = db

    async def reserve(
        self,
        project_id: uuid.UUID,
        periods: list[tuple[str, date, Decimal | None, int | None]],
        *,
        usd: Decimal,
        tokens: int,
    ) -> set[str]:
        """Reserve ``usd`` / ``tokens`` in every period ``(period, start, limit_usd,
        limit_tokens)`` with ONE statement: ``INSERT ... ON CONFLICT DO UPDATE ... WHERE spent
        + reserved + x <= limit RETURNING period``. A missing row is created holding the
        reservation (the caller has checked that it fits an empty period); an existing row is
        only updated when it stays within its limits. Returns the periods reserved: when not
        all of them were, the caller gives the others back with :meth:`settle`."""
        # Rows are locked in VALUES order: sorted, the same order settle uses.
        periods = sorted(periods, key=lambda p: (p[0], p[1]))
        params: dict[str, Any] = {"project": project_id, "usd": usd, "tokens": tokens}
        values, usd_cases, token_cases = [], [], []
        for i, (period, start, limit_usd, limit_tokens) in enumerate(periods):
            params.update(
                {f"p{i}": period, f"s{i}": start, f"lu{i}": limit_usd, f"lt{i}": limit_tokens}
            )
            values.append(f"(%(project)s, %(p{i})s, %(s{i})s, 0, %(usd)s, 0, %(tokens)s)")
            usd_cases.append(f"WHEN %(p{i})s THEN %(lu{i})s::numeric")
            token_cases.append(f"WHEN %(p{i})s THEN %(lt{i})s::bigint")
        limit_usd_sql = f"(CASE u.period {' '.join(usd_cases)} END)"
        limit_tokens_sql = f"(CASE u.period {' '.join(token_cases)} END)"
        sql = (
            "INSERT INTO budget_usage AS u (project_id, period, period_start, spent_usd, "
            "reserved_usd, spent_tokens, reserved_tokens) VALUES "
            + ", ".join(values)
            + " ON CONFLICT (project_id, period, period_start) DO UPDATE SET "
            "reserved_usd = u.reserved_usd + EXCLUDED.reserved_usd, "
            "reserved_tokens = u.reserved_tokens + EXCLUDED.reserved_tokens "
            f"WHERE ({limit_usd_sql} IS NULL OR u.spent_usd + u.reserved_usd "
            f"+ EXCLUDED.reserved_usd <= {limit_usd_sql}) "
            f"AND ({limit_tokens_sql} IS NULL OR u.spent_tokens + u.reserved_tokens "
            f"+ EXCLUDED.reserved_tokens <= {limit_tokens_sql}) RETURNING u.period"
        )
        return {row[0] for row in await self.db.fetchall(sql, params)}

    async def settle(
        self,
        project_id: uuid.UUID,
        periods: list[tuple[str, date]],
        *,
        reserved_usd: Decimal,
        reserved_tokens: int,
        spent_usd: Decimal,
        spent_tokens: int,
    ) -> None:
        """Replace a reservation by the actual usage in every period: one statement per
        period, always in the same order (day before month) as :meth:`reserve` locks them (a
        single UPDATE would lock the rows in physical order, which changes as rows are
        rewritten, and two calls could then deadlock). Fetches nothing (batchable)."""
        for period, start in sorted(periods):
            await self.db.execute(
                _SETTLE,
                {
                    "ru": reserved_usd,
                    "rt": reserved_tokens,
                    "su": spent_usd,
                    "st": spent_tokens,
                    "project": project_id,
                    "period": period,
                    "start": start,
                },
            )

    async def usage(
        self, project_id: uuid.UUID, period: str, start: date
    ) -> tuple[Decimal, Decimal, int, int] | None:
        """``(spent_usd, reserved_usd, spent_tokens, reserved_tokens)`` of one period, or
        None when nothing was reserved in it yet."""
        row = await self.db.fetchone(
            _USAGE, {"project": project_id, "period": period, "start": start}
        )
        return None if row is None else (row[0], row[1], int(row[2]), int(row[3]))

    async def project_name(self, project_id: uuid.UUID) -> str | None:
        """The project's name (for messages naming its budget)."""
        row = await self.db.fetchone(
            "SELECT name FROM projects WHERE id = %(p)s", {"p": project_id}
        )
        return None if row is None else str(row[0])
