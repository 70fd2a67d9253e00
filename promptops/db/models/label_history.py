from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base


class LabelHistory(Base):
    """One row per value a label ever took: written by the ``labels_record_history`` trigger
    on every INSERT of a label and every UPDATE that changes its ``prompt_version_id``,
    whatever wrote it (a PUT, a deployment's promotion, an emergency rollback, plain SQL).

    "Version V was served under label L" means a row (prompt, L, V) exists: the rule an
    emergency rollback checks. Rows are never updated (a trigger refuses it). Migration 0005
    backfilled the moves made before it from the audit log, deployment baselines and the
    labels' values at that time.
    """

    __tablename__ = "label_history"
    __table_args__ = (
        Index("ix_label_history_prompt_id_name", "prompt_id", "name", "prompt_version_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    prompt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    prompt_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("prompt_versions.id"))
    previous_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("prompt_versions.id"), nullable=True
    )
    moved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
