from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base

#: Rollup grains: UTC hours and UTC days.
ROLLUP_GRAINS = ("hour", "day")
#: Bins of the latency histogram (``vector(436)``; the mapping is in
#: :mod:`promptops.db.repositories.rollups`).
LATENCY_BINS = 436


class RunRollup(Base):
    """The dashboard's figures of the runs of one (project, model, prompt version) in one UTC
    hour or day (``grain``, ``bucket_start``): counts, sums (tokens, USD, ms) and a log-spaced
    latency histogram (``latency_hist``, a pgvector ``vector(436)`` of counts; see
    :mod:`promptops.db.repositories.rollups` for the mapping and its 2 % error bound).

    Written only by the database function ``run_rollups_fold()`` (migration 0006), which moves
    :class:`RunRollupDelta` rows in; a NULL ``prompt_version_id`` is the calls made without a
    version (free text, ``/v1`` with a plain model) and is one key like any other (the unique
    constraint treats NULLs as equal).
    """

    __tablename__ = "run_rollups"
    __table_args__ = (
        CheckConstraint("grain IN ('hour', 'day')", name="grain"),
        UniqueConstraint(
            "grain",
            "project_id",
            "bucket_start",
            "model",
            "prompt_version_id",
            postgresql_nulls_not_distinct=True,
        ),
        Index("ix_run_rollups_grain_bucket_start", "grain", "bucket_start"),
    )
    __mapper_args__ = {  # noqa: RUF012 - SQLAlchemy's declarative attribute
        "primary_key": ["grain", "project_id", "bucket_start", "model", "prompt_version_id"]
    }

    grain: Mapped[str] = mapped_column(String(4))
    bucket_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(200))
    prompt_version_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    runs: Mapped[int] = mapped_column(BigInteger)
    successes: Mapped[int] = mapped_column(BigInteger)
    cache_hits: Mapped[int] = mapped_column(BigInteger)
    tokens_in: Mapped[int] = mapped_column(BigInteger)
    tokens_out: Mapped[int] = mapped_column(BigInteger)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(24, 8))
    latency_ms_sum: Mapped[float] = mapped_column(Float)
    latency_hist: Mapped[Any] = mapped_column(Vector(LATENCY_BINS))


class RunRollupDelta(Base):
    """A signed change to the rollups not folded in yet: the statement triggers on ``runs``
    append ``sign = 1`` for an inserted run, ``-1`` for a deleted one (and both for an update
    of a rollup column), in the writer's transaction. Append-only, no index: the cheapest row
    the run's write can carry. ``run_rollups_fold()`` deletes them as it folds them; reads add
    the ones still here."""

    __tablename__ = "run_rollup_deltas"
    __mapper_args__ = {  # noqa: RUF012 - SQLAlchemy's declarative attribute
        "primary_key": ["project_id", "created_at", "model"]
    }

    project_id: Mapped[uuid.UUID] = mapped_column()
    prompt_version_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    model: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    latency_ms: Mapped[float] = mapped_column(Float)
    success: Mapped[bool] = mapped_column(Boolean)
    cache_hit: Mapped[bool] = mapped_column(Boolean)
    tokens_in: Mapped[int] = mapped_column(Integer)
    tokens_out: Mapped[int] = mapped_column(Integer)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(18, 8))
    sign: Mapped[int] = mapped_column(SmallInteger)
