"""Retrieval indexes, ingestion runs (``IngestionWorkflow``) and queries."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from api.deps import Principal
from api.errors import Conflict, NotFound, Unprocessable
from api.schemas.retrieval import IndexCreate, IngestRequest, QueryRequest
from api.services.evals import temporal_ui_link
from api.services.prompts import PromptService
from promptops.db.models import RetrievalIndex, RetrievalSource
from promptops.db.repositories.retrieval import RetrievalRepository
from promptops.errors import InvalidInput
from promptops.retrieval.embedding_models import get_embedding_model, get_passage_embedder
from promptops.retrieval.ids import citation_marker, source_key
from promptops.retrieval.ingest import AUTOMATIC_FIELDS
from promptops.retrieval.rerank import RerankerLoadError
from promptops.retrieval.rerank_config import load_reranker
from promptops.retrieval.search import RetrievalRequest, RetrievalResult, retrieve
from promptops.retrieval.sources import validate_source
from promptops.settings import Settings
from workflows.ingestion.types import IngestionInput, IngestionProgress, ingestion_workflow_id
from workflows.ingestion.workflow import IngestionWorkflow


class RetrievalService:
    def __init__(
        self,
        session: AsyncSession,
        principal: Principal,
        settings: Settings,
        client: Client | None = None,
    ) -> None:
        self.session = session
        self.principal = principal
        self.settings = settings
        self.client = client
        self.repo = RetrievalRepository(session)
        self.prompts = PromptService(session, principal)

    # ------------------------------------------------------------------ indexes

    async def create_index(self, body: IndexCreate) -> RetrievalIndex:
        """Raises 404 for a project the caller cannot see, 409 for a taken name, 422 for an
        unknown embedding model or a metadata field that shadows an automatic one."""
        project = await self.prompts.get_project(body.project_id)
        try:
            spec = get_embedding_model(body.embedding_model)
        except KeyError as exc:
            raise Unprocessable(str(exc.args[0]), field="embedding_model") from None
        if await self.repo.get_index_by_name(self.principal.organization_id, body.name, project.id):
            raise Conflict(
                f"an index named {body.name!r} already exists in this project", field="name"
            )
        for name, kind in body.metadata_schema.items():
            if name in AUTOMATIC_FIELDS and AUTOMATIC_FIELDS[name] != kind:
                raise Unprocessable(
                    f"metadata_schema.{name}: an automatic field of type {AUTOMATIC_FIELDS[name]}",
                    field=f"metadata_schema.{name}",
                )
        index = await self.repo.add_index(
            RetrievalIndex(
                id=uuid.uuid4(),
                project_id=project.id,
                organization_id=self.principal.organization_id,
                name=body.name,
                description=body.description,
                embedding_model=spec.name,
                embedding_model_version=spec.version,
                dimension=spec.dimension,
                chunking=body.chunking.model_dump(),
                metadata_schema={**AUTOMATIC_FIELDS, **body.metadata_schema},
                ttl_seconds=body.ttl_seconds,
                reindex_interval_seconds=body.reindex_interval_seconds,
            )
        )
        await self.prompts._audit(
            "retrieval_index.create",
            "retrieval_index",
            index.id,
            after={"name": body.name, "embedding_model": spec.version},
        )
        return index

    async def get_index(self, index_id: uuid.UUID) -> RetrievalIndex:
        index = await self.repo.get_index(index_id, self.principal.organization_id)
        if index is None or not self.principal.can_access_project(index.project_id):
            raise NotFound(f"retrieval index {index_id} not found")
        return index

    async def describe(self, index: RetrievalIndex, *, sources: bool = False) -> dict[str, Any]:
        documents, chunks = await self.repo.index_counts(index.id)
        out: dict[str, Any] = {
            c.key: getattr(index, c.key) for c in RetrievalIndex.__table__.columns
        }
        out.update(documents=documents, chunks=chunks, sources=[])
        if sources:
            for s in await self.repo.list_sources(index.id):
                row = {c.key: getattr(s, c.key) for c in RetrievalSource.__table__.columns}
                row["temporal_ui_url"] = (
                    temporal_ui_link(self.settings, s.last_workflow_id)
                    if s.last_workflow_id
                    else None
                )
                out["sources"].append(row)
        return out

    async def list_indexes(self, project_id: uuid.UUID | None) -> list[dict[str, Any]]:
        if project_id is not None:
            await self.prompts.get_project(project_id)
        indexes = await self.repo.list_indexes(self.principal.organization_id, project_id)
        return [
            await self.describe(i)
            for i in indexes
            if self.principal.can_access_project(i.project_id)
        ]

    async def delete_index(self, index_id: uuid.UUID) -> None:
        index = await self.get_index(index_id)
        await self.repo.delete_index(index)
        await self.prompts._audit(
            "retrieval_index.delete", "retrieval_index", index.id, before={"name": index.name}
        )

    # ------------------------------------------------------------------ ingestion

    async def ingest(self, index_id: uuid.UUID, body: IngestRequest) -> dict[str, Any]:
        """Record the source and start (or join, when one is running) its ingestion."""
        index = await self.get_index(index_id)
        raw = body.source.model_dump(exclude_none=True, exclude={"kind"})
        if "documents" in raw:
            raw["documents"] = [d for d in raw["documents"]]
        definition = validate_source(body.source.kind, raw)
        schema = index.metadata_schema or {}
        for name in definition.get("metadata", {}):
            if name not in schema:
                raise Unprocessable(
                    f"source.metadata.{name}: not a field of the index's metadata schema "
                    f"({sorted(schema)})",
                    field=f"source.metadata.{name}",
                )
        key = source_key(body.source.kind, definition)
        source = await self.repo.upsert_source(index.id, key, body.source.kind, definition)
        workflow_id = ingestion_workflow_id(str(index.id), key)
        await self.repo.record_source_run(source.id, workflow_id)
        await self.prompts._audit(
            "retrieval_index.ingest",
            "retrieval_index",
            index.id,
            after={
                "source_id": str(source.id),
                "kind": body.source.kind,
                "workflow_id": workflow_id,
            },
        )
        # The activities read the source row: it must be committed before the workflow starts.
        await self.session.commit()
        assert self.client is not None
        await self.client.start_workflow(
            IngestionWorkflow.run,
            IngestionInput(
                index_id=str(index.id),
                source_id=str(source.id),
                batch_size=body.batch_size,
                force=body.force,
                heartbeat_timeout_s=self.settings.ingest_heartbeat_timeout_s,
            ),
            id=workflow_id,
            task_queue=self.settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
        return await self.ingestion(workflow_id)

    async def ingestion(self, ingestion_id: str) -> dict[str, Any]:
        """The progress of ingestion ``ingestion_id`` (404 unless its index is the caller's)."""
        parts = ingestion_id.split("-")
        if len(parts) != 7 or parts[0] != "ingest":
            raise NotFound(f"ingestion {ingestion_id} not found")
        try:
            index_id = uuid.UUID("-".join(parts[1:6]))
        except ValueError:
            raise NotFound(f"ingestion {ingestion_id} not found") from None
        index = await self.get_index(index_id)
        source = next(
            (
                s
                for s in await self.repo.list_sources(index.id)
                if s.source_key.startswith(parts[6])
            ),
            None,
        )
        if source is None:
            raise NotFound(f"ingestion {ingestion_id} not found")
        assert self.client is not None
        handle = self.client.get_workflow_handle_for(IngestionWorkflow.run, ingestion_id)
        error = None
        try:
            described = await handle.describe()
            if described.status == WorkflowExecutionStatus.RUNNING:
                progress = await handle.query(IngestionWorkflow.progress)
            elif described.status == WorkflowExecutionStatus.COMPLETED:
                progress = await handle.result()
            else:
                name = described.status.name if described.status is not None else "UNKNOWN"
                progress = IngestionProgress(status="Failed" if name == "FAILED" else name.title())
                try:
                    await handle.result()
                except WorkflowFailureError as exc:  # the failure's message is the answer
                    error = str(exc.__cause__ or exc)
        except RPCError:
            raise NotFound(f"ingestion {ingestion_id} not found") from None
        out = {
            "id": ingestion_id,
            "index_id": index.id,
            "source_id": source.id,
            "error": error,
            "temporal_ui_url": temporal_ui_link(self.settings, ingestion_id),
            **_progress_dict(progress),
        }
        return out

    # ------------------------------------------------------------------ queries

    async def query(self, body: QueryRequest) -> RetrievalResult:
        index = await self.get_index(body.index_id)
        embedder = None
        vector = None
        embed_ms: float | None = None
        if body.mode != "keyword":
            embedder = get_passage_embedder(index.embedding_model)
            started = time.perf_counter()
            vector = await asyncio.to_thread(embedder.embed_query, body.query)
            embed_ms = (time.perf_counter() - started) * 1000
        try:
            reranker = load_reranker(self.settings) if body.rerank else None
        except RerankerLoadError as exc:
            raise InvalidInput(
                f"rerank: the configured cross-encoder cannot be loaded: {exc}", field="rerank"
            ) from None
        req = RetrievalRequest(
            query=body.query,
            mode=body.mode,
            top_k=body.top_k,
            filters=body.filters,
            mmr_lambda=body.mmr_lambda,
            rerank=body.rerank,
            score_threshold=body.score_threshold,
            candidates=body.candidates,
            ef_search=self.settings.hnsw_ef_search,
        )
        result = await retrieve(
            self.repo, index, req, embedder=embedder, reranker=reranker, query_vector=vector
        )
        if embed_ms is None:
            return result
        # The query is embedded here (off the event loop), not in ``retrieve``: its time is
        # the query's too.
        timings = dict(result.timings_ms)
        timings["embed"] = round(embed_ms, 3)
        timings["total"] = round(timings.get("total", 0.0) + embed_ms, 3)
        return dataclasses.replace(result, timings_ms=timings)

    async def chunk(self, index_id: uuid.UUID, chunk_id: uuid.UUID) -> dict[str, Any]:
        index = await self.get_index(index_id)
        found = (await self.repo.chunks(index, [chunk_id])).get(chunk_id)
        if found is None:
            raise NotFound(f"chunk {chunk_id} not found in index {index_id}")
        return {
            "chunk_id": found.chunk_id,
            "index_id": index.id,
            "document_id": found.document_id,
            "source": found.source,
            "title": found.title,
            "ordinal": found.ordinal,
            "heading_path": list(found.heading_path),
            "anchor": found.anchor,
            "text": found.text,
            "token_count": found.token_count,
            "metadata": found.metadata,
            "embedding_model": found.embedding_model,
            "citation": citation_marker(found.chunk_id, found.anchor),
        }


def _progress_dict(progress: IngestionProgress) -> dict[str, Any]:
    out = dataclasses.asdict(progress)
    out["errors"] = [{"source": e["source"], "message": e["message"]} for e in out["errors"]]
    return out
