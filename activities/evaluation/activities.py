"""Evaluation activities: plan, evaluate a chunk of examples, finalize.

Every example is one model call through the model-call pipeline (the project's routing,
budget, structured-output validation; never its caches: an evaluation measures the model), and
every write is idempotent: a run is keyed by ``{evaluation_id}:{version_id}:{example_id}``
(unique ``runs.idempotency_key``) and written with its metric values in one statement
(:class:`activities.evaluation.scoring.ScoredRun`), so an activity retried after a worker crash
skips the examples that already finished and can never write a row twice.

A retrieval evaluation (``retrieval_configs`` instead of prompt versions) runs each example's
query through each retrieval configuration instead, and scores the ranking against the
example's qrels (:mod:`activities.evaluation.retrieval`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities.errors import application_error
from activities.evaluation.retrieval import RetrievalEvaluation
from activities.evaluation.scoring import ScoredRun
from activities.evaluation.types import (
    RETRIEVAL_KIND,
    EvaluateChunkInput,
    EvaluateChunkResult,
    EvaluateRetrievalChunkInput,
    EvaluateRetrievalChunkResult,
    FinalizeEvaluationInput,
    FinalizeEvaluationResult,
    MetricSum,
    PlanEvaluationInput,
    PlanEvaluationResult,
)
from activities.outages import database_outage_retryable
from promptops.db.connection import SessionSQL
from promptops.db.models import Example
from promptops.db.repositories.evaluations import EvaluationRunRepository
from promptops.db.repositories.serving import ServingRepository
from promptops.db.session import get_session_factory
from promptops.errors import (
    InvalidInput,
    NotFound,
    PromptOpsError,
    ProviderFailed,
    ServiceUnavailable,
)
from promptops.evaluation.metrics import (
    METRIC_SPECS,
    RANKING_METRIC_NAMES,
    validate_metric_names,
)
from promptops.evaluation.summary import ExampleRow, summarize
from promptops.llm.pipeline import CallRequest, Pipeline, RunLink
from promptops.retrieval.embedding_models import PassageEmbedder, get_passage_embedder
from promptops.retrieval.search import Reranker

log = logging.getLogger(__name__)


def run_key(evaluation_id: str, version_id: str, example_id: str) -> str:
    return f"{evaluation_id}:{version_id}:{example_id}"


def example_variables(example_input: Any, declared: dict[str, Any]) -> dict[str, Any]:
    """Map an example's ``input`` onto a version's variables.

    An object input supplies variables by name; a scalar input fills the single declared
    variable.
    """
    if isinstance(example_input, dict):
        return dict(example_input)
    if len(declared) == 1:
        return {next(iter(declared)): example_input}
    return {"input": example_input}


class _Slot:
    """One of a chunk's ``concurrency`` slots: taken before an example's model call, given
    back as soon as its provider answered (the call's ``after_provider``) or when the call
    ends, whichever comes first (once)."""

    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        self.semaphore = semaphore
        self.held = False

    async def acquire(self) -> None:
        await self.semaphore.acquire()
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.semaphore.release()


class EvaluationActivities:
    """Built with its clients: a database URL (the activities' own bookkeeping), the
    model-call :class:`promptops.llm.pipeline.Pipeline`, and for retrieval evaluations the
    passage embedder factory (an index's model name -> embedder) and the configured
    cross-encoder (None: ``rerank`` configurations are refused)."""

    def __init__(
        self,
        database_url: str,
        pipeline: Pipeline,
        embedder_factory: Callable[[], Any] | None = None,
        *,
        passage_embedder_factory: Callable[[str], PassageEmbedder] = get_passage_embedder,
        reranker: Reranker | None = None,
    ) -> None:
        self._sessions = get_session_factory(database_url)
        self._pipeline = pipeline
        self._embedder_factory = embedder_factory
        self._embedder: Any = None
        self._retrieval = RetrievalEvaluation(self._sessions, passage_embedder_factory, reranker)

    def _get_embedder(self) -> Any:
        if self._embedder is None:
            if self._embedder_factory is None:
                from promptops.embeddings import get_embedder

                self._embedder = get_embedder()
            else:
                self._embedder = self._embedder_factory()
        return self._embedder

    @activity.defn(name="plan_evaluation")
    @database_outage_retryable
    async def plan_evaluation(self, inp: PlanEvaluationInput) -> PlanEvaluationResult:
        """Validate the request, record the evaluation row, count examples, collect labels
        (a retrieval evaluation: check its configurations and every example's qrels)."""
        try:
            validate_metric_names(inp.metrics)
        except ValueError as exc:
            raise application_error(InvalidInput(str(exc))) from exc
        async with self._sessions() as session:
            repo = EvaluationRunRepository(session)
            dataset_id = uuid.UUID(inp.dataset_id)
            dataset = await repo.dataset(dataset_id)
            if dataset is None:
                raise application_error(NotFound(f"dataset {inp.dataset_id} not found"))
            if inp.retrieval_configs:
                try:
                    total = await self._retrieval.plan(session, inp, dataset)
                except PromptOpsError as exc:
                    raise application_error(exc) from exc
                await session.commit()
                return PlanEvaluationResult(total_per_version=total, labels=[])
            ranking = [m for m in inp.metrics if m in RANKING_METRIC_NAMES]
            if ranking:
                raise application_error(
                    InvalidInput(f"{ranking}: ranking metrics need retrieval_configs")
                )
            projects = await repo.version_projects([uuid.UUID(v) for v in inp.prompt_version_ids])
            for vid in inp.prompt_version_ids:
                project_id = projects.get(uuid.UUID(vid))
                if project_id is None:
                    raise application_error(NotFound(f"prompt version {vid} not found"))
                if project_id != dataset.project_id:
                    raise application_error(
                        InvalidInput(
                            f"prompt version {vid} and dataset {inp.dataset_id} belong to "
                            "different projects"
                        )
                    )
            total = await repo.count_examples(dataset_id)
            if inp.max_examples is not None:
                total = min(total, inp.max_examples)
            labels: list[str] = []
            if any(METRIC_SPECS[m].kind == "label" for m in inp.metrics):
                labels = await repo.expected_labels(dataset_id)
            await repo.start(
                inp.evaluation_id,
                dataset.project_id,
                dataset_id,
                inp.prompt_version_ids,
                inp.metrics,
                {
                    "workflow_id": inp.workflow_id,
                    "max_examples": inp.max_examples,
                    "positive_label": inp.positive_label,
                },
            )
            await session.commit()
        return PlanEvaluationResult(total_per_version=total, labels=labels)

    @activity.defn(name="evaluate_chunk")
    @database_outage_retryable
    async def evaluate_chunk(self, inp: EvaluateChunkInput) -> EvaluateChunkResult:
        """Run and score examples ``[offset, offset + limit)`` for one version.

        Examples already recorded for this evaluation are skipped (their stored values are
        still counted in the result). At most ``concurrency`` model calls are in flight.
        Heartbeats the number of finished examples. A provider failure Temporal may retry
        fails the activity (finished examples are kept); a non-retryable one is recorded as a
        failed example; bad input, an unknown model or policy and an exhausted budget fail the
        evaluation non-retryably."""
        async with self._sessions() as session:
            repo = EvaluationRunRepository(session)
            found = await repo.version_with_project(uuid.UUID(inp.prompt_version_id))
            if found is None:
                raise application_error(
                    NotFound(f"prompt version {inp.prompt_version_id} not found")
                )
            version, project_id = found
            project = await ServingRepository(SessionSQL(session)).project(project_id)
            examples = list(await repo.examples(uuid.UUID(inp.dataset_id), inp.offset, inp.limit))
            keys = [run_key(inp.evaluation_id, inp.prompt_version_id, str(e.id)) for e in examples]
            done_runs = await repo.finished(keys)
        result = EvaluateChunkResult(
            prompt_version_id=inp.prompt_version_id, done=0, errors=0, executed=0, sums={}
        )

        def add(values: dict[str, float], success: bool, latency_ms: float, cost: float) -> None:
            result.done += 1
            result.errors += 0 if success else 1
            for name, value in {**values, "latency_ms": latency_ms, "cost_usd": cost}.items():
                s = result.sums.setdefault(name, MetricSum())
                s.total += float(value)
                s.count += 1

        # Count finished examples first so progress and means include them.
        for run in done_runs.values():
            add(run.values, run.success, run.latency_ms, run.cost_usd)
        semaphore = asyncio.Semaphore(max(1, inp.concurrency))
        # The chunk's run records commit in groups: the examples that finish while one group
        # is being written go together (a few commits per chunk instead of one per example).
        commits = await self._pipeline.commit_group()
        score_names = [m for m in inp.metrics if METRIC_SPECS[m].kind not in ("latency", "cost")]
        embedder = self._get_embedder() if "embedding_similarity" in score_names else None

        async def one(example: Example, key: str) -> None:
            sink = ScoredRun(
                inp.evaluation_id,
                score_names,
                "" if example.expected is None else str(example.expected),
                inp.labels,
                embedder,
            )
            request = CallRequest(
                source="evaluation",
                version=version,
                project=project,
                variables=example_variables(example.input, version.variables),
                cache=False,
                run=RunLink(
                    idempotency_key=key,
                    workflow_id=activity.info().workflow_id,
                    evaluation_id=inp.evaluation_id,
                    example_id=example.id,
                ),
                sink=sink,
                commit_group=commits,
            )
            slot = _Slot(semaphore)
            request.after_provider = slot.release
            await slot.acquire()
            try:
                await self._pipeline.run(request)
            except ProviderFailed as exc:
                if exc.retryable:
                    raise  # Temporal retries the activity; finished examples are kept.
                # Recorded (and scored) as a failed example by the sink.
            except ServiceUnavailable:
                raise  # retried by Temporal (database_outage_retryable maps it)
            except PromptOpsError as exc:
                raise application_error(exc, f"example {example.external_id}: ") from exc
            finally:
                slot.release()  # a call that never reached the provider
            add(sink.values, sink.success, sink.latency_ms, sink.cost_usd)
            activity.heartbeat(result.done)

        todo = [(e, k) for e, k in zip(examples, keys, strict=True) if k not in done_runs]
        tasks = [asyncio.ensure_future(one(e, k)) for e, k in todo]
        try:
            await asyncio.gather(*tasks)
        finally:
            # On a failure, stop the other examples; what already finished is written.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await commits.aclose()
        result.executed = len(todo)
        return result

    @activity.defn(name="evaluate_retrieval_chunk")
    @database_outage_retryable
    async def evaluate_retrieval_chunk(
        self, inp: EvaluateRetrievalChunkInput
    ) -> EvaluateRetrievalChunkResult:
        """Run examples ``[offset, offset + limit)`` through one retrieval configuration and
        record each one's ranking and metrics idempotently (recorded examples are skipped and
        counted); heartbeats the number done. Bad input and a missing index fail the
        evaluation non-retryably."""
        try:
            return await self._retrieval.evaluate_chunk(inp)
        except PromptOpsError as exc:
            raise application_error(exc) from exc

    @activity.defn(name="finalize_evaluation")
    @database_outage_retryable
    async def finalize_evaluation(self, inp: FinalizeEvaluationInput) -> FinalizeEvaluationResult:
        """Aggregate all stored rows (bootstrap CIs, paired comparisons) and store the summary."""
        async with self._sessions() as session:
            repo = EvaluationRunRepository(session)
            evaluation = await repo.evaluation(inp.evaluation_id)
            if evaluation is None:
                raise application_error(NotFound(f"evaluation {inp.evaluation_id} not found"))
            if (evaluation.config or {}).get("kind") == RETRIEVAL_KIND:
                summary = await self._retrieval.summarize(session, evaluation)
                await repo.finish(inp.evaluation_id, inp.status, summary)
                await session.commit()
                return FinalizeEvaluationResult(status=inp.status, summary=summary)
            runs, results = await repo.scored_runs(inp.evaluation_id)
            values: dict[uuid.UUID, dict[str, float]] = {}
            labels: dict[uuid.UUID, str | None] = {}
            for run_id, metric, value, details in results:
                values.setdefault(run_id, {})[metric] = value
                if METRIC_SPECS[metric].kind == "label":
                    labels[run_id] = details
            rows_by_version: dict[str, list[ExampleRow]] = {
                v: [] for v in evaluation.prompt_version_ids
            }
            for run, external_id, expected in runs:
                rows_by_version.setdefault(str(run.prompt_version_id), []).append(
                    ExampleRow(
                        example_id=external_id,
                        values=values.get(run.id, {}),
                        predicted_label=labels.get(run.id),
                        expected=None if expected is None else str(expected),
                        latency_ms=run.latency_ms,
                        tokens_in=run.tokens_in,
                        tokens_out=run.tokens_out,
                        cost_usd=float(run.cost_usd),
                        success=run.success,
                    )
                )
            for rows in rows_by_version.values():
                rows.sort(key=lambda r: r.example_id)
            summary = await asyncio.to_thread(
                summarize,
                rows_by_version,
                list(evaluation.metrics),
                positive_label=inp.positive_label,
            )
            await repo.finish(inp.evaluation_id, inp.status, summary)
            await session.commit()
        return FinalizeEvaluationResult(status=inp.status, summary=summary)
