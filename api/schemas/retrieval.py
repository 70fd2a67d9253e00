from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from api.schemas.common import INT32_MAX, Name, ORMModel, RequestModel

MetadataType = Literal["string", "integer", "number", "boolean"]


class ChunkingSettingsBody(RequestModel):
    """Token-aware chunking, counted with the embedding model's own tokenizer: chunks of
    ``min_tokens``..``max_tokens`` tokens (default 300..800) within a section, ``overlap`` the
    fraction of a chunk repeated from the previous one (default 0.12)."""

    min_tokens: Annotated[int, Field(ge=1, le=8192)] = 300
    max_tokens: Annotated[int, Field(ge=1, le=8192)] = 800
    overlap: Annotated[float, Field(ge=0.0, lt=0.5)] = 0.12

    @model_validator(mode="after")
    def _ordered(self) -> ChunkingSettingsBody:
        if self.min_tokens > self.max_tokens:
            raise ValueError("chunking.min_tokens must be <= chunking.max_tokens")
        return self


class IndexCreate(RequestModel):
    """A retrieval index of a project. ``embedding_model``: one of ``GET
    /retrieval/embedding_models`` (its version is recorded; changing it means a new index);
    ``metadata_schema``: the filterable document metadata, field -> type (``section`` and
    ``media_type`` are always there); ``ttl_seconds``: documents expire this long after their
    last ingestion; ``reindex_interval_seconds``: re-ingest every source this often."""

    project_id: uuid.UUID
    name: Name
    description: str = ""
    embedding_model: str = "all-MiniLM-L6-v2"
    chunking: ChunkingSettingsBody = Field(default_factory=ChunkingSettingsBody)
    metadata_schema: dict[Annotated[str, Field(min_length=1, max_length=100)], MetadataType] = (
        Field(default_factory=dict)
    )
    ttl_seconds: Annotated[int, Field(ge=60, le=INT32_MAX)] | None = None
    reindex_interval_seconds: Annotated[int, Field(ge=60, le=INT32_MAX)] | None = None


class SourcePublic(ORMModel):
    id: uuid.UUID
    kind: str
    source_key: str
    definition: dict[str, Any]
    last_workflow_id: str | None
    last_ingested_at: datetime | None
    last_stats: dict[str, Any]
    temporal_ui_url: str | None = None


class IndexPublic(ORMModel):
    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    description: str
    embedding_model: str
    embedding_model_version: str
    dimension: int
    chunking: dict[str, Any]
    metadata_schema: dict[str, str]
    ttl_seconds: int | None
    reindex_interval_seconds: int | None
    created_at: datetime
    documents: int = 0
    chunks: int = 0
    sources: list[SourcePublic] = Field(default_factory=list)


class IndexesPublic(BaseModel):
    data: list[IndexPublic]
    count: int


class EmbeddingModelPublic(BaseModel):
    name: str
    version: str
    dimension: int
    window_tokens: int
    description: str


class EmbeddingModelsPublic(BaseModel):
    data: list[EmbeddingModelPublic]


class InlineDocument(RequestModel):
    name: Annotated[str, Field(min_length=1, max_length=1000)]
    text: str
    media_type: str | None = None


class SourceBody(RequestModel):
    """What to ingest: ``kind`` ``folder`` (``path``, ``include``/``exclude`` globs), ``files``
    (``paths``), ``inline`` (``documents``) or ``urls`` (``urls``); paths are on the worker's
    machine. ``metadata`` is given to every document (fields of the index's schema)."""

    kind: Literal["folder", "files", "inline", "urls"]
    path: str | None = None
    include: list[str] | None = None
    exclude: list[str] | None = None
    paths: list[str] | None = None
    documents: list[InlineDocument] | None = None
    urls: list[str] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class IngestRequest(RequestModel):
    source: SourceBody
    force: bool = False
    batch_size: Annotated[int, Field(ge=1, le=1000)] = 8


class IngestionPublic(BaseModel):
    """An ingestion run (``id`` is its workflow id) and its progress."""

    id: str
    index_id: uuid.UUID
    source_id: uuid.UUID
    status: str
    documents_total: int = 0
    documents_done: int = 0
    skipped: int = 0
    added: int = 0
    replaced: int = 0
    removed: int = 0
    expired: int = 0
    chunks_written: int = 0
    duplicates: int = 0
    embed_seconds: float = 0.0
    documents_in_index: int = 0
    chunks_in_index: int = 0
    errors: list[dict[str, str]] = Field(default_factory=list)
    error: str | None = None
    temporal_ui_url: str


class DocumentPublic(ORMModel):
    id: uuid.UUID
    source: str
    title: str
    media_type: str
    content_hash: str
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    chunk_count: int
    duplicate_chunks: int
    ingested_at: datetime
    expires_at: datetime | None


class DocumentsPublic(BaseModel):
    data: list[DocumentPublic]
    count: int


class QueryRequest(RequestModel):
    """A retrieval query. ``mode``: ``dense`` (HNSW over the index's embeddings), ``keyword``
    (Postgres full text) or ``hybrid`` (reciprocal rank fusion of both); ``filters``: metadata
    field -> value or list of values (any of them); ``mmr_lambda`` (0..1) diversifies the hits
    by maximal marginal relevance; ``rerank`` uses the configured cross-encoder;
    ``score_threshold`` applies to the final score, after reranking."""

    index_id: uuid.UUID
    query: Annotated[str, Field(min_length=1, max_length=8000)]
    mode: Literal["dense", "keyword", "hybrid"] = "hybrid"
    top_k: Annotated[int, Field(ge=1, le=100)] = 10
    filters: dict[str, Any] | None = None
    mmr_lambda: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    rerank: bool = False
    score_threshold: float | None = None
    candidates: Annotated[int, Field(ge=1, le=1000)] | None = None


class HitPublic(BaseModel):
    chunk_id: uuid.UUID
    score: float
    document_id: uuid.UUID
    source: str
    title: str
    heading_path: list[str]
    anchor: str | None
    text: str
    token_count: int
    metadata: dict[str, Any]
    ranks: dict[str, int]
    rerank_score: float | None
    citation: str


class QueryResult(BaseModel):
    """Hits best first; ``timings_ms`` says where the time went (``embed``, ``dense``,
    ``keyword``, ``fetch``, ``rerank``, ``total``)."""

    hits: list[HitPublic]
    mode: str
    embedding_model: str
    candidates: int
    timings_ms: dict[str, float]


class ChunkPublic(BaseModel):
    chunk_id: uuid.UUID
    index_id: uuid.UUID
    document_id: uuid.UUID
    source: str
    title: str
    ordinal: int
    heading_path: list[str]
    anchor: str | None
    text: str
    token_count: int
    metadata: dict[str, Any]
    embedding_model: str
    citation: str
