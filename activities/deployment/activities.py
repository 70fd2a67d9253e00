"""Deployment activities: the database side of ``CanaryRolloutWorkflow``.

Each activity opens its own session, locks the deployment row (``SELECT ... FOR UPDATE``),
commits once, and is idempotent: it compares the row with the requested state and writes (and
audits) only a difference, so a retry after a crash between commit and completion writes
nothing twice. A finished deployment (Promoted, RolledBack, Aborted) is never changed again.

A database that cannot be reached (down, restarting, out of connections) fails an activity with
a retryable ``ApplicationError`` of type ``ServiceUnavailable``
(:func:`activities.outages.database_outage_retryable`): Temporal retries it under the workflow's
policy, and the workflow does not take it for a verdict on the candidate
(``CanaryRolloutWorkflow._final_check``).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deployment.types import (
    ABORTED,
    FINAL_STATUSES,
    PAUSED,
    PENDING,
    PROMOTED,
    ROLLED_BACK,
    RUNNING,
    ArmFigures,
    ComputeFiguresInput,
    ComputeFiguresResult,
    FinishDeploymentInput,
    FinishDeploymentResult,
    SetStepInput,
    SetStepResult,
    StartDeploymentInput,
    StartDeploymentResult,
)
from activities.errors import (
    INVALID_INPUT,
    NOT_FOUND,
    NOT_VISIBLE,
)
from activities.outages import database_outage_retryable
from promptops.db.models import ENVIRONMENT_LABELS, Deployment
from promptops.db.repositories import AuditRepository, DeploymentRepository, PromptRepository
from promptops.db.repositories.deployments import ArmAggregate
from promptops.db.session import get_session_factory
from promptops.evaluation.metrics import METRIC_SPECS

log = logging.getLogger(__name__)

#: Online evaluation results that are not quality scores (excluded from ``eval_score``).
NON_SCORE_METRICS = tuple(
    sorted(name for name, spec in METRIC_SPECS.items() if spec.kind in ("latency", "cost"))
)

_FINISH_ACTIONS = {
    PROMOTED: "deployment.promote",
    ROLLED_BACK: "deployment.rollback",
    ABORTED: "deployment.abort",
}


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise ApplicationError(
            f"{what} {value!r} is not a UUID", type=INVALID_INPUT, non_retryable=True
        ) from exc


def _summary(dep: Deployment) -> dict[str, Any]:
    return {
        "status": dep.status,
        "canary_weight": dep.canary_weight,
        "current_step": dep.current_step,
    }


def arm_figures(agg: ArmAggregate) -> ArmFigures:
    """Turn raw aggregates into guard figures (``error_rate = errors / n``, None when n = 0)."""
    return ArmFigures(
        arm=agg.arm,
        n=agg.n,
        errors=agg.errors,
        error_rate=agg.errors / agg.n if agg.n else None,
        p95_latency_ms=agg.p95_latency_ms,
        feedback_n=agg.feedback_n,
        mean_feedback=agg.mean_feedback,
        outcome_n=agg.outcome_n,
        mean_outcome=agg.mean_outcome,
        eval_n=agg.eval_n,
        eval_score=agg.eval_score,
    )


class DeploymentActivities:
    """Built with the database URL; register the four bound methods on a worker."""

    def __init__(self, database_url: str) -> None:
        self._sessions = get_session_factory(database_url)

    async def _locked(self, session: AsyncSession, deployment_id: str) -> Deployment:
        dep = await DeploymentRepository(session).get_by_id(
            _uuid(deployment_id, "deployment id"), for_update=True
        )
        if dep is None:
            raise ApplicationError(
                f"deployment {deployment_id} not found", type=NOT_FOUND, non_retryable=True
            )
        return dep

    async def _audit(
        self,
        session: AsyncSession,
        dep: Deployment,
        *,
        actor: str,
        action: str,
        entity_type: str = "deployment",
        entity_id: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        org = await DeploymentRepository(session).organization_of(dep.project_id)
        await AuditRepository(session).record(
            organization_id=org,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id or str(dep.id),
            before=before,
            after=after,
            request_id=request_id,
        )

    @activity.defn(name="start_deployment")
    @database_outage_retryable
    async def start_deployment(self, inp: StartDeploymentInput) -> StartDeploymentResult:
        """Mark the deployment Running (from Pending) and report what the workflow drives.

        Raises a *retryable* ``NotVisible`` error while the row does not exist: the API starts
        the workflow inside the transaction that inserts the row, so the first attempt may
        run before that commit.
        """
        async with self._sessions() as session:
            dep = await DeploymentRepository(session).get_by_id(
                _uuid(inp.deployment_id, "deployment id"), for_update=True
            )
            if dep is None:
                raise ApplicationError(
                    f"deployment {inp.deployment_id} is not visible yet", type=NOT_VISIBLE
                )
            if dep.status == PENDING:
                before = _summary(dep)
                dep.status = RUNNING
                await session.flush()
                await self._audit(
                    session,
                    dep,
                    actor=inp.actor,
                    action="deployment.start",
                    before=before,
                    after=_summary(dep),
                )
            result = StartDeploymentResult(
                deployment_id=str(dep.id),
                project_id=str(dep.project_id),
                prompt_id=str(dep.prompt_id),
                environment=dep.environment,
                label=ENVIRONMENT_LABELS[dep.environment],
                candidate_version_id=str(dep.candidate_version_id),
                baseline_version_id=(
                    str(dep.baseline_version_id) if dep.baseline_version_id else None
                ),
                status=dep.status,
            )
            await session.commit()
        return result

    @activity.defn(name="set_deployment_step")
    @database_outage_retryable
    async def set_deployment_step(self, inp: SetStepInput) -> SetStepResult:
        """Set ``canary_weight`` (percent), ``current_step`` and ``status`` (Running | Paused)
        and audit the change; no write when the row is already so or already finished."""
        if inp.status not in (RUNNING, PAUSED):
            raise ApplicationError(
                f"status {inp.status!r} is not Running or Paused",
                type=INVALID_INPUT,
                non_retryable=True,
            )
        if not 0 <= inp.canary_weight <= 100:
            raise ApplicationError(
                f"canary weight {inp.canary_weight} is outside 0..100",
                type=INVALID_INPUT,
                non_retryable=True,
            )
        async with self._sessions() as session:
            dep = await self._locked(session, inp.deployment_id)
            if dep.status in FINAL_STATUSES or (
                dep.status == inp.status
                and dep.canary_weight == inp.canary_weight
                and dep.current_step == inp.step_index
            ):
                return SetStepResult(changed=False)
            before = _summary(dep)
            dep.status = inp.status
            dep.canary_weight = inp.canary_weight
            dep.current_step = inp.step_index
            await session.flush()
            after: dict[str, Any] = _summary(dep)
            if inp.reason:
                after["reason"] = inp.reason
            await self._audit(
                session,
                dep,
                actor=inp.actor,
                action=inp.action,
                before=before,
                after=after,
                request_id=inp.request_id,
            )
            await session.commit()
        return SetStepResult(changed=True)

    @activity.defn(name="compute_deployment_figures")
    @database_outage_retryable
    async def compute_deployment_figures(self, inp: ComputeFiguresInput) -> ComputeFiguresResult:
        """Per-arm figures of the runs served since ``window_start`` plus the candidate's latest
        approval eval score, stored as check ``check_index`` when one is given (an upsert keyed
        by deployment and check number, so a retry writes no second row)."""
        try:
            start = datetime.fromisoformat(inp.window_start)
        except ValueError as exc:
            raise ApplicationError(
                f"window_start {inp.window_start!r} is not ISO 8601",
                type=INVALID_INPUT,
                non_retryable=True,
            ) from exc
        async with self._sessions() as session:
            repo = DeploymentRepository(session)
            dep = await repo.get_by_id(_uuid(inp.deployment_id, "deployment id"))
            if dep is None:
                raise ApplicationError(
                    f"deployment {inp.deployment_id} not found", type=NOT_FOUND, non_retryable=True
                )
            aggregates = await repo.arm_figures(dep.id, start, exclude_metrics=NON_SCORE_METRICS)
            score = await repo.latest_approval_eval_score(dep.candidate_version_id)
            result = ComputeFiguresResult(
                baseline=arm_figures(aggregates["baseline"]),
                canary=arm_figures(aggregates["canary"]),
                approval_eval_score=score,
            )
            if inp.check_index is not None:
                await repo.record_check(
                    deployment_id=dep.id,
                    check_index=inp.check_index,
                    step_index=inp.step_index if inp.step_index is not None else dep.current_step,
                    canary_weight=(
                        inp.canary_weight if inp.canary_weight is not None else dep.canary_weight
                    ),
                    window_started_at=start,
                    figures={
                        "baseline": dataclasses.asdict(result.baseline),
                        "canary": dataclasses.asdict(result.canary),
                    },
                    approval_eval_score=score,
                )
                await session.commit()
        return result

    @activity.defn(name="finish_deployment")
    @database_outage_retryable
    async def finish_deployment(self, inp: FinishDeploymentInput) -> FinishDeploymentResult:
        """End the deployment. Promoted: the environment's label (``ENVIRONMENT_LABELS``)
        moves to the candidate (created when missing), weight 100. RolledBack / Aborted:
        weight 0, so ``generate`` serves the baseline again. The reason, the step and the
        completion time are recorded, with audit entries for the deployment and the label.

        This is how a protected label (``production``; ``dev``/``staging`` where marked) moves
        forward: the candidate is Approved (deployments admit only Approved versions, a final
        status), and the database's ``labels_record_history`` trigger records the move in
        ``label_history``, which an emergency rollback checks."""
        if inp.status not in FINAL_STATUSES:
            raise ApplicationError(
                f"status {inp.status!r} does not finish a deployment",
                type=INVALID_INPUT,
                non_retryable=True,
            )
        async with self._sessions() as session:
            dep = await self._locked(session, inp.deployment_id)
            if dep.status in FINAL_STATUSES:
                # A retry after the commit, or an abort that raced a rollback: nothing to do
                # (leaving the block without a commit releases the row lock).
                return FinishDeploymentResult(status=dep.status, changed=False)
            label_name: str | None = None
            if inp.status == PROMOTED:
                label_name = ENVIRONMENT_LABELS[dep.environment]
                label = await PromptRepository(session).get_label(
                    dep.prompt_id, label_name, for_update=True
                )
                previous = label.prompt_version_id if label else None
                await PromptRepository(session).point_label(
                    dep.prompt_id, label_name, dep.candidate_version_id
                )
                await self._audit(
                    session,
                    dep,
                    actor=inp.actor,
                    action="label.move",
                    entity_type="label",
                    entity_id=f"{dep.prompt_id}:{label_name}",
                    before={"prompt_version_id": str(previous)} if previous else None,
                    after={
                        "prompt_version_id": str(dep.candidate_version_id),
                        "deployment_id": str(dep.id),
                    },
                    request_id=inp.request_id,
                )
            before = _summary(dep)
            dep.status = inp.status
            dep.canary_weight = 100.0 if inp.status == PROMOTED else 0.0
            dep.current_step = inp.step_index
            dep.reason = inp.reason
            dep.completed_at = datetime.now(UTC)
            await session.flush()
            after: dict[str, Any] = {**_summary(dep), "reason": inp.reason}
            if inp.breaches:
                after["breaches"] = inp.breaches
            await self._audit(
                session,
                dep,
                actor=inp.actor,
                action=_FINISH_ACTIONS[inp.status],
                before=before,
                after=after,
                request_id=inp.request_id,
            )
            await session.commit()
            log.info("deployment %s %s: %s", dep.id, inp.status, inp.reason)
        return FinishDeploymentResult(
            status=inp.status,
            changed=True,
            label=label_name,
            label_version_id=str(dep.candidate_version_id) if label_name else None,
        )
