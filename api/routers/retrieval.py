"""Retrieval: indexes, ingestion (durable ``IngestionWorkflow`` runs), documents, queries."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from api.deps import (
    CurrentPrincipal,
    EditorPrincipal,
    SessionDep,
    SettingsDep,
    TemporalClientDep,
)
from api.schemas.common import ERROR_RESPONSES, INT64_MAX
from api.schemas.retrieval import (
    ChunkPublic,
    DocumentsPublic,
    EmbeddingModelsPublic,
    IndexCreate,
    IndexesPublic,
    IndexPublic,
    IngestionPublic,
    IngestRequest,
    QueryRequest,
    QueryResult,
)
from api.services.retrieval import RetrievalService
from promptops.retrieval.embedding_models import EMBEDDING_MODELS
from promptops.retrieval.ids import citation_marker

router = APIRouter(prefix="/retrieval", tags=["retrieval"], responses=ERROR_RESPONSES)


@router.get("/embedding_models", response_model=EmbeddingModelsPublic)
async def list_embedding_models(principal: CurrentPrincipal) -> dict[str, Any]:
    """The embedding models an index can name (all run offline on CPU)."""
    return {
        "data": [
            {
                "name": m.name,
                "version": m.version,
                "dimension": m.dimension,
                "window_tokens": m.window_tokens,
                "description": m.description,
            }
            for m in EMBEDDING_MODELS.values()
        ]
    }


@router.post("/indexes", response_model=IndexPublic, status_code=status.HTTP_201_CREATED)
async def create_index(
    body: IndexCreate, session: SessionDep, principal: EditorPrincipal, settings: SettingsDep
) -> dict[str, Any]:
    """Create an index (and its HNSW index). 409 when the name is taken in the project, 422
    for an unknown embedding model."""
    service = RetrievalService(session, principal, settings)
    return await service.describe(await service.create_index(body))


@router.get("/indexes", response_model=IndexesPublic)
async def list_indexes(
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    project_id: Annotated[uuid.UUID | None, Query()] = None,
) -> dict[str, Any]:
    """The caller's indexes (of one project when ``project_id`` is given), with their
    document and chunk counts."""
    data = await RetrievalService(session, principal, settings).list_indexes(project_id)
    return {"data": data, "count": len(data)}


@router.get("/indexes/{index_id}", response_model=IndexPublic)
async def get_index(
    index_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> dict[str, Any]:
    """An index with its counts and its sources (last ingestion, its figures, its workflow
    in the Temporal UI)."""
    service = RetrievalService(session, principal, settings)
    return await service.describe(await service.get_index(index_id), sources=True)


@router.delete("/indexes/{index_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_index(
    index_id: uuid.UUID, session: SessionDep, principal: EditorPrincipal, settings: SettingsDep
) -> Response:
    """Delete an index with its documents, chunks and HNSW index."""
    await RetrievalService(session, principal, settings).delete_index(index_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/indexes/{index_id}/ingest",
    response_model=IngestionPublic,
    status_code=status.HTTP_202_ACCEPTED,
)
async def ingest(
    index_id: uuid.UUID,
    body: IngestRequest,
    session: SessionDep,
    principal: EditorPrincipal,
    settings: SettingsDep,
    client: TemporalClientDep,
) -> dict[str, Any]:
    """Start the ingestion of a source (``IngestionWorkflow``, id
    ``ingest-<index>-<source key>``); a request for a source whose ingestion is running joins
    it. Incremental: unchanged documents are skipped, changed ones replaced, documents gone
    from the source removed. Poll ``GET /retrieval/ingestions/{id}``."""
    return await RetrievalService(session, principal, settings, client).ingest(index_id, body)


@router.get("/ingestions/{ingestion_id}", response_model=IngestionPublic)
async def get_ingestion(
    ingestion_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    client: TemporalClientDep,
) -> dict[str, Any]:
    """An ingestion's progress (the workflow's ``progress`` query while it runs)."""
    return await RetrievalService(session, principal, settings, client).ingestion(ingestion_id)


@router.get("/indexes/{index_id}/documents", response_model=DocumentsPublic)
async def list_documents(
    index_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    offset: int = Query(0, ge=0, le=INT64_MAX),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    service = RetrievalService(session, principal, settings)
    index = await service.get_index(index_id)
    documents, _ = await service.repo.index_counts(index.id)
    data = await service.repo.list_documents(index.id, offset=offset, limit=limit)
    return {"data": data, "count": documents}


@router.get("/indexes/{index_id}/chunks/{chunk_id}", response_model=ChunkPublic)
async def get_chunk(
    index_id: uuid.UUID,
    chunk_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> dict[str, Any]:
    """One chunk (what a citation points at)."""
    return await RetrievalService(session, principal, settings).chunk(index_id, chunk_id)


@router.post("/query", response_model=QueryResult)
async def query(
    body: QueryRequest, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> dict[str, Any]:
    """Search an index. 422 names the field for a bad filter (undeclared field, wrong type),
    ``rerank`` without a configured cross-encoder, or a bad parameter."""
    result = await RetrievalService(session, principal, settings).query(body)
    return {
        "hits": [
            {
                "chunk_id": h.chunk_id,
                "score": h.score,
                "document_id": h.document_id,
                "source": h.source,
                "title": h.title,
                "heading_path": list(h.heading_path),
                "anchor": h.anchor,
                "text": h.text,
                "token_count": h.token_count,
                "metadata": h.metadata,
                "ranks": h.ranks,
                "rerank_score": h.rerank_score,
                "citation": citation_marker(h.chunk_id, h.anchor),
            }
            for h in result.hits
        ],
        "mode": result.mode,
        "embedding_model": result.embedding_model,
        "candidates": result.candidates,
        "timings_ms": result.timings_ms,
    }
