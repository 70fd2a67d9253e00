from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base, CreatedAtMixin, IdMixin


class Approval(CreatedAtMixin, Base):
    """One approval process of a prompt version; ``id`` is its workflow id
    (``approval-{prompt_version_id}-{n}``).

    ``status``: Checking -> Pending -> Approved | Rejected | Expired | CheckFailed.
    ``eval_score`` is the candidate's mean score on the project's golden set (0..1) when the
    policy asks for an evaluation check.
    """

    __tablename__ = "approvals"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    prompt_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("prompt_versions.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))
    required_approvals: Mapped[int] = mapped_column(Integer, default=1)
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    evaluation_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    eval_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    requested_by: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text, default="")
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ApprovalDecision(IdMixin, CreatedAtMixin, Base):
    """One reviewer's decision; unique per (approval, reviewer) so a retried activity cannot
    record it twice."""

    __tablename__ = "approval_decisions"
    __table_args__ = (UniqueConstraint("approval_id", "reviewer"),)

    approval_id: Mapped[str] = mapped_column(
        ForeignKey("approvals.id", ondelete="CASCADE"), index=True
    )
    reviewer: Mapped[str] = mapped_column(String(320))
    decision: Mapped[str] = mapped_column(String(10))  # approve | reject
    comment: Mapped[str] = mapped_column(Text, default="")
