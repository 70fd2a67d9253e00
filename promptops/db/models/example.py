from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base, CreatedAtMixin, IdMixin


class Example(IdMixin, CreatedAtMixin, Base):
    """One golden-set row. ``external_id`` is the id given in the imported file; ``position`` is
    the 0-based order within the dataset, so evaluations can page through it stably."""

    __tablename__ = "examples"
    __table_args__ = (
        UniqueConstraint("dataset_id", "external_id"),
        UniqueConstraint("dataset_id", "position"),
    )

    dataset_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    input: Mapped[dict[str, Any]] = mapped_column()
    expected: Mapped[Any] = mapped_column(JSONB, nullable=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
