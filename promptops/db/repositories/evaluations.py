from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.models import (
    Dataset,
    Evaluation,
    EvaluationResult,
    Example,
    Project,
    Prompt,
    PromptVersion,
    Run,
)


@dataclass
class _Scores:
    """Per run id: its stored metric values, and the label it predicted (label metrics)."""

    values: dict[uuid.UUID, dict[str, float]] = field(default_factory=dict)
    labels: dict[uuid.UUID, str] = field(default_factory=dict)


def _run_fields(run: Run, scores: _Scores) -> dict[str, Any]:
    """One evaluated run as the per-example reads return it: output, scores and figures."""
    return {
        "prompt_version_id": str(run.prompt_version_id),
        "run_id": str(run.id),
        "output": run.output,
        "predicted_label": scores.labels.get(run.id),
        "success": run.success,
        "error": run.error,
        "metrics": scores.values.get(run.id, {}),
        "latency_ms": run.latency_ms,
        "tokens_in": run.tokens_in,
        "tokens_out": run.tokens_out,
        "cost_usd": float(run.cost_usd),
    }


class EvaluationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(
        self, evaluation_id: str, organization_id: uuid.UUID, project_id: uuid.UUID | None = None
    ) -> Evaluation | None:
        q = (
            select(Evaluation)
            .join(Project, Project.id == Evaluation.project_id)
            .where(Evaluation.id == evaluation_id, Project.organization_id == organization_id)
        )
        if project_id is not None:
            q = q.where(Project.id == project_id)
        return (await self.session.execute(q)).scalar_one_or_none()

    async def count_runs(self, evaluation_id: str) -> int:
        return (
            await self.session.execute(
                select(func.count()).select_from(Run).where(Run.evaluation_id == evaluation_id)
            )
        ).scalar_one()

    async def rows(
        self, evaluation_id: str, *, offset: int = 0, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Per-example rows: input, output, expected and each metric's value, per version."""
        runs = (
            await self.session.execute(
                select(Run, Example.external_id, Example.input, Example.expected)
                .join(Example, Example.id == Run.example_id)
                .where(Run.evaluation_id == evaluation_id)
                .order_by(Example.position, Run.prompt_version_id)
                .offset(offset)
                .limit(limit)
            )
        ).all()
        scores = await self._scores([r[0].id for r in runs])
        return [
            {
                "example_id": external_id,
                "input": inp,
                "expected": expected,
                **_run_fields(run, scores),
            }
            for run, external_id, inp, expected in runs
        ]

    async def _scores(self, run_ids: list[uuid.UUID]) -> _Scores:
        """The stored metric values of these runs, and the label each predicted (if any)."""
        scores = _Scores()
        if not run_ids:
            return scores
        for run_id, metric, value, details in (
            await self.session.execute(
                select(
                    EvaluationResult.run_id,
                    EvaluationResult.metric,
                    EvaluationResult.value,
                    EvaluationResult.details,
                ).where(EvaluationResult.run_id.in_(run_ids))
            )
        ).all():
            scores.values.setdefault(run_id, {})[metric] = value
            if details is not None:
                scores.labels[run_id] = details
        return scores

    async def list_for_project(
        self, project_id: uuid.UUID, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[tuple[Evaluation, str | None]], int]:
        """The project's evaluations, newest first, each with its dataset's name; and how
        many there are in all."""
        page = (
            await self.session.execute(
                select(Evaluation, Dataset.name)
                .outerjoin(Dataset, Dataset.id == Evaluation.dataset_id)
                .where(Evaluation.project_id == project_id)
                .order_by(Evaluation.created_at.desc(), Evaluation.id)
                .offset(offset)
                .limit(limit)
            )
        ).all()
        count = (
            await self.session.execute(
                select(func.count())
                .select_from(Evaluation)
                .where(Evaluation.project_id == project_id)
            )
        ).scalar_one()
        return [(e, name) for e, name in page], int(count)

    async def dataset_name(self, dataset_id: uuid.UUID) -> str | None:
        return (
            await self.session.execute(select(Dataset.name).where(Dataset.id == dataset_id))
        ).scalar_one_or_none()

    async def versions(self, version_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``{version id: {"id", "prompt_id", "prompt_name", "version"}}`` for the versions
        found among ``version_ids`` (ids as stored in ``evaluations.prompt_version_ids``)."""
        ids = []
        for v in version_ids:
            try:
                ids.append(uuid.UUID(str(v)))
            except ValueError:
                continue
        if not ids:
            return {}
        rows = (
            await self.session.execute(
                select(PromptVersion.id, PromptVersion.version, Prompt.id, Prompt.name)
                .join(Prompt, Prompt.id == PromptVersion.prompt_id)
                .where(PromptVersion.id.in_(ids))
            )
        ).all()
        return {
            str(vid): {
                "id": str(vid),
                "prompt_id": str(pid),
                "prompt_name": name,
                "version": number,
            }
            for vid, number, pid, name in rows
        }

    async def example_rows(
        self,
        evaluation_id: str,
        *,
        offset: int = 0,
        limit: int = 50,
        disagreements: bool = False,
    ) -> tuple[list[dict[str, Any]], int]:
        """The examples the evaluation ran, in dataset order, each with every version's run
        (``runs``: the keys of :meth:`rows` without the example's); and how many there are.

        ``disagreements``: only examples on which the versions disagree: some metric's value
        differs between their runs, the predicted labels differ, or one run failed and
        another did not."""
        ran = select(Run.example_id).where(
            Run.evaluation_id == evaluation_id, Run.example_id.is_not(None)
        )
        if disagreements:
            success_differs = (
                select(Run.example_id)
                .where(Run.evaluation_id == evaluation_id)
                .group_by(Run.example_id)
                .having(func.bool_and(Run.success) != func.bool_or(Run.success))
            )
            scores_differ = (
                select(Run.example_id)
                .join(EvaluationResult, EvaluationResult.run_id == Run.id)
                .where(EvaluationResult.evaluation_id == evaluation_id)
                .group_by(Run.example_id, EvaluationResult.metric)
                .having(
                    or_(
                        func.min(EvaluationResult.value) != func.max(EvaluationResult.value),
                        func.count(func.distinct(func.coalesce(EvaluationResult.details, ""))) > 1,
                    )
                )
            )
            ran = ran.where(
                or_(Run.example_id.in_(success_differs), Run.example_id.in_(scores_differ))
            )
        example_ids = ran.distinct().subquery()
        count = (
            await self.session.execute(select(func.count()).select_from(example_ids))
        ).scalar_one()
        examples = (
            (
                await self.session.execute(
                    select(Example)
                    .where(Example.id.in_(select(example_ids.c.example_id)))
                    .order_by(Example.position)
                    .offset(offset)
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
        if not examples:
            return [], int(count)
        runs = (
            (
                await self.session.execute(
                    select(Run)
                    .where(
                        Run.evaluation_id == evaluation_id,
                        Run.example_id.in_([e.id for e in examples]),
                    )
                    .order_by(Run.prompt_version_id)
                )
            )
            .scalars()
            .all()
        )
        scores = await self._scores([r.id for r in runs])
        by_example: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for run in runs:
            if run.example_id is None:
                continue
            by_example.setdefault(run.example_id, []).append(_run_fields(run, scores))
        return [
            {
                "example_id": e.external_id,
                "position": e.position,
                "input": e.input,
                "expected": e.expected,
                "runs": by_example.get(e.id, []),
            }
            for e in examples
        ], int(count)


@dataclass(frozen=True)
class FinishedRun:
    """An evaluation run already recorded (a chunk retried after a crash skips its example)."""

    id: uuid.UUID
    idempotency_key: str
    success: bool
    latency_ms: float
    cost_usd: float
    values: dict[str, float]


class EvaluationRunRepository:
    """What the evaluation activities read and write (ORM, one short session per activity
    step; the runs themselves are written by the model-call pipeline)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def dataset(self, dataset_id: uuid.UUID) -> Dataset | None:
        return await self.session.get(Dataset, dataset_id)

    async def version_projects(
        self, version_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, uuid.UUID]:
        """Project of each version found (missing versions are absent)."""
        rows = (
            await self.session.execute(
                select(PromptVersion.id, Prompt.project_id)
                .join(Prompt, Prompt.id == PromptVersion.prompt_id)
                .where(PromptVersion.id.in_(list(version_ids)))
            )
        ).all()
        return {vid: pid for vid, pid in rows}

    async def version_with_project(
        self, version_id: uuid.UUID
    ) -> tuple[PromptVersion, uuid.UUID] | None:
        row = (
            await self.session.execute(
                select(PromptVersion, Prompt.project_id)
                .join(Prompt, Prompt.id == PromptVersion.prompt_id)
                .where(PromptVersion.id == version_id)
            )
        ).first()
        return None if row is None else (row[0], row[1])

    async def count_examples(self, dataset_id: uuid.UUID) -> int:
        return int(
            (
                await self.session.execute(
                    select(func.count())
                    .select_from(Example)
                    .where(Example.dataset_id == dataset_id)
                )
            ).scalar_one()
        )

    async def expected_labels(self, dataset_id: uuid.UUID) -> list[str]:
        """The distinct expected values of the dataset, as strings, sorted."""
        return sorted(
            {
                str(v)
                for v in (
                    await self.session.execute(
                        select(Example.expected).where(Example.dataset_id == dataset_id)
                    )
                ).scalars()
                if v is not None
            }
        )

    async def start(
        self,
        evaluation_id: str,
        project_id: uuid.UUID,
        dataset_id: uuid.UUID,
        version_ids: list[str],
        metrics: list[str],
        config: dict[str, Any],
    ) -> None:
        """Record the evaluation as Running (``ON CONFLICT DO NOTHING``: idempotent)."""
        await self.session.execute(
            insert(Evaluation)
            .values(
                id=evaluation_id,
                project_id=project_id,
                dataset_id=dataset_id,
                prompt_version_ids=version_ids,
                metrics=metrics,
                config=config,
                status="Running",
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )

    async def examples(self, dataset_id: uuid.UUID, offset: int, limit: int) -> Sequence[Example]:
        """Examples at positions ``[offset, offset + limit)``, in order."""
        return (
            (
                await self.session.execute(
                    select(Example)
                    .where(
                        Example.dataset_id == dataset_id,
                        Example.position >= offset,
                        Example.position < offset + limit,
                    )
                    .order_by(Example.position)
                )
            )
            .scalars()
            .all()
        )

    async def finished(self, keys: Sequence[str]) -> dict[str, FinishedRun]:
        """The runs already recorded under ``keys`` (idempotency keys), with their scores."""
        runs = (
            await self.session.execute(
                select(
                    Run.id, Run.idempotency_key, Run.success, Run.latency_ms, Run.cost_usd
                ).where(Run.idempotency_key.in_(list(keys)))
            )
        ).all()
        if not runs:
            return {}
        values: dict[uuid.UUID, dict[str, float]] = {}
        for run_id, metric, value in (
            await self.session.execute(
                select(
                    EvaluationResult.run_id, EvaluationResult.metric, EvaluationResult.value
                ).where(EvaluationResult.run_id.in_([r[0] for r in runs]))
            )
        ).all():
            values.setdefault(run_id, {})[metric] = value
        return {
            key: FinishedRun(
                id=run_id,
                idempotency_key=key,
                success=success,
                latency_ms=latency,
                cost_usd=float(cost),
                values=values.get(run_id, {}),
            )
            for run_id, key, success, latency, cost in runs
            if key is not None
        }

    async def evaluation(self, evaluation_id: str) -> Evaluation | None:
        return await self.session.get(Evaluation, evaluation_id)

    async def scored_runs(
        self, evaluation_id: str
    ) -> tuple[list[tuple[Run, str, Any]], list[tuple[uuid.UUID, str, float, str | None]]]:
        """The evaluation's runs with their example's external id and expected value, and
        every ``(run_id, metric, value, details)`` result."""
        runs = [
            (r[0], r[1], r[2])
            for r in (
                await self.session.execute(
                    select(Run, Example.external_id, Example.expected)
                    .join(Example, Example.id == Run.example_id)
                    .where(Run.evaluation_id == evaluation_id)
                )
            ).all()
        ]
        results = [
            (r[0], r[1], r[2], r[3])
            for r in (
                await self.session.execute(
                    select(
                        EvaluationResult.run_id,
                        EvaluationResult.metric,
                        EvaluationResult.value,
                        EvaluationResult.details,
                    ).where(EvaluationResult.evaluation_id == evaluation_id)
                )
            ).all()
        ]
        return runs, results

    async def finish(self, evaluation_id: str, status: str, summary: dict[str, Any]) -> None:
        await self.session.execute(
            update(Evaluation)
            .where(Evaluation.id == evaluation_id)
            .values(status=status, summary=summary, completed_at=datetime.now(UTC))
        )
