"""Retrieval indexes, their documents and chunks (pgvector + Postgres full text).

A chunk's ``embedding`` column is an untyped ``vector``: indexes of different embedding models
(and dimensions) share the table, and each retrieval index gets its own partial HNSW index on
``(embedding::vector(<dimension>))`` restricted to its ``index_id`` (pgvector README,
"Indexing vectors of different dimensions"), created with the index
(:meth:`promptops.db.repositories.retrieval.RetrievalRepository.create_vector_index`).
Every chunk also records the embedding model it was embedded with, and queries filter on it: a
query never mixes models.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base, CreatedAtMixin, IdMixin

#: Postgres text-search configuration of the keyword column and of keyword queries.
TEXT_SEARCH_CONFIG = "english"


class RetrievalIndex(IdMixin, CreatedAtMixin, Base):
    """A project's retrieval index: the embedding model (name and version) every vector of it
    was made with, its dimension, the chunking settings, the metadata schema documents must
    follow and the TTL after which an ingested document expires."""

    __tablename__ = "retrieval_indexes"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    embedding_model: Mapped[str] = mapped_column(String(200))
    embedding_model_version: Mapped[str] = mapped_column(String(200))
    dimension: Mapped[int] = mapped_column(Integer)
    #: ``{"min_tokens", "max_tokens", "overlap"}``
    #: (:class:`promptops.retrieval.chunking.ChunkingSettings`).
    chunking: Mapped[dict[str, Any]] = mapped_column(JSONB)
    #: ``{"field": "string" | "integer" | "number" | "boolean"}``: the filterable metadata.
    metadata_schema: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    ttl_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Re-ingest every source of the index this often (a Temporal schedule); None: never.
    reindex_interval_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class RetrievalSource(IdMixin, CreatedAtMixin, Base):
    """One ingestion source of an index (a folder, a list of files, inline documents or URLs),
    identified by ``source_key`` (a hash of its definition): its documents are replaced and
    removed together, and the ingestion workflow's id is derived from it."""

    __tablename__ = "retrieval_sources"
    __table_args__ = (UniqueConstraint("index_id", "source_key"),)

    index_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retrieval_indexes.id", ondelete="CASCADE"), index=True
    )
    source_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    last_workflow_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_ingested_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    last_stats: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class RetrievalDocument(IdMixin, CreatedAtMixin, Base):
    """One ingested document: its ``content_hash`` (of the raw bytes, the chunking settings and
    the embedding model version) decides whether a re-ingestion skips or replaces it."""

    __tablename__ = "retrieval_documents"
    __table_args__ = (UniqueConstraint("index_id", "source"),)

    index_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retrieval_indexes.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retrieval_sources.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, default="")
    media_type: Mapped[str] = mapped_column(String(100))
    content_hash: Mapped[str] = mapped_column(String(64))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_chunks: Mapped[int] = mapped_column(Integer, default=0)
    ingested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RetrievalChunk(Base):
    """A chunk: its text, heading path and anchor, its vector (with the model that made it),
    its MinHash signature (near-duplicate detection) and a generated ``tsvector``.

    ``id`` is deterministic (:func:`promptops.retrieval.ids.chunk_id`), so a retried write
    inserts nothing twice. ``organization_id`` and ``index_id`` are on every row: every query
    filters on both (tenant and index isolation)."""

    __tablename__ = "retrieval_chunks"
    __table_args__ = (
        Index("ix_retrieval_chunks_tsv", "tsv", postgresql_using="gin"),
        Index(
            "ix_retrieval_chunks_metadata",
            "metadata",
            postgresql_using="gin",
            postgresql_ops={"metadata": "jsonb_path_ops"},
        ),
        Index("ix_retrieval_chunks_index_document", "index_id", "document_id", "ordinal"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(index=True)
    index_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retrieval_indexes.id", ondelete="CASCADE")
    )
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retrieval_documents.id", ondelete="CASCADE")
    )
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    token_count: Mapped[int] = mapped_column(Integer)
    heading_path: Mapped[list[str]] = mapped_column(ARRAY(Text))
    #: The document title and heading path joined with " > " (weight A of ``tsv``).
    heading: Mapped[str] = mapped_column(Text, default="")
    anchor: Mapped[str | None] = mapped_column(Text, nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict)
    embedding_model: Mapped[str] = mapped_column(String(200))
    embedding: Mapped[Any] = mapped_column(Vector())
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    tsv: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed(
            f"setweight(to_tsvector('{TEXT_SEARCH_CONFIG}', heading), 'A')"
            f" || setweight(to_tsvector('{TEXT_SEARCH_CONFIG}', text), 'B')",
            persisted=True,
        ),
    )
