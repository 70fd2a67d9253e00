from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, ForeignKey, Integer, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base, IdMixin


class DeploymentCheck(IdMixin, Base):
    """One guard check of a canary rollout: the per-arm figures ``CanaryRolloutWorkflow``'s
    guards judged, as the ``compute_deployment_figures`` activity computed them.

    ``check_index`` counts the rollout's checks from 1 (the workflow's ``CanaryState.checks``
    after the check); a retried activity rewrites its own row, never adds one (unique
    ``(deployment_id, check_index)``). ``figures``: ``{"baseline": ArmFigures, "canary":
    ArmFigures}`` as dicts (units of ``activities.deployment.types.ArmFigures``), cumulative
    over the bake window that started at ``window_started_at``. ``canary_weight`` is the
    percentage the canary served at the check.
    """

    __tablename__ = "deployment_checks"
    __table_args__ = (UniqueConstraint("deployment_id", "check_index"),)

    deployment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE")
    )
    check_index: Mapped[int] = mapped_column(Integer)
    step_index: Mapped[int] = mapped_column(Integer)
    canary_weight: Mapped[float] = mapped_column(Float)
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)
    approval_eval_score: Mapped[float | None] = mapped_column(Float, nullable=True)
