"""Gateway tables: routing policies, the exact and semantic response caches, provider health
checks and per-key rate-limit windows (issue 4)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base, CreatedAtMixin, IdMixin

#: Dimension of the semantic cache's prompt embeddings (all-MiniLM-L6-v2).
CACHE_EMBEDDING_DIM = 384
ROUTING_STRATEGIES = ("cost_first", "quality_first", "latency_first")


class RoutingPolicy(IdMixin, CreatedAtMixin, Base):
    """A named routing policy of a project, addressed as model ``policy:<name>``.

    ``candidates``: LiteLLM model names the policy may pick from; ``fallbacks``: ordered model
    names tried after the ranked candidates; ``constraints``: ``{"max_p95_latency_ms": float,
    "min_quality": float in [0, 1], "max_cost_usd": float per request}`` (each optional).
    """

    __tablename__ = "routing_policies"
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        CheckConstraint(f"strategy IN {ROUTING_STRATEGIES!r}", name="strategy"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    strategy: Mapped[str] = mapped_column(String(20))
    candidates: Mapped[list[Any]] = mapped_column(default=list)
    fallbacks: Mapped[list[Any]] = mapped_column(default=list)
    constraints: Mapped[dict[str, Any]] = mapped_column(default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class CacheEntry(IdMixin, CreatedAtMixin, Base):
    """Exact-cache entry: ``cache_key`` is the SHA-256 (hex) of the canonical JSON of model,
    rendered messages, decoding parameters, response schema and tool definitions; scoped to one
    project (so never shared across tenants). ``response``: ``{"output", "tokens_in",
    "tokens_out", "finish_reason", "tool_calls"}``."""

    __tablename__ = "cache_entries"
    __table_args__ = (UniqueConstraint("project_id", "cache_key"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    cache_key: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    prompt_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("prompt_versions.id", ondelete="CASCADE"), nullable=True, index=True
    )
    response: Mapped[dict[str, Any]] = mapped_column(default=dict)
    hits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SemanticCacheEntry(IdMixin, CreatedAtMixin, Base):
    """Semantic-cache entry: the unit-norm embedding of the rendered prompt text, looked up by
    cosine similarity (pgvector ``<=>``) within the same project, prompt version and model."""

    __tablename__ = "semantic_cache_entries"
    __table_args__ = (
        Index(
            "ix_semantic_cache_entries_scope",
            "project_id",
            "prompt_version_id",
            "model",
            "params_key",
        ),
        Index(
            "ix_semantic_cache_entries_embedding",
            "embedding",
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    prompt_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("prompt_versions.id", ondelete="CASCADE"), nullable=True
    )
    model: Mapped[str] = mapped_column(String(200))
    #: SHA-256 (hex) of decoding parameters, response schema and tools: a hit needs equal ones.
    params_key: Mapped[str] = mapped_column(String(64))
    prompt_text: Mapped[str] = mapped_column(Text)
    embedding: Mapped[Any] = mapped_column(Vector(CACHE_EMBEDDING_DIM))
    response: Mapped[dict[str, Any]] = mapped_column(default=dict)
    hits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ProviderHealthCheck(IdMixin, Base):
    """One periodic health probe of a model deployment (``model_name`` of the model list),
    sent with the deployment's own key. ``latency_ms`` in milliseconds."""

    __tablename__ = "provider_health_checks"
    __table_args__ = (Index("ix_provider_health_checks_model_checked", "model_name", "checked_at"),)

    model_name: Mapped[str] = mapped_column(String(200))
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    ok: Mapped[bool] = mapped_column(Boolean)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class RateLimitWindow(Base):
    """Requests counted for one API key in one fixed one-minute window (UTC, truncated)."""

    __tablename__ = "rate_limit_windows"

    api_key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
