"""Typed declarations of the ingestion and retrieval activities (implemented by
:class:`activities.ingestion.activities.IngestionActivities`; see :mod:`activities`)."""

from __future__ import annotations

from temporalio import activity

from activities.ingestion.types import (
    FinishIngestionInput,
    FinishIngestionResult,
    IngestBatchInput,
    IngestBatchResult,
    ListSourceInput,
    ListSourceResult,
    RetrievalMaintenanceInput,
    RetrievalMaintenanceResult,
    RetrieveInput,
    RetrieveResult,
)

__all__ = [
    "finish_ingestion",
    "ingest_batch",
    "list_source_documents",
    "plan_retrieval_maintenance",
    "retrieve",
]


@activity.defn(name="list_source_documents")
async def list_source_documents(inp: ListSourceInput) -> ListSourceResult:
    """The documents a source holds now (sorted). ``NotFound`` / ``InvalidInput``:
    non-retryable."""
    raise NotImplementedError


@activity.defn(name="ingest_batch")
async def ingest_batch(inp: IngestBatchInput) -> IngestBatchResult:
    """Read, hash, parse, chunk, de-duplicate, embed and write a batch of documents, one
    transaction per document (unchanged ones skipped); heartbeats the number done and resumes
    after it on a retry. A document that cannot be read or parsed is reported, not fatal."""
    raise NotImplementedError


@activity.defn(name="finish_ingestion")
async def finish_ingestion(inp: FinishIngestionInput) -> FinishIngestionResult:
    """Remove the source's deleted documents, expire documents past the TTL, record the run."""
    raise NotImplementedError


@activity.defn(name="plan_retrieval_maintenance")
async def plan_retrieval_maintenance(inp: RetrievalMaintenanceInput) -> RetrievalMaintenanceResult:
    """Expire documents past their index's TTL in every index; list the sources whose index's
    re-index interval has passed since their last ingestion."""
    raise NotImplementedError


@activity.defn(name="retrieve")
async def retrieve(inp: RetrieveInput) -> RetrieveResult:
    """Run a retrieval query (:func:`promptops.retrieval.search.retrieve`) for a workflow."""
    raise NotImplementedError
