"""``IngestionWorkflow``: list a source, ingest its documents in batches, remove the ones that
went, expire what the TTL says; ``RetrievalMaintenanceWorkflow``: the scheduled TTL sweep and
re-index.

Durable: every batch is an idempotent activity (:mod:`activities.ingestion.activities`) that
heartbeats the documents it finished, so a kill -9 of the worker or of the Temporal server
resumes at the first unfinished document without duplicate or missing chunks. The history stays
bounded: one activity per batch, and continue-as-new when Temporal suggests it. Deterministic:
all I/O is in the activities.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.ingestion.declarations import (
        finish_ingestion,
        ingest_batch,
        list_source_documents,
        plan_retrieval_maintenance,
    )
    from activities.ingestion.types import (
        FinishIngestionInput,
        IngestBatchInput,
        ListSourceInput,
    )
    from activities.ingestion.types import (
        RetrievalMaintenanceInput as PlanMaintenanceInput,
    )
    from activities.retry_policies import STANDARD
    from workflows.ingestion.types import (
        IngestionInput,
        IngestionProgress,
        RetrievalMaintenanceInput,
        RetrievalMaintenanceResult,
        ingestion_workflow_id,
    )

__all__ = ["IngestionWorkflow", "RetrievalMaintenanceWorkflow"]


@workflow.defn(name="IngestionWorkflow")
class IngestionWorkflow:
    def __init__(self) -> None:
        self._progress = IngestionProgress()

    @workflow.query(name="progress")
    def progress(self) -> IngestionProgress:
        """Documents done of the total, what happened to them, the index's size at the end."""
        return self._progress

    @workflow.run
    async def run(self, inp: IngestionInput) -> IngestionProgress:
        if inp.progress is not None:
            self._progress = inp.progress
        documents = inp.documents
        if documents is None:
            listed = await workflow.execute_activity(
                list_source_documents,
                ListSourceInput(index_id=inp.index_id, source_id=inp.source_id),
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=STANDARD,
            )
            documents = listed.documents
            self._progress.documents_total = len(documents)
        self._progress.status = "Ingesting"
        size = max(1, inp.batch_size)
        batch = inp.next_batch
        while batch * size < len(documents):
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    dataclasses.replace(
                        inp, documents=documents, progress=self._progress, next_batch=batch
                    )
                )
            result = await workflow.execute_activity(
                ingest_batch,
                IngestBatchInput(
                    index_id=inp.index_id,
                    source_id=inp.source_id,
                    documents=documents[batch * size : (batch + 1) * size],
                    force=inp.force,
                ),
                # Embedding a batch of long documents takes minutes on 2 cores; the heartbeat
                # timeout notices a dead worker long before that.
                start_to_close_timeout=timedelta(hours=1),
                heartbeat_timeout=timedelta(seconds=inp.heartbeat_timeout_s),
                retry_policy=STANDARD,
            )
            p = self._progress
            p.documents_done += result.done
            p.skipped += result.skipped
            p.added += result.added
            p.replaced += result.replaced
            p.chunks_written += result.chunks_written
            p.duplicates += result.duplicates
            p.embed_seconds += result.embed_seconds
            p.errors.extend(result.errors[: max(0, 100 - len(p.errors))])
            batch += 1
        self._progress.status = "Finishing"
        failed = {e.source for e in self._progress.errors}
        # A document that could not be read this time is kept, not removed.
        keep = [d for d in documents] + sorted(failed)
        finished = await workflow.execute_activity(
            finish_ingestion,
            FinishIngestionInput(
                index_id=inp.index_id,
                source_id=inp.source_id,
                workflow_id=workflow.info().workflow_id,
                keep=keep,
                stats={
                    "documents": self._progress.documents_total,
                    "skipped": self._progress.skipped,
                    "added": self._progress.added,
                    "replaced": self._progress.replaced,
                    "chunks_written": self._progress.chunks_written,
                    "duplicates": self._progress.duplicates,
                    "errors": len(self._progress.errors),
                },
            ),
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=STANDARD,
        )
        self._progress.removed = finished.removed
        self._progress.expired = finished.expired
        self._progress.documents_in_index = finished.documents
        self._progress.chunks_in_index = finished.chunks
        self._progress.status = "Completed"
        return self._progress


@workflow.defn(name="RetrievalMaintenanceWorkflow")
class RetrievalMaintenanceWorkflow:
    """Started by the schedule ``retrieval-maintenance``: expires documents past their index's
    TTL and starts an ``IngestionWorkflow`` (abandoned child, with the business-key id of its
    index and source, so one already running is left alone) for every source whose re-index
    interval has passed."""

    @workflow.run
    async def run(self, inp: RetrievalMaintenanceInput) -> RetrievalMaintenanceResult:
        plan = await workflow.execute_activity(
            plan_retrieval_maintenance,
            PlanMaintenanceInput(),
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=STANDARD,
        )
        started: list[str] = []
        for due in plan.due:
            child_id = ingestion_workflow_id(due.index_id, due.source_key)
            try:
                await workflow.start_child_workflow(
                    IngestionWorkflow.run,
                    IngestionInput(index_id=due.index_id, source_id=due.source_id),
                    id=child_id,
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                )
                started.append(child_id)
            except WorkflowAlreadyStartedError:
                continue  # an ingestion of that source is running: it is the re-index
        return RetrievalMaintenanceResult(expired=plan.expired, reingested=started)
