from __future__ import annotations

import uuid

from sqlalchemy import Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base, CreatedAtMixin, IdMixin


class EvaluationResult(IdMixin, CreatedAtMixin, Base):
    """One metric value of one run (run x metric -> value); unique per pair."""

    __tablename__ = "evaluation_results"
    __table_args__ = (UniqueConstraint("run_id", "metric"),)

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    evaluation_id: Mapped[str | None] = mapped_column(
        ForeignKey("evaluations.id", ondelete="CASCADE"), nullable=True, index=True
    )
    metric: Mapped[str] = mapped_column(String(60))
    value: Mapped[float] = mapped_column(Float)
    details: Mapped[str | None] = mapped_column(String(200), nullable=True)
