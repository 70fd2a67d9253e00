from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base, CreatedAtMixin


class Evaluation(CreatedAtMixin, Base):
    """A batch evaluation. Its id is the id of the ``BatchEvaluationWorkflow`` that runs it."""

    __tablename__ = "evaluations"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    prompt_version_ids: Mapped[list[Any]] = mapped_column()
    metrics: Mapped[list[Any]] = mapped_column()
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="Running")
    summary: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
