from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base, CreatedAtMixin, IdMixin

ENVIRONMENTS = ("dev", "staging", "prod")
#: The label each environment serves in ``generate``.
ENVIRONMENT_LABELS = {"dev": "dev", "staging": "staging", "prod": "production"}
ACTIVE_DEPLOYMENT_STATUSES = ("Pending", "Running", "Paused")


class Deployment(IdMixin, CreatedAtMixin, Base):
    """A canary rollout of ``candidate_version_id`` over ``baseline_version_id`` in one
    environment, driven by ``CanaryRolloutWorkflow`` (workflow id ``canary-{id}``).

    ``canary_weight`` is the percentage (0..100) of ``generate`` traffic the candidate gets now;
    ``generate`` reads it on every request. ``status``: Pending -> Running <-> Paused ->
    Promoted | RolledBack | Aborted. At most one active deployment per prompt and environment.
    """

    __tablename__ = "deployments"
    __table_args__ = (
        Index(
            "uq_deployments_active",
            "prompt_id",
            "environment",
            unique=True,
            postgresql_where=text("status IN ('Pending', 'Running', 'Paused')"),
        ),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    prompt_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("prompts.id", ondelete="CASCADE"), index=True
    )
    environment: Mapped[str] = mapped_column(String(20))
    candidate_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("prompt_versions.id"))
    baseline_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("prompt_versions.id"), nullable=True
    )
    plan: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="Pending")
    canary_weight: Mapped[float] = mapped_column(Float, default=0.0)
    current_step: Mapped[int] = mapped_column(Integer, default=-1)
    reason: Mapped[str] = mapped_column(Text, default="")
    workflow_id: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
