from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base, CreatedAtMixin, IdMixin


class PromptVersionStatus(enum.StrEnum):
    DRAFT = "Draft"
    PENDING = "Pending"
    APPROVED = "Approved"
    REJECTED = "Rejected"


class PromptVersion(IdMixin, CreatedAtMixin, Base):
    """One immutable version of a prompt.

    ``body``, ``variables``, ``model``, ``decoding`` and ``response_format`` never change after
    insert (a database trigger refuses it); ``content_hash`` is the SHA-256 of their canonical
    JSON, so two versions with the same content are recognisable.
    """

    __tablename__ = "prompt_versions"
    __table_args__ = (UniqueConstraint("prompt_id", "version"),)

    prompt_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("prompts.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    system: Mapped[str | None] = mapped_column(Text, nullable=True)
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    notes: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decoding: Mapped[dict[str, Any]] = mapped_column(default=dict)
    response_format: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[PromptVersionStatus] = mapped_column(
        Enum(
            PromptVersionStatus,
            name="prompt_version_status",
            values_callable=lambda e: [m.value for m in e],
        ),
        default=PromptVersionStatus.DRAFT,
    )
    created_by: Mapped[str] = mapped_column(String(200), default="local")
