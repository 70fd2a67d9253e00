"""Ingestion and retrieval activities.

Idempotent by construction: a document's row and chunk ids are derived from the index, the
source and the content (:mod:`promptops.retrieval.ids`), a document is written in one
transaction that leaves it holding exactly its new chunks, and an unchanged document (same
content hash) is skipped. A batch retried after a crash of the worker or of Temporal therefore
resumes without duplicate or missing chunks; the heartbeat only saves re-reading the documents
it had finished.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from temporalio import activity

from activities.errors import application_error
from activities.ingestion.types import (
    DocumentError,
    DueSource,
    FinishIngestionInput,
    FinishIngestionResult,
    IngestBatchInput,
    IngestBatchResult,
    ListSourceInput,
    ListSourceResult,
    RetrievalMaintenanceInput,
    RetrievalMaintenanceResult,
    RetrievedHit,
    RetrieveInput,
    RetrieveResult,
)
from activities.outages import database_outage_retryable
from promptops.db.models import RetrievalIndex, RetrievalSource
from promptops.db.repositories.retrieval import RetrievalRepository
from promptops.db.session import get_session_factory
from promptops.errors import InvalidInput, NotFound, PromptOpsError
from promptops.retrieval.chunking import ChunkingSettings, HFTokenCounter, TokenCounter
from promptops.retrieval.dedup import NearDuplicateFilter
from promptops.retrieval.embedding_models import (
    PassageEmbedder,
    get_embedding_model,
    get_passage_embedder,
)
from promptops.retrieval.ids import document_id
from promptops.retrieval.ingest import (
    PreparedDocument,
    attach_embeddings,
    content_hash,
    prepare_document,
)
from promptops.retrieval.search import Reranker, RetrievalRequest
from promptops.retrieval.search import retrieve as run_retrieval
from promptops.retrieval.sources import list_documents, read_document

log = logging.getLogger(__name__)

#: Documents prepared, embedded and written together inside a batch (one heartbeat each).
GROUP = 8


async def _heartbeat(done: Callable[[], int], every_s: float = 1.0) -> None:
    while True:
        await asyncio.sleep(every_s)
        activity.heartbeat(done())


class _IndexDedup:
    """An index's near-duplicate filter and which chunk keys each document holds in it."""

    def __init__(self) -> None:
        self.filter = NearDuplicateFilter()
        self.by_document: dict[uuid.UUID, set[str]] = {}

    def keep(self, document: uuid.UUID, key: str, sketch: Any) -> None:
        self.filter.keep(key, sketch)
        self.by_document.setdefault(document, set()).add(key)

    def record(self, document: uuid.UUID, keys: list[str]) -> None:
        """``keys`` were kept for ``document`` by :func:`prepare_document`."""
        self.by_document.setdefault(document, set()).update(keys)

    def forget(self, document: uuid.UUID) -> None:
        for key in self.by_document.pop(document, set()):
            self.filter.discard(key)


class IngestionActivities:
    def __init__(
        self,
        database_url: str,
        *,
        embedder_factory: Callable[[str], PassageEmbedder] = get_passage_embedder,
        reranker: Reranker | None = None,
    ) -> None:
        self._sessions = get_session_factory(database_url)
        self._embedder_factory = embedder_factory
        self._reranker = reranker
        self._counter: TokenCounter | None = None
        # One near-duplicate filter per index per worker process, loaded from the stored
        # signatures on first use and kept up to date by this process's writes.
        self._filters: dict[uuid.UUID, _IndexDedup] = {}

    def _token_counter(self) -> TokenCounter:
        if self._counter is None:
            self._counter = HFTokenCounter()
        return self._counter

    async def _index_and_source(
        self, repo: RetrievalRepository, index_id: str, source_id: str
    ) -> tuple[RetrievalIndex, RetrievalSource]:
        source = await repo.get_source(uuid.UUID(source_id))
        if source is None or str(source.index_id) != index_id:
            raise NotFound(f"source {source_id} of index {index_id} not found")
        index = await repo.session.get(RetrievalIndex, uuid.UUID(index_id))
        if index is None:
            raise NotFound(f"index {index_id} not found")
        return index, source

    @activity.defn(name="list_source_documents")
    @database_outage_retryable
    async def list_source_documents(self, inp: ListSourceInput) -> ListSourceResult:
        try:
            async with self._sessions() as session:
                _, source = await self._index_and_source(
                    RetrievalRepository(session), inp.index_id, inp.source_id
                )
            return ListSourceResult(
                documents=await asyncio.to_thread(list_documents, source.kind, source.definition)
            )
        except PromptOpsError as exc:
            raise application_error(exc) from None

    async def _filter(self, repo: RetrievalRepository, index_id: uuid.UUID) -> _IndexDedup:
        found = self._filters.get(index_id)
        if found is None:
            found = _IndexDedup()
            for chunk, document, signature in await repo.signatures(index_id):
                found.keep(document, str(chunk), found.filter.from_bytes(signature))
            self._filters[index_id] = found
        return found

    @activity.defn(name="ingest_batch")
    @database_outage_retryable
    async def ingest_batch(self, inp: IngestBatchInput) -> IngestBatchResult:
        details = activity.info().heartbeat_details
        start = int(details[0]) if details else 0
        result = IngestBatchResult(done=start)
        try:
            async with self._sessions() as session:
                repo = RetrievalRepository(session)
                index, source = await self._index_and_source(repo, inp.index_id, inp.source_id)
            spec = get_embedding_model(index.embedding_model)
            if spec.version != index.embedding_model_version:
                raise InvalidInput(
                    f"index {index.name!r} was built with {index.embedding_model_version}; this "
                    f"worker has {spec.version}: re-index into a new index",
                    field="embedding_model",
                )
            embedder = self._embedder_factory(index.embedding_model)
            chunking = ChunkingSettings(**index.chunking)
            counter = self._token_counter()
            # Heartbeat every second meanwhile (embedding a group takes seconds on 2 cores),
            # with the number of documents finished: a retry resumes after them.
            beating = asyncio.create_task(_heartbeat(lambda: result.done))
            try:
                for offset in range(start, len(inp.documents), GROUP):
                    group = inp.documents[offset : offset + GROUP]
                    await self._ingest_group(
                        index, source, group, inp.force, embedder, counter, chunking, result
                    )
                    result.done = offset + len(group)
                    activity.heartbeat(result.done)
            finally:
                beating.cancel()
        except PromptOpsError as exc:
            raise application_error(exc) from None
        return result

    async def _ingest_group(
        self,
        index: RetrievalIndex,
        source: RetrievalSource,
        group: list[str],
        force: bool,
        embedder: PassageEmbedder,
        counter: TokenCounter,
        chunking: ChunkingSettings,
        result: IngestBatchResult,
    ) -> None:
        now = datetime.now(UTC)
        async with self._sessions() as session:
            repo = RetrievalRepository(session)
            known = await repo.document_hashes(index.id, group)
            dedup = await self._filter(repo, index.id)
        prepared: list[tuple[PreparedDocument, bool]] = []
        for name in group:
            try:
                fetched = await read_document(source.kind, source.definition, name)
            except (OSError, ValueError, httpx.HTTPError) as exc:  # gone, too big, unreachable
                result.errors.append(DocumentError(name, f"{type(exc).__name__}: {exc}"))
                continue
            digest = content_hash(
                fetched.data,
                model_version=index.embedding_model_version,
                chunking=index.chunking,
            )
            if known.get(name) == digest and not force:
                result.skipped += 1
                continue
            # A document's own earlier chunks (a replaced version, or a write that failed
            # after they were kept) are not duplicates of its new ones.
            document = document_id(index.id, name)
            dedup.forget(document)
            try:
                doc = await asyncio.to_thread(
                    prepare_document,
                    index_id=index.id,
                    organization_id=index.organization_id,
                    source_id=source.id,
                    kind=source.kind,
                    source=name,
                    data=fetched.data,
                    media_type=fetched.media_type,
                    digest=digest,
                    embedding_model=index.embedding_model,
                    counter=counter,
                    chunking=chunking,
                    metadata=dict(source.definition.get("metadata") or {}),
                    dedup=dedup.filter,
                    ttl_seconds=index.ttl_seconds,
                    now=now,
                )
            except (ValueError, RuntimeError) as exc:  # unparsable (ParseError): report, go on
                result.errors.append(DocumentError(name, f"{type(exc).__name__}: {exc}"))
                continue
            dedup.record(document, [str(c["id"]) for c in doc.chunks])
            prepared.append((doc, name in known))
        texts = [t for doc, _ in prepared for t in doc.texts]
        if texts:
            t0 = time.perf_counter()
            vectors = await asyncio.to_thread(embedder.embed_passages, texts)
            result.embed_seconds += time.perf_counter() - t0
            at = 0
            for doc, _ in prepared:
                attach_embeddings(doc, vectors[at : at + len(doc.chunks)])
                at += len(doc.chunks)
        for doc, existed in prepared:
            async with self._sessions() as session, session.begin():
                await RetrievalRepository(session).replace_document(doc.document, doc.chunks)
            result.chunks_written += len(doc.chunks)
            result.duplicates += doc.duplicates
            if existed:
                result.replaced += 1
            else:
                result.added += 1

    @activity.defn(name="finish_ingestion")
    @database_outage_retryable
    async def finish_ingestion(self, inp: FinishIngestionInput) -> FinishIngestionResult:
        try:
            async with self._sessions() as session, session.begin():
                repo = RetrievalRepository(session)
                index, source = await self._index_and_source(repo, inp.index_id, inp.source_id)
                removed = 0
                if inp.keep is not None:
                    removed = await repo.remove_documents(source.id, inp.keep)
                expired = await repo.expire_documents(index.id, datetime.now(UTC))
                await repo.record_source_run(
                    source.id,
                    inp.workflow_id,
                    {**inp.stats, "removed": removed, "expired": expired},
                    datetime.now(UTC),
                )
                documents, chunks = await repo.index_counts(index.id)
            if removed or expired:
                self._filters.pop(index.id, None)  # reload without the deleted chunks
            return FinishIngestionResult(
                removed=removed, expired=expired, documents=documents, chunks=chunks
            )
        except PromptOpsError as exc:
            raise application_error(exc) from None

    @activity.defn(name="plan_retrieval_maintenance")
    @database_outage_retryable
    async def plan_retrieval_maintenance(
        self, inp: RetrievalMaintenanceInput
    ) -> RetrievalMaintenanceResult:
        now = datetime.now(UTC)
        expired = 0
        due: list[DueSource] = []
        async with self._sessions() as session, session.begin():
            repo = RetrievalRepository(session)
            for index in await repo.list_all_indexes():
                expired += await repo.expire_documents(index.id, now)
                if not index.reindex_interval_seconds:
                    continue
                horizon = now - timedelta(seconds=index.reindex_interval_seconds)
                for source in await repo.list_sources(index.id):
                    if source.last_ingested_at is None or source.last_ingested_at <= horizon:
                        due.append(
                            DueSource(
                                str(index.id),
                                str(source.id),
                                source.source_key,
                                str(index.organization_id),
                            )
                        )
        if expired:
            self._filters.clear()
        return RetrievalMaintenanceResult(expired=expired, due=due)

    @activity.defn(name="retrieve")
    @database_outage_retryable
    async def retrieve(self, inp: RetrieveInput) -> RetrieveResult:
        try:
            async with self._sessions() as session:
                repo = RetrievalRepository(session)
                index = await repo.get_index(
                    uuid.UUID(inp.index_id), uuid.UUID(inp.organization_id)
                )
                if index is None:
                    raise NotFound(f"index {inp.index_id} not found")
                req = RetrievalRequest(
                    query=inp.query,
                    mode=inp.mode,  # type: ignore[arg-type]  # validated by retrieve()
                    top_k=inp.top_k,
                    filters=inp.filters,
                    mmr_lambda=inp.mmr_lambda,
                    rerank=inp.rerank,
                    score_threshold=inp.score_threshold,
                )
                embedder = (
                    self._embedder_factory(index.embedding_model) if inp.mode != "keyword" else None
                )
                found = await run_retrieval(
                    repo, index, req, embedder=embedder, reranker=self._reranker
                )
        except PromptOpsError as exc:
            raise application_error(exc) from None
        return RetrieveResult(
            hits=[
                RetrievedHit(
                    chunk_id=str(h.chunk_id),
                    score=h.score,
                    source=h.source,
                    heading_path=list(h.heading_path),
                    anchor=h.anchor,
                    text=h.text,
                )
                for h in found.hits
            ],
            embedding_model=found.embedding_model,
            timings_ms=found.timings_ms,
        )
