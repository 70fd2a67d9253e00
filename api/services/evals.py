"""Start, query and cancel batch evaluations (``BatchEvaluationWorkflow``) by evaluation id."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError

from api.deps import Principal
from api.errors import NotFound, Unprocessable
from api.schemas.evals import EvalRunRequest
from api.services.datasets import DatasetService
from api.services.prompts import PromptService
from promptops.db.models import Evaluation
from promptops.db.repositories import AuditRepository, DatasetRepository, EvaluationRepository
from promptops.evaluation.metrics import validate_metric_names
from promptops.settings import Settings
from workflows.evaluation.types import BatchEvaluationInput
from workflows.evaluation.workflow import DATASET_ID, EVAL_ID, BatchEvaluationWorkflow

STATUS_NAMES = {
    WorkflowExecutionStatus.RUNNING: "Running",
    WorkflowExecutionStatus.COMPLETED: "Completed",
    WorkflowExecutionStatus.FAILED: "Failed",
    WorkflowExecutionStatus.CANCELED: "Cancelled",
    WorkflowExecutionStatus.TERMINATED: "Terminated",
    WorkflowExecutionStatus.TIMED_OUT: "TimedOut",
    WorkflowExecutionStatus.CONTINUED_AS_NEW: "Running",
}


def temporal_ui_link(settings: Settings, workflow_id: str) -> str:
    return (
        f"{settings.temporal_ui_url}/namespaces/{settings.temporal_namespace}"
        f"/workflows/{workflow_id}"
    )


class EvaluationService:
    def __init__(
        self, session: AsyncSession, principal: Principal, client: Client | None, settings: Settings
    ) -> None:
        self.session = session
        self.principal = principal
        self.client = client
        self.settings = settings

    async def start(self, req: EvalRunRequest) -> str:
        """Validate and start the workflow; returns the evaluation id (= workflow id)."""
        try:
            metrics = validate_metric_names(req.metrics)
        except ValueError as exc:
            raise Unprocessable(str(exc), field="metrics") from exc
        datasets = DatasetService(self.session, self.principal)
        dataset = await datasets.get(req.dataset_id)
        prompts = PromptService(self.session, self.principal)
        for vid in req.prompt_version_ids:
            version = await prompts.get_version(vid)
            prompt = await prompts.get_prompt(version.prompt_id)
            if prompt.project_id != dataset.project_id:
                raise Unprocessable(
                    f"prompt version {vid} is not in the dataset's project",
                    field="prompt_version_ids",
                )
        if len(set(req.prompt_version_ids)) != len(req.prompt_version_ids):
            raise Unprocessable(
                "prompt_version_ids contains duplicates", field="prompt_version_ids"
            )
        if await DatasetRepository(self.session).count_examples(dataset.id) == 0:
            raise Unprocessable(f"dataset {dataset.id} has no examples", field="dataset_id")
        evaluation_id = f"eval-{uuid.uuid4().hex[:16]}"
        assert self.client is not None
        # The row exists from the start (same values the plan activity would insert; it does
        # nothing on conflict), so reads are tenant-checked against it from the first poll.
        self.session.add(
            Evaluation(
                id=evaluation_id,
                project_id=dataset.project_id,
                dataset_id=dataset.id,
                prompt_version_ids=[str(v) for v in req.prompt_version_ids],
                metrics=metrics,
                config={
                    "workflow_id": evaluation_id,
                    "max_examples": req.limit,
                    "positive_label": req.positive_label,
                },
                status="Running",
            )
        )
        await self.session.flush()
        await self.client.start_workflow(
            BatchEvaluationWorkflow.run,
            BatchEvaluationInput(
                evaluation_id=evaluation_id,
                prompt_version_ids=[str(v) for v in req.prompt_version_ids],
                dataset_id=str(dataset.id),
                metrics=metrics,
                concurrency=req.concurrency,
                chunk_size=req.chunk_size,
                max_examples=req.limit,
                positive_label=req.positive_label,
            ),
            id=evaluation_id,
            task_queue=self.settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(EVAL_ID, evaluation_id),
                    SearchAttributePair(DATASET_ID, str(dataset.id)),
                ]
            )
            if self.settings.search_attributes
            else None,
        )
        await self._audit(
            "evaluation.start",
            evaluation_id,
            after={
                "dataset_id": str(dataset.id),
                "metrics": metrics,
                "prompt_version_ids": [str(v) for v in req.prompt_version_ids],
            },
        )
        return evaluation_id

    async def _audit(
        self, action: str, evaluation_id: str, after: dict[str, Any] | None = None
    ) -> None:
        await AuditRepository(self.session).record(
            organization_id=self.principal.organization_id,
            actor=self.principal.actor,
            action=action,
            entity_type="evaluation",
            entity_id=evaluation_id,
            after=after,
            request_id=self.principal.request_id,
        )

    async def get(self, evaluation_id: str, *, rows_limit: int = 1000) -> dict[str, Any]:
        repo = EvaluationRepository(self.session)
        evaluation = await repo.get(
            evaluation_id, self.principal.organization_id, self.principal.project_id
        )
        status, progress, error = None, None, None
        if evaluation is None:
            # Only evaluations of the caller's organization (and project scope) exist for it;
            # Temporal is not asked about other ids, so nothing leaks across tenants.
            raise NotFound(f"evaluation {evaluation_id} not found")
        if self.client is not None:
            handle = self.client.get_workflow_handle(evaluation_id)
            try:
                desc = await handle.describe()
                status = STATUS_NAMES.get(desc.status, "Unknown") if desc.status else None
                if desc.status == WorkflowExecutionStatus.RUNNING:
                    progress = await handle.query("progress", rpc_timeout=timedelta(seconds=2))
                elif desc.status == WorkflowExecutionStatus.FAILED:
                    error = await _failure_message(handle)
            except RPCError:
                pass
        stored_done = await repo.count_runs(evaluation_id)
        total = (progress or {}).get("total") or 0
        if not total and evaluation.summary:
            total = sum(v.get("n", 0) for v in evaluation.summary.get("versions", []))
        final_status = (
            evaluation.status if evaluation.status != "Running" else (status or "Running")
        )
        return {
            "id": evaluation_id,
            "status": final_status,
            "dataset_id": evaluation.dataset_id,
            "prompt_version_ids": [str(v) for v in evaluation.prompt_version_ids],
            "metrics": list(evaluation.metrics),
            "progress": {
                "done": max(stored_done, (progress or {}).get("done") or 0),
                "total": max(total, stored_done),
                "versions": (progress or {}).get("versions") or [],
            },
            "summary": evaluation.summary,
            "rows": await repo.rows(evaluation_id, limit=rows_limit) if rows_limit else [],
            "temporal_ui_url": temporal_ui_link(self.settings, evaluation_id),
            "error": error,
        }

    async def cancel(self, evaluation_id: str) -> None:
        await self.get(evaluation_id, rows_limit=0)
        assert self.client is not None
        await self.client.get_workflow_handle(evaluation_id).cancel()
        await self._audit("evaluation.cancel", evaluation_id)


async def _failure_message(handle: Any) -> str | None:
    """The root cause's message of a failed workflow (e.g. the activity's ApplicationError:
    an unknown routing policy, a template error), or None when it cannot be read."""
    try:
        await handle.result(rpc_timeout=timedelta(seconds=2))
    except WorkflowFailureError as exc:
        cause: BaseException = exc
        while cause.__cause__ is not None:
            cause = cause.__cause__
        return str(cause) or str(exc)
    except Exception:  # noqa: BLE001 - the status is still reported without the reason
        return None
    return None
