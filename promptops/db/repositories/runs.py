from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.driver import execute
from promptops.db.models import (
    Feedback,
    Outcome,
    Project,
    Run,
)
from promptops.db.models.base import plain_record

#: (attribute, column) of every column of ``runs``.
_RUN_COLUMNS = tuple((c.key, c.name) for c in Run.__table__.columns)


#: A run as the request path writes it: the ``runs`` columns as plain attributes (None = the
#: column's default).
RunRecord = plain_record(Run)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class RunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, run: Any) -> Any:
        """Insert ``run`` (a ``Run`` or a :data:`RunRecord`) with one raw statement on the session's psycopg connection, in its
        transaction (the request path's cheap way, :mod:`promptops.db.driver`; batched inside
        :func:`promptops.db.driver.atomic`); the object is not attached to the session.
        Columns left None take their defaults (``created_at`` stays None on the object).

        The row travels as ONE JSON document (``jsonb_populate_record(NULL::runs, ...)`` casts
        each member to its column's type): one parameter to bind instead of twenty, which
        matters most when a batch binds them client-side."""
        values = {name: value for key, name in _RUN_COLUMNS
                  if (value := getattr(run, key, None)) is not None}
        names = ", ".join(values)
        sql = (f"INSERT INTO runs ({names}) SELECT {names} "
               "FROM jsonb_populate_record(NULL::runs, %(row)s::jsonb)")
        await execute(self.session, sql,
                      {"row": orjson.dumps(values, default=_json_default).decode()})
        return run

    async def get(self, run_id: uuid.UUID, organization_id: uuid.UUID,
                  project_id: uuid.UUID | None = None) -> Run | None:
        q = (select(Run).join(Project, Project.id == Run.project_id)
             .where(Run.id == run_id, Project.organization_id == organization_id))
        if project_id is not None:
            q = q.where(Project.id == project_id)
        return (await self.session.execute(q)).scalar_one_or_none()

    async def latest_run_of_subject(self, project_id: uuid.UUID, subject_id: str) -> Run | None:
        return (await self.session.execute(
            select(Run).where(Run.project_id == project_id, Run.subject_id == subject_id)
            .order_by(Run.created_at.desc()).limit(1)
        )).scalar_one_or_none()

    async def add_feedback(self, feedback: Feedback) -> Feedback:
        self.session.add(feedback)
        await self.session.flush()
        return feedback

    async def add_outcome(self, outcome: Outcome) -> Outcome:
        self.session.add(outcome)
        await self.session.flush()
        return outcome

    async def feedback_of_run(self, run_id: uuid.UUID) -> Sequence[Feedback]:
        return (await self.session.execute(
            select(Feedback).where(Feedback.run_id == run_id).order_by(Feedback.created_at)
        )).scalars().all()
