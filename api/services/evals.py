"""Start, query and cancel batch evaluations (``BatchEvaluationWorkflow``) by evaluation id."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import Callable
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
from api.services.retrieval_evals import (
    ensure_not_retrieval,
    retrieval_configs,
    retrieval_configs_of,
    retrieval_metrics,
)
from promptops.db.models import Evaluation
from promptops.db.repositories import AuditRepository, DatasetRepository, EvaluationRepository
from promptops.db.repositories.retrieval_evals import RetrievalEvalRepository
from promptops.evaluation.metrics import METRIC_SPECS, stored_metric_names, validate_metric_names
from promptops.settings import Settings
from workflows.evaluation.types import BatchEvaluationInput, retrieval_evaluation_config
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

#: The first columns of :meth:`EvaluationService.rows_csv`; metric columns follow.
CSV_COLUMNS = (
    "example_id",
    "prompt",
    "version",
    "prompt_version_id",
    "input",
    "expected",
    "output",
    "predicted_label",
    "success",
    "error",
    "latency_ms",
    "tokens_in",
    "tokens_out",
    "cost_usd",
)
#: Runs read per query while writing the CSV.
CSV_PAGE = 1000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """A text cell of the CSV: JSON for structured values, '' for None, and a leading ``'``
    on text a spreadsheet would evaluate as a formula."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return "'" + text if text.startswith(_FORMULA_START) else text


def metric_registry() -> list[dict[str, Any]]:
    """Every metric an evaluation may request, in registry order: ``name``, ``kind``
    (text, label, embedding, latency, cost), ``higher_is_better``, ``description``."""
    return [
        {
            "name": spec.name,
            "kind": spec.kind,
            "higher_is_better": spec.higher_is_better,
            "description": spec.description,
        }
        for spec in METRIC_SPECS.values()
    ]


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
        """Validate and start the workflow; returns the evaluation id (= workflow id).

        Exactly one of ``prompt_version_ids`` / ``retrieval_configs`` (422 naming the field
        otherwise); ``metrics`` is required with prompt versions and may not name ranking
        metrics there (they score retrieval configurations)."""
        if req.prompt_version_ids and req.retrieval_configs:
            raise Unprocessable(
                "give prompt_version_ids or retrieval_configs, not both",
                field="retrieval_configs",
            )
        if req.retrieval_configs:
            return await self._start_retrieval(req)
        version_ids = req.prompt_version_ids
        if not version_ids:
            raise Unprocessable(
                "prompt_version_ids (or retrieval_configs) is required",
                field="prompt_version_ids",
            )
        if req.metrics is None:
            raise Unprocessable("metrics is required with prompt_version_ids", field="metrics")
        try:
            metrics = validate_metric_names(req.metrics)
        except ValueError as exc:
            raise Unprocessable(str(exc), field="metrics") from exc
        ranking = [m for m in metrics if METRIC_SPECS[m].kind == "ranking"]
        if ranking:
            raise Unprocessable(
                f"{ranking}: ranking metrics score retrieval_configs, not prompt versions",
                field="metrics",
            )
        datasets = DatasetService(self.session, self.principal)
        dataset = await datasets.get(req.dataset_id)
        prompts = PromptService(self.session, self.principal)
        for vid in version_ids:
            version = await prompts.get_version(vid)
            prompt = await prompts.get_prompt(version.prompt_id)
            if prompt.project_id != dataset.project_id:
                raise Unprocessable(
                    f"prompt version {vid} is not in the dataset's project",
                    field="prompt_version_ids",
                )
        if len(set(version_ids)) != len(version_ids):
            raise Unprocessable(
                "prompt_version_ids contains duplicates", field="prompt_version_ids"
            )
        ids = [str(v) for v in version_ids]
        return await self._launch(
            req,
            dataset,
            metrics,
            ids,
            lambda evaluation_id: {
                "workflow_id": evaluation_id,
                "max_examples": req.limit,
                "positive_label": req.positive_label,
            },
            {},
        )

    async def _start_retrieval(self, req: EvalRunRequest) -> str:
        """Start a retrieval evaluation: ``retrieval_configs`` x every example's query."""
        metrics = retrieval_metrics(req.metrics)
        granularity = req.granularity or "page"
        dataset = await DatasetService(self.session, self.principal).get(req.dataset_id)
        configs = await retrieval_configs(self.session, self.principal, self.settings, req, dataset)
        return await self._launch(
            req,
            dataset,
            metrics,
            [],
            lambda evaluation_id: retrieval_evaluation_config(
                evaluation_id, req.limit, granularity, configs
            ),
            {"retrieval_configs": configs, "granularity": granularity},
        )

    async def _launch(
        self,
        req: EvalRunRequest,
        dataset: Any,
        metrics: list[str],
        version_ids: list[str],
        config: Callable[[str], dict[str, Any]],
        extra: dict[str, Any],
    ) -> str:
        """Record the evaluation row, start its workflow (``extra``: more fields of its
        input) and audit it."""
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
                prompt_version_ids=version_ids,
                metrics=metrics,
                config=config(evaluation_id),
                status="Running",
            )
        )
        await self.session.flush()
        await self.client.start_workflow(
            BatchEvaluationWorkflow.run,
            BatchEvaluationInput(
                evaluation_id=evaluation_id,
                prompt_version_ids=version_ids,
                dataset_id=str(dataset.id),
                metrics=metrics,
                concurrency=req.concurrency,
                chunk_size=req.chunk_size,
                max_examples=req.limit,
                positive_label=req.positive_label,
                **extra,
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
        after: dict[str, Any] = {
            "dataset_id": str(dataset.id),
            "metrics": metrics,
            "prompt_version_ids": version_ids,
        }
        if "retrieval_configs" in extra:
            after["retrieval_configs"] = [c.as_dict() for c in extra["retrieval_configs"]]
        await self._audit("evaluation.start", evaluation_id, after=after)
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

    async def _evaluation(self, evaluation_id: str) -> Evaluation:
        """The caller's evaluation, else NotFound: only evaluations of the caller's
        organization (and project scope) exist for it, and Temporal is not asked about other
        ids, so nothing leaks across tenants."""
        evaluation = await EvaluationRepository(self.session).get(
            evaluation_id, self.principal.organization_id, self.principal.project_id
        )
        if evaluation is None:
            raise NotFound(f"evaluation {evaluation_id} not found")
        return evaluation

    async def _live(
        self, evaluation_id: str, *, details: bool = True
    ) -> tuple[str | None, dict[str, Any] | None, str | None]:
        """The workflow's status name, its progress query while it runs and the failure
        reason when it failed (``details``); ``(None, None, None)`` when Temporal cannot
        say."""
        status, progress, error = None, None, None
        if self.client is None:
            return status, progress, error
        handle = self.client.get_workflow_handle(evaluation_id)
        try:
            desc = await handle.describe(rpc_timeout=timedelta(seconds=2))
            status = STATUS_NAMES.get(desc.status, "Unknown") if desc.status else None
            if details and desc.status == WorkflowExecutionStatus.RUNNING:
                progress = await handle.query("progress", rpc_timeout=timedelta(seconds=2))
            elif details and desc.status == WorkflowExecutionStatus.FAILED:
                error = await _failure_message(handle)
        except RPCError:
            pass
        return status, progress, error

    async def get(self, evaluation_id: str, *, rows_limit: int = 1000) -> dict[str, Any]:
        """The evaluation with its live status and progress, summary and first ``rows_limit``
        per-example rows. A retrieval evaluation's rows: ``example_id``, ``input``,
        ``expected``, ``config_id``, ``label``, ``metrics``, ``hits`` (``chunk_id``,
        ``source``, ``anchor``, ``score``, best first), ``ranking`` (the judged id each hit
        stands for) and ``latency_ms``."""
        repo = EvaluationRepository(self.session)
        evaluation = await self._evaluation(evaluation_id)
        status, progress, error = await self._live(evaluation_id)
        configs = retrieval_configs_of(evaluation)
        retrieval = RetrievalEvalRepository(self.session) if configs is not None else None
        if retrieval is not None:
            stored_done = await retrieval.count(evaluation_id)
        else:
            stored_done = await repo.count_runs(evaluation_id)
        total = (progress or {}).get("total") or 0
        if not total and evaluation.summary:
            total = sum(v.get("n", 0) for v in evaluation.summary.get("versions", []))
        final_status = (
            evaluation.status if evaluation.status != "Running" else (status or "Running")
        )
        version_ids = [str(v) for v in evaluation.prompt_version_ids]
        versions = await repo.versions(version_ids)
        return {
            "id": evaluation_id,
            "status": final_status,
            "project_id": evaluation.project_id,
            "dataset_id": evaluation.dataset_id,
            "dataset_name": await repo.dataset_name(evaluation.dataset_id),
            "prompt_version_ids": version_ids,
            "versions": [versions[v] for v in version_ids if v in versions],
            "metrics": list(evaluation.metrics),
            "created_at": evaluation.created_at,
            "completed_at": evaluation.completed_at,
            "progress": {
                "done": max(stored_done, (progress or {}).get("done") or 0),
                "total": max(total, stored_done),
                "versions": (progress or {}).get("versions") or [],
            },
            "summary": evaluation.summary,
            "rows": await self._rows(evaluation_id, configs, rows_limit),
            "temporal_ui_url": temporal_ui_link(self.settings, evaluation_id),
            "error": error,
            "retrieval_configs": configs or [],
            "granularity": evaluation.config.get("granularity") if configs is not None else None,
        }

    async def _rows(
        self, evaluation_id: str, configs: list[dict[str, Any]] | None, limit: int
    ) -> list[dict[str, Any]]:
        if not limit:
            return []
        if configs is None:
            return await EvaluationRepository(self.session).rows(evaluation_id, limit=limit)
        labels = {c["config_id"]: c["label"] for c in configs}
        rows = await RetrievalEvalRepository(self.session).rows(evaluation_id, limit=limit)
        for row in rows:
            row["label"] = labels.get(row["config_id"], row["config_id"])
        return rows

    async def list_for_project(
        self, project_id: uuid.UUID, *, offset: int, limit: int
    ) -> dict[str, Any]:
        """A page of the project's evaluations, newest first. A row still marked Running is
        asked about at Temporal (one describe each, concurrently), so an evaluation whose
        workflow failed before it could record its end shows Failed."""
        await PromptService(self.session, self.principal).get_project(project_id)
        repo = EvaluationRepository(self.session)
        page, count = await repo.list_for_project(project_id, offset=offset, limit=limit)
        running = [e.id for e, _ in page if e.status == "Running"]
        live = dict(
            zip(
                running,
                await asyncio.gather(*(self._live(i, details=False) for i in running)),
                strict=True,
            )
        )
        versions = await repo.versions(
            sorted({str(v) for e, _ in page for v in e.prompt_version_ids})
        )
        data = []
        for evaluation, dataset_name in page:
            status = evaluation.status
            if status == "Running":
                status = live[evaluation.id][0] or "Running"
            data.append(
                {
                    "id": evaluation.id,
                    "status": status,
                    "dataset_id": evaluation.dataset_id,
                    "dataset_name": dataset_name,
                    "versions": [
                        versions[str(v)]
                        for v in evaluation.prompt_version_ids
                        if str(v) in versions
                    ],
                    "retrieval_configs": retrieval_configs_of(evaluation) or [],
                    "metrics": list(evaluation.metrics),
                    "created_at": evaluation.created_at,
                    "completed_at": evaluation.completed_at,
                    "temporal_ui_url": temporal_ui_link(self.settings, evaluation.id),
                }
            )
        return {"data": data, "count": count}

    async def examples(
        self, evaluation_id: str, *, offset: int, limit: int, disagreements: bool
    ) -> dict[str, Any]:
        """A page of per-example rows (see :meth:`EvaluationRepository.example_rows`); not
        for retrieval evaluations (422: their rows are in :meth:`get`)."""
        ensure_not_retrieval(await self._evaluation(evaluation_id))
        data, count = await EvaluationRepository(self.session).example_rows(
            evaluation_id, offset=offset, limit=limit, disagreements=disagreements
        )
        return {"data": data, "count": count}

    async def rows_csv(self, evaluation_id: str) -> str:
        """Every per-example row of the evaluation as CSV (RFC 4180, header first): one line
        per example and version, in dataset order. Columns: ``example_id``, ``prompt``,
        ``version``, ``prompt_version_id``, ``input``, ``expected`` (JSON text unless a
        string), ``output``, ``predicted_label``, ``success``, ``error``, ``latency_ms``,
        ``tokens_in``, ``tokens_out``, ``cost_usd`` (USD), then one column per stored metric
        value (:func:`promptops.evaluation.metrics.stored_metric_names`; empty when a run has
        none, e.g. a failed call). Text cells that a spreadsheet would run as a formula
        (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) get a leading
        ``'`` (OWASP's advice on CSV injection): model outputs are untrusted text. Not for
        retrieval evaluations (422: their rows are in :meth:`get`)."""
        evaluation = ensure_not_retrieval(await self._evaluation(evaluation_id))
        repo = EvaluationRepository(self.session)
        metric_names = stored_metric_names(
            m for m in evaluation.metrics if isinstance(m, str) and m in METRIC_SPECS
        )
        versions = await repo.versions([str(v) for v in evaluation.prompt_version_ids])
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([*CSV_COLUMNS, *metric_names])
        offset = 0
        while True:
            page = await repo.rows(evaluation_id, offset=offset, limit=CSV_PAGE)
            for row in page:
                version = versions.get(row["prompt_version_id"], {})
                writer.writerow(
                    [
                        _cell(row["example_id"]),
                        _cell(version.get("prompt_name", "")),
                        version.get("version", ""),
                        row["prompt_version_id"],
                        _cell(row["input"]),
                        _cell(row["expected"]),
                        _cell(row["output"]),
                        _cell(row["predicted_label"]),
                        "true" if row["success"] else "false",
                        _cell(row["error"]),
                        row["latency_ms"],
                        row["tokens_in"],
                        row["tokens_out"],
                        row["cost_usd"],
                        *(row["metrics"].get(name, "") for name in metric_names),
                    ]
                )
            if len(page) < CSV_PAGE:
                break
            offset += CSV_PAGE
        return out.getvalue()

    async def cancel(self, evaluation_id: str) -> None:
        await self._evaluation(evaluation_id)
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
