from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base, CreatedAtMixin, IdMixin


class Prompt(IdMixin, CreatedAtMixin, Base):
    """A named prompt in a project; its content lives in immutable prompt versions."""

    __tablename__ = "prompts"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    template_engine: Mapped[str] = mapped_column(String(40), default="jinja2")
