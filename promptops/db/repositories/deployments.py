"""SQL of canary deployments: the rows, tenant-filtered lookups and the per-arm figures of live
traffic the guards judge. Never commits (the API request or the activity does)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import false, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from promptops.db.models import (
    ACTIVE_DEPLOYMENT_STATUSES,
    Approval,
    Deployment,
    DeploymentCheck,
    EvaluationResult,
    Feedback,
    Outcome,
    Project,
    Prompt,
    PromptVersion,
    Run,
)

#: The arms a deployment splits traffic into (``runs.arm``).
ARMS = ("baseline", "canary")


@dataclass(frozen=True)
class DeploymentNames:
    """What a person reads a deployment by: the prompt's name and the version numbers."""

    prompt_name: str
    candidate_version: int
    baseline_version: int | None


@dataclass
class ArmAggregate:
    """Raw aggregates of one arm over a window (see :meth:`DeploymentRepository.arm_figures`).

    ``p95_latency_ms``: PostgreSQL ``percentile_disc(0.95)`` of ``latency_ms``, i.e. the
    nearest-rank 95th percentile (the ceil(0.95 n)-th smallest value).
    """

    arm: str
    n: int = 0
    errors: int = 0
    p95_latency_ms: float | None = None
    feedback_n: int = 0
    mean_feedback: float | None = None
    outcome_n: int = 0
    mean_outcome: float | None = None
    eval_n: int = 0
    eval_score: float | None = None


class DeploymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------------- rows
    async def add(self, deployment: Deployment) -> Deployment:
        """Insert and flush; raises IntegrityError when the prompt already has an active
        deployment in that environment (partial unique index ``uq_deployments_active``)."""
        self.session.add(deployment)
        await self.session.flush()
        return deployment

    async def get(
        self,
        deployment_id: uuid.UUID,
        organization_id: uuid.UUID,
        project_id: uuid.UUID | None = None,
    ) -> Deployment | None:
        """The deployment if it belongs to the organization (and to ``project_id`` when
        given): the tenant-safe lookup of the API."""
        q = (
            select(Deployment)
            .join(Project, Project.id == Deployment.project_id)
            .where(Deployment.id == deployment_id, Project.organization_id == organization_id)
        )
        if project_id is not None:
            q = q.where(Project.id == project_id)
        return (await self.session.execute(q)).scalar_one_or_none()

    async def get_by_id(
        self, deployment_id: uuid.UUID, *, for_update: bool = False
    ) -> Deployment | None:
        """Unfiltered lookup for activities (which act on a deployment the API admitted)."""
        q = select(Deployment).where(Deployment.id == deployment_id)
        if for_update:
            q = q.with_for_update()
        return (await self.session.execute(q)).scalar_one_or_none()

    async def list(
        self,
        organization_id: uuid.UUID,
        *,
        project_id: uuid.UUID | None = None,
        scope_project_id: uuid.UUID | None = None,
        environment: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> Sequence[Deployment]:
        """Deployments of the organization, newest first, optionally of one project (and
        always within the caller's project scope)."""
        q = (
            select(Deployment)
            .join(Project, Project.id == Deployment.project_id)
            .where(Project.organization_id == organization_id)
        )
        for pid in (project_id, scope_project_id):
            if pid is not None:
                q = q.where(Deployment.project_id == pid)
        if environment is not None:
            q = q.where(Deployment.environment == environment)
        if status is not None:
            q = q.where(Deployment.status == status)
        q = q.order_by(Deployment.created_at.desc(), Deployment.id).limit(limit)
        return (await self.session.execute(q)).scalars().all()

    async def names(self, deployments: Sequence[Deployment]) -> dict[uuid.UUID, DeploymentNames]:
        """The prompt name and candidate/baseline version numbers of each deployment (by id)."""
        if not deployments:
            return {}
        candidate = aliased(PromptVersion)
        baseline = aliased(PromptVersion)
        rows = (
            await self.session.execute(
                select(Deployment.id, Prompt.name, candidate.version, baseline.version)
                .join(Prompt, Prompt.id == Deployment.prompt_id)
                .join(candidate, candidate.id == Deployment.candidate_version_id)
                .outerjoin(baseline, baseline.id == Deployment.baseline_version_id)
                .where(Deployment.id.in_([d.id for d in deployments]))
            )
        ).all()
        return {dep_id: DeploymentNames(name, cand, base) for dep_id, name, cand, base in rows}

    async def active_for(self, prompt_id: uuid.UUID, environment: str) -> Deployment | None:
        """The active (Pending/Running/Paused) deployment of a prompt in an environment."""
        return (
            await self.session.execute(
                select(Deployment).where(
                    Deployment.prompt_id == prompt_id,
                    Deployment.environment == environment,
                    Deployment.status.in_(ACTIVE_DEPLOYMENT_STATUSES),
                )
            )
        ).scalar_one_or_none()

    async def organization_of(self, project_id: uuid.UUID) -> uuid.UUID | None:
        return (
            await self.session.execute(
                select(Project.organization_id).where(Project.id == project_id)
            )
        ).scalar_one_or_none()

    async def set_state(self, deployment_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(
            update(Deployment).where(Deployment.id == deployment_id).values(**values)
        )

    # ------------------------------------------------------------------------- figures
    async def arm_figures(
        self,
        deployment_id: uuid.UUID,
        window_start: datetime,
        *,
        exclude_metrics: Iterable[str] = (),
    ) -> dict[str, ArmAggregate]:
        """Per-arm aggregates of the live runs (``source = 'generate'``) the deployment served
        since ``window_start``: runs, errors, nearest-rank p95 latency (ms), mean feedback
        value, mean outcome value and mean online evaluation result (metrics in
        ``exclude_metrics``, e.g. latency and cost, left out). Arms without runs are present
        with zero counts."""
        in_window = (
            Run.deployment_id == deployment_id,
            Run.source == "generate",
            Run.created_at >= window_start,
            Run.arm.in_(ARMS),
        )
        out = {arm: ArmAggregate(arm=arm) for arm in ARMS}
        for arm, n, errors, p95 in (
            await self.session.execute(
                select(
                    Run.arm,
                    func.count(),
                    func.count().filter(Run.success == false()),
                    func.percentile_disc(0.95).within_group(Run.latency_ms),
                )
                .where(*in_window)
                .group_by(Run.arm)
            )
        ).all():
            agg = out[arm]
            agg.n, agg.errors = int(n), int(errors)
            agg.p95_latency_ms = None if p95 is None else float(p95)
        for arm, n, mean in (
            await self.session.execute(
                select(Run.arm, func.count(Feedback.value), func.avg(Feedback.value))
                .join(Run, Run.id == Feedback.run_id)
                .where(*in_window, Feedback.value.is_not(None))
                .group_by(Run.arm)
            )
        ).all():
            out[arm].feedback_n = int(n)
            out[arm].mean_feedback = None if mean is None else float(mean)
        for arm, n, mean in (
            await self.session.execute(
                select(Run.arm, func.count(Outcome.value), func.avg(Outcome.value))
                .join(Run, Run.id == Outcome.run_id)
                .where(*in_window)
                .group_by(Run.arm)
            )
        ).all():
            out[arm].outcome_n = int(n)
            out[arm].mean_outcome = None if mean is None else float(mean)
        excluded = list(exclude_metrics)
        eval_q = (
            select(Run.arm, func.count(EvaluationResult.value), func.avg(EvaluationResult.value))
            .join(Run, Run.id == EvaluationResult.run_id)
            .where(*in_window)
        )
        if excluded:
            eval_q = eval_q.where(EvaluationResult.metric.not_in(excluded))
        for arm, n, mean in (await self.session.execute(eval_q.group_by(Run.arm))).all():
            out[arm].eval_n = int(n)
            out[arm].eval_score = None if mean is None else float(mean)
        return out

    async def latest_approval_eval_score(self, prompt_version_id: uuid.UUID) -> float | None:
        """The eval score of the version's most recent approval that recorded one."""
        return (
            await self.session.execute(
                select(Approval.eval_score)
                .where(
                    Approval.prompt_version_id == prompt_version_id,
                    Approval.eval_score.is_not(None),
                )
                .order_by(Approval.created_at.desc())
                .limit(1)
            )
        ).scalar_one_or_none()

    # ------------------------------------------------------------------------- checks
    async def record_check(
        self,
        *,
        deployment_id: uuid.UUID,
        check_index: int,
        step_index: int,
        canary_weight: float,
        window_started_at: datetime,
        figures: dict[str, Any],
        approval_eval_score: float | None,
    ) -> None:
        """Store one guard check, keyed by ``(deployment_id, check_index)``: a retried
        activity (or a check the workflow repeats because the last attempt's answer was lost)
        rewrites the row with the figures it computed last, so there is one row per check and
        it holds what the workflow judged."""
        values = {
            "step_index": step_index,
            "canary_weight": canary_weight,
            "window_started_at": window_started_at,
            "figures": figures,
            "approval_eval_score": approval_eval_score,
            "checked_at": func.now(),
        }
        await self.session.execute(
            insert(DeploymentCheck)
            .values(id=uuid.uuid4(), deployment_id=deployment_id, check_index=check_index, **values)
            .on_conflict_do_update(index_elements=["deployment_id", "check_index"], set_=values)
        )

    async def checks(
        self, deployment_id: uuid.UUID, *, after_index: int = 0, limit: int = 1000
    ) -> Sequence[DeploymentCheck]:
        """The deployment's checks with ``check_index > after_index``, oldest first."""
        return (
            (
                await self.session.execute(
                    select(DeploymentCheck)
                    .where(
                        DeploymentCheck.deployment_id == deployment_id,
                        DeploymentCheck.check_index > after_index,
                    )
                    .order_by(DeploymentCheck.check_index)
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
