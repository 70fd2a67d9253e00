"""Per-example results of retrieval evaluations (migration 0010)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base, CreatedAtMixin


class RetrievalEvalResult(CreatedAtMixin, Base):
    """One example run through one retrieval configuration of an evaluation.

    The primary key ``(evaluation_id, config_id, example_id)`` is the idempotency key: the
    evaluation activity inserts with ``ON CONFLICT DO NOTHING``, so a chunk retried after a
    crash never records an example twice. Not a ``runs`` row: a run is a model call, and the
    dashboards and run listings count those. ``hits``: ``[{"chunk_id", "source", "anchor",
    "score"}]`` best first; ``ranking``: the judged id each hit stands for
    (:mod:`promptops.evaluation.qrels`); ``metrics``: name -> per-query value;
    ``latency_ms``: query embedding + retrieval, milliseconds."""

    __tablename__ = "retrieval_eval_results"

    evaluation_id: Mapped[str] = mapped_column(
        ForeignKey("evaluations.id", ondelete="CASCADE"), primary_key=True
    )
    config_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    example_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("examples.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB)
    hits: Mapped[list[Any]] = mapped_column(JSONB)
    ranking: Mapped[list[Any]] = mapped_column(JSONB)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
