from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base, CreatedAtMixin, IdMixin


class Dataset(IdMixin, CreatedAtMixin, Base):
    """A golden set: examples with inputs and expected outputs."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    task_type: Mapped[str] = mapped_column(String(60), default="generation")
    description: Mapped[str] = mapped_column(Text, default="")
