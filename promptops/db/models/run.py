from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base, CreatedAtMixin, IdMixin


class Run(IdMixin, CreatedAtMixin, Base):
    """One LLM execution of a prompt version.

    ``idempotency_key`` is unique: evaluation activities key it by (evaluation id, version id,
    example id), so a retried or replayed activity can never record the same execution twice.
    Units: ``cost_usd`` in US dollars, ``latency_ms`` in milliseconds, tokens as counted by the
    provider.
    """

    __tablename__ = "runs"
    # Listings newest first within a project or a version (GET /runs, keyset pages on
    # (created_at, id)); equality on the first column alone is served by them too
    # (migration 0007).
    __table_args__ = (
        Index("ix_runs_project_created", "project_id", "created_at", "id"),
        Index("ix_runs_version_created", "prompt_version_id", "created_at", "id"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    prompt_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("prompt_versions.id"), nullable=True
    )
    source: Mapped[str] = mapped_column(String(20))  # evaluation | execute | generate
    model: Mapped[str] = mapped_column(String(200))
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rendered_input: Mapped[list[Any]] = mapped_column(default=list)
    output: Mapped[str | None] = mapped_column(Text, nullable=True)
    success: Mapped[bool] = mapped_column(Boolean, default=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(18, 8), default=Decimal(0))
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    trace_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    workflow_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    evaluation_id: Mapped[str | None] = mapped_column(
        ForeignKey("evaluations.id", ondelete="CASCADE"), nullable=True, index=True
    )
    example_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("examples.id", ondelete="CASCADE"), nullable=True
    )
    idempotency_key: Mapped[str | None] = mapped_column(String(300), unique=True, nullable=True)
    # Served by ``generate``: the caller's subject id (sticky traffic split), the deployment
    # that split the traffic and the arm the subject fell in (baseline | canary).
    subject_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    environment: Mapped[str | None] = mapped_column(String(20), nullable=True)
    deployment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("deployments.id", ondelete="SET NULL"), nullable=True, index=True
    )
    arm: Mapped[str | None] = mapped_column(String(10), nullable=True)
    # Gateway (issue 4): served from the exact or semantic cache (zero provider cost), the
    # routing decision (``{"policy", "strategy", "chosen", "reason", "candidates": [...]}``) and
    # the deployments tried in order (``[{"model", "error", "status"}]``).
    cache_hit: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    cache_kind: Mapped[str | None] = mapped_column(String(10), nullable=True)  # exact|semantic
    routing: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    attempts: Mapped[list[Any] | None] = mapped_column(JSONB, nullable=True)
    #: The retrieval of a RAG call: index, embedding model, mode, k, the chunk ids given to the
    #: model and the answer's checked citations (:mod:`promptops.llm.pipeline.stages.retrieve`).
    retrieval: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
