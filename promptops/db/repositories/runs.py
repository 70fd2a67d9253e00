from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Row, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.connection import SQL
from promptops.db.models import (
    Feedback,
    Outcome,
    Project,
    PromptVersion,
    Run,
)
from promptops.db.models.base import plain_record

#: (attribute, column) of every column of ``runs``.
_RUN_COLUMNS = tuple((c.key, c.name) for c in Run.__table__.columns)


#: A run as the request path writes it: the ``runs`` columns as plain attributes (None = the
#: column's default).
RunRecord = plain_record(Run)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class RunWriter:
    """Run records of model calls, written by the pipeline's record stage (raw SQL: see
    :mod:`promptops.db.connection`; inside the call's ``atomic`` batch, with what must land with
    the run). Each row travels as ONE JSON document (``jsonb_populate_record(NULL::runs, ...)``
    casts each member to its column's type): one parameter to bind instead of twenty, which
    matters most when a batch binds them client-side. Columns left None take their defaults."""

    def __init__(self, db: SQL) -> None:
        self.db = db

    @staticmethod
    def _row(run: Any) -> tuple[str, str]:
        values = {
            name: value
            for key, name in _RUN_COLUMNS
            if (value := getattr(run, key, None)) is not None
        }
        return ", ".join(values), orjson.dumps(values, default=_json_default).decode()

    async def insert(self, run: Any) -> None:
        """Insert ``run`` (a :data:`RunRecord`). Fetches nothing (batchable)."""
        names, row = self._row(run)
        await self.db.execute(
            f"INSERT INTO runs ({names}) SELECT {names} "
            "FROM jsonb_populate_record(NULL::runs, %(row)s::jsonb)",
            {"row": row},
        )

    async def insert_once(self, run: Any, results: list[dict[str, Any]]) -> None:
        """Insert ``run`` unless a run with its ``idempotency_key`` exists (``ON CONFLICT DO
        NOTHING``), and its evaluation ``results`` (``evaluation_results`` rows as dicts:
        ``id, evaluation_id, metric, value, details``; ``run_id`` is the run's) only when the
        run was inserted: ONE statement, so a retried evaluation can never write a run or a
        score twice. Fetches nothing (batchable)."""
        names, row = self._row(run)
        await self.db.execute(
            f"WITH ins AS (INSERT INTO runs ({names}) SELECT {names} "
            "FROM jsonb_populate_record(NULL::runs, %(row)s::jsonb) "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id) "
            "INSERT INTO evaluation_results (id, run_id, evaluation_id, metric, value, details) "
            "SELECT r.id, ins.id, r.evaluation_id, r.metric, r.value, r.details "
            "FROM ins, jsonb_populate_recordset(NULL::evaluation_results, %(results)s::jsonb) r",
            {"row": row, "results": orjson.dumps(results, default=_json_default).decode()},
        )


#: Characters of a run's output (and error) a listing carries; the run itself has all.
OUTPUT_EXCERPT_CHARS = 200
ERROR_EXCERPT_CHARS = 500


@dataclass(frozen=True)
class RunFilter:
    """Which runs of a project a listing returns (every field optional): the prompt (any of
    its versions) or one version, the source (``generate``, ``test``, ``execute``,
    ``openai``, ``evaluation``...), success, the model as recorded, the caller's subject id,
    and ``created_after`` (inclusive) / ``created_before`` (exclusive)."""

    prompt_id: uuid.UUID | None = None
    prompt_version_id: uuid.UUID | None = None
    source: str | None = None
    success: bool | None = None
    model: str | None = None
    subject_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


class RunRepository:
    """Reads of runs and their feedback (ORM, the API's unit of work)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(
        self, run_id: uuid.UUID, organization_id: uuid.UUID, project_id: uuid.UUID | None = None
    ) -> Run | None:
        q = (
            select(Run)
            .join(Project, Project.id == Run.project_id)
            .where(Run.id == run_id, Project.organization_id == organization_id)
        )
        if project_id is not None:
            q = q.where(Project.id == project_id)
        return (await self.session.execute(q)).scalar_one_or_none()

    async def list(
        self,
        project_id: uuid.UUID,
        where: RunFilter,
        *,
        before: tuple[datetime, uuid.UUID] | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Sequence[Row[Any]]:
        """Runs of ``project_id`` matching ``where``, newest first (``created_at``, then
        ``id``, both descending: a total order, so pages never overlap or skip). ``before`` is
        the keyset cursor (the last row's ``(created_at, id)`` of the previous page); ``offset``
        skips rows after it. One query: the version number comes by a left join, and only
        excerpts of the output and error travel (``OUTPUT_EXCERPT_CHARS``,
        ``ERROR_EXCERPT_CHARS``). Served by ``ix_runs_project_created`` (project, created_at,
        id), or ``ix_runs_version_created`` for one version (migration 0007)."""
        q = (
            select(
                Run.id,
                Run.created_at,
                Run.source,
                Run.model,
                Run.prompt_version_id,
                PromptVersion.prompt_id,
                PromptVersion.version.label("prompt_version"),
                Run.success,
                func.left(Run.error, ERROR_EXCERPT_CHARS).label("error"),
                Run.tokens_in,
                Run.tokens_out,
                Run.cost_usd,
                Run.latency_ms,
                Run.cache_hit,
                func.left(Run.output, OUTPUT_EXCERPT_CHARS).label("output_excerpt"),
                Run.subject_id,
                Run.environment,
                Run.arm,
            )
            .outerjoin(PromptVersion, PromptVersion.id == Run.prompt_version_id)
            .where(Run.project_id == project_id)
        )
        if where.prompt_id is not None:
            q = q.where(PromptVersion.prompt_id == where.prompt_id)
        if where.prompt_version_id is not None:
            q = q.where(Run.prompt_version_id == where.prompt_version_id)
        if where.source is not None:
            q = q.where(Run.source == where.source)
        if where.success is not None:
            q = q.where(Run.success.is_(where.success))
        if where.model is not None:
            q = q.where(Run.model == where.model)
        if where.subject_id is not None:
            q = q.where(Run.subject_id == where.subject_id)
        if where.created_after is not None:
            q = q.where(Run.created_at >= where.created_after)
        if where.created_before is not None:
            q = q.where(Run.created_at < where.created_before)
        if before is not None:
            q = q.where(tuple_(Run.created_at, Run.id) < tuple_(*before))
        q = q.order_by(Run.created_at.desc(), Run.id.desc()).offset(offset).limit(limit)
        return (await self.session.execute(q)).all()

    async def by_idempotency_key(self, key: str) -> Run | None:
        """The run recorded under ``key``, or None."""
        return (
            await self.session.execute(select(Run).where(Run.idempotency_key == key))
        ).scalar_one_or_none()

    async def latest_run_of_subject(self, project_id: uuid.UUID, subject_id: str) -> Run | None:
        return (
            await self.session.execute(
                select(Run)
                .where(Run.project_id == project_id, Run.subject_id == subject_id)
                .order_by(Run.created_at.desc())
                .limit(1)
            )
        ).scalar_one_or_none()

    async def add_feedback(self, feedback: Feedback) -> Feedback:
        self.session.add(feedback)
        await self.session.flush()
        return feedback

    async def add_outcome(self, outcome: Outcome) -> Outcome:
        self.session.add(outcome)
        await self.session.flush()
        return outcome

    async def feedback_of_run(self, run_id: uuid.UUID) -> Sequence[Feedback]:
        return (
            (
                await self.session.execute(
                    select(Feedback).where(Feedback.run_id == run_id).order_by(Feedback.created_at)
                )
            )
            .scalars()
            .all()
        )
