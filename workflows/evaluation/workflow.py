"""``BatchEvaluationWorkflow``: run every prompt version over a dataset and score it, durably.

The dataset is cut into units (version x chunk of ``chunk_size`` examples); one activity runs one
unit with at most ``concurrency`` LLM calls in flight and records each example idempotently, so
a crash of the worker or of the Temporal server resumes at the first unfinished example. The
history stays bounded: one activity per unit, and continue-as-new when Temporal suggests it.

A retrieval evaluation (``retrieval_configs``) has the same shape: its units are (retrieval
configuration x chunk of examples), run by ``evaluate_retrieval_chunk``, and the summary holds
one "version" per configuration.
"""

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.errors import INVALID_INPUT
    from activities.evaluation.declarations import (
        evaluate_chunk,
        evaluate_retrieval_chunk,
        finalize_evaluation,
        plan_evaluation,
    )
    from activities.evaluation.types import (
        EvaluateChunkInput,
        EvaluateChunkResult,
        EvaluateRetrievalChunkInput,
        EvaluateRetrievalChunkResult,
        FinalizeEvaluationInput,
        FinalizeEvaluationResult,
        MetricSum,
        PlanEvaluationInput,
    )
    from activities.retry_policies import STANDARD
    from workflows.evaluation.types import (
        BatchEvaluationInput,
        BatchEvaluationState,
        EvaluationProgress,
        VersionProgress,
    )
    from workflows.search_attributes import DATASET_ID, EVAL_ID

__all__ = ["DATASET_ID", "EVAL_ID", "BatchEvaluationWorkflow"]

#: What a unit's activity returns (per prompt version or per retrieval configuration).
ChunkResult = EvaluateChunkResult | EvaluateRetrievalChunkResult

#: ``workflow.patched`` id: the chunk activity is cancelled with WAIT_CANCELLATION_COMPLETED.
WAIT_CHUNK_CANCELLATION = "evaluate-chunk-wait-cancellation"


@workflow.defn(name="BatchEvaluationWorkflow")
class BatchEvaluationWorkflow:
    def __init__(self) -> None:
        self._input: BatchEvaluationInput | None = None
        self._state = BatchEvaluationState()

    @workflow.run
    async def run(self, inp: BatchEvaluationInput) -> FinalizeEvaluationResult:
        self._input = inp
        if inp.concurrency < 1:
            raise ApplicationError(
                "concurrency must be >= 1", type=INVALID_INPUT, non_retryable=True
            )
        if inp.chunk_size < 0:
            raise ApplicationError(
                "chunk_size must be >= 0 (0 = automatic)", type=INVALID_INPUT, non_retryable=True
            )
        if not inp.prompt_version_ids and not inp.retrieval_configs:
            raise ApplicationError(
                "prompt_version_ids must not be empty (or give retrieval_configs)",
                type=INVALID_INPUT,
                non_retryable=True,
            )
        if inp.prompt_version_ids and inp.retrieval_configs:
            raise ApplicationError(
                "give prompt_version_ids or retrieval_configs, not both",
                type=INVALID_INPUT,
                non_retryable=True,
            )
        if inp.state is not None:
            # Continued as new: pick up where the previous run stopped.
            self._state = inp.state
        else:
            plan = await workflow.execute_activity(
                plan_evaluation,
                PlanEvaluationInput(
                    evaluation_id=inp.evaluation_id,
                    workflow_id=workflow.info().workflow_id,
                    prompt_version_ids=inp.prompt_version_ids,
                    dataset_id=inp.dataset_id,
                    metrics=inp.metrics,
                    max_examples=inp.max_examples,
                    positive_label=inp.positive_label,
                    retrieval_configs=inp.retrieval_configs,
                    granularity=inp.granularity,
                ),
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=STANDARD,
            )
            ids = inp.prompt_version_ids or [c.config_id for c in inp.retrieval_configs]
            self._state = BatchEvaluationState(
                total_per_version=plan.total_per_version,
                labels=plan.labels,
                versions=[VersionProgress(version_id=v) for v in ids],
            )
        units = self._units()
        chunks_this_run = 0
        try:
            while self._state.next_unit < len(units):
                if (
                    inp.chunks_per_run
                    and chunks_this_run >= inp.chunks_per_run
                    or (workflow.info().is_continue_as_new_suggested())
                ):
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    workflow.continue_as_new(dataclasses.replace(inp, state=self._state))
                version_index, offset = units[self._state.next_unit]
                version = self._state.versions[version_index]
                # On cancel, wait until the chunk activity has really stopped (it learns of the
                # cancel at its next heartbeat, or completes first), so no example is recorded
                # after the summary. Histories from before this change cancelled without waiting.
                wait_cancel = workflow.patched(WAIT_CHUNK_CANCELLATION)
                handle = self._start_chunk(version_index, offset, wait_cancel)
                try:
                    # The shield keeps a workflow cancel from being swallowed when the chunk
                    # completes anyway: the SDK would hand back its result as if not cancelled.
                    chunk = await (asyncio.shield(handle) if wait_cancel else handle)
                except asyncio.CancelledError:
                    if wait_cancel:
                        handle.cancel()
                        try:
                            late: ChunkResult | None = await handle
                        except (ActivityError, asyncio.CancelledError):
                            late = None  # stopped part-way; finalize reads its stored rows
                        if late is not None:
                            self._merge(version, late)
                            self._state.next_unit += 1
                    raise
                self._merge(version, chunk)
                self._state.next_unit += 1
                chunks_this_run += 1
        except (asyncio.CancelledError, ActivityError) as exc:
            # A cancelled activity surfaces as ActivityError caused by Temporal's CancelledError
            # (not asyncio's): is_cancelled_exception covers both forms.
            cancelled = is_cancelled_exception(exc)
            self._state.status = "Cancelled" if cancelled else "Failed"
            # Record what was finished so far, then end as cancelled/failed.
            await asyncio.shield(asyncio.ensure_future(self._finalize(self._state.status)))
            raise
        self._state.status = "Completed"
        result = await self._finalize("Completed")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    @property
    def _inp(self) -> BatchEvaluationInput:
        if self._input is None:
            raise ApplicationError("workflow input not set", non_retryable=True)
        return self._input

    @property
    def _chunk_size(self) -> int:
        inp = self._inp
        return inp.chunk_size or max(50, 20 * inp.concurrency)

    def _units(self) -> list[tuple[int, int]]:
        size = self._chunk_size
        total = self._state.total_per_version
        return [
            (vi, offset)
            for vi in range(len(self._state.versions))
            for offset in range(0, total, size)
        ]

    def _start_chunk(
        self, version_index: int, offset: int, wait_cancel: bool
    ) -> workflow.ActivityHandle[ChunkResult]:
        """Start the activity of one unit: ``evaluate_chunk`` for a prompt version,
        ``evaluate_retrieval_chunk`` for a retrieval configuration."""
        inp = self._inp
        limit = min(self._chunk_size, self._state.total_per_version - offset)
        options: dict[str, Any] = {
            # An example can take a while on a small CPU model; the heartbeat timeout notices
            # a dead worker long before the chunk's deadline.
            "start_to_close_timeout": timedelta(minutes=30),
            "heartbeat_timeout": timedelta(seconds=inp.heartbeat_timeout_s),
            "retry_policy": STANDARD,
            "cancellation_type": (
                ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
                if wait_cancel
                else ActivityCancellationType.TRY_CANCEL
            ),
        }
        if inp.retrieval_configs:
            return workflow.start_activity(
                evaluate_retrieval_chunk,
                EvaluateRetrievalChunkInput(
                    evaluation_id=inp.evaluation_id,
                    workflow_id=workflow.info().workflow_id,
                    config=inp.retrieval_configs[version_index],
                    dataset_id=inp.dataset_id,
                    offset=offset,
                    limit=limit,
                    metrics=inp.metrics,
                    granularity=inp.granularity,
                ),
                **options,
            )
        return workflow.start_activity(
            evaluate_chunk,
            EvaluateChunkInput(
                evaluation_id=inp.evaluation_id,
                workflow_id=workflow.info().workflow_id,
                prompt_version_id=self._state.versions[version_index].version_id,
                dataset_id=inp.dataset_id,
                offset=offset,
                limit=limit,
                metrics=inp.metrics,
                concurrency=inp.concurrency,
                labels=self._state.labels,
            ),
            **options,
        )

    @staticmethod
    def _merge(version: VersionProgress, chunk: ChunkResult) -> None:
        version.done += chunk.done
        version.errors += chunk.errors
        for name, s in chunk.sums.items():
            acc = version.sums.setdefault(name, MetricSum())
            acc.total += s.total
            acc.count += s.count

    async def _finalize(self, status: str) -> FinalizeEvaluationResult:
        return await workflow.execute_activity(
            finalize_evaluation,
            FinalizeEvaluationInput(
                evaluation_id=self._inp.evaluation_id,
                status=status,
                positive_label=self._inp.positive_label,
            ),
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=STANDARD,
        )

    @workflow.query(name="progress")
    def progress(self) -> EvaluationProgress:
        """Examples done / total over all versions, and running means per version."""
        inp = self._input
        total = self._state.total_per_version * len(self._state.versions)
        labels = {c.config_id: c.label for c in inp.retrieval_configs} if inp else {}
        return EvaluationProgress(
            evaluation_id=inp.evaluation_id if inp else "",
            status=self._state.status,
            done=sum(v.done for v in self._state.versions),
            total=total,
            versions=[
                {
                    "version_id": v.version_id,
                    **({"label": labels[v.version_id]} if v.version_id in labels else {}),
                    "done": v.done,
                    "errors": v.errors,
                    "means": {name: v.mean(name) for name in sorted(v.sums)},
                }
                for v in self._state.versions
            ],
        )
