from __future__ import annotations

import enum
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base, CreatedAtMixin, IdMixin


class Role(enum.StrEnum):
    """Organization roles, weakest first. Viewer reads; Editor creates versions, datasets, runs,
    evaluations, reviews and deployments; Admin also manages members, API keys, provider keys
    and approval policies."""

    VIEWER = "Viewer"
    EDITOR = "Editor"
    ADMIN = "Admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}
ROLE_VALUES = tuple(r.value for r in Role)


class Membership(IdMixin, CreatedAtMixin, Base):
    """A user's role in an organization; with ``project_id`` set the membership is narrowed to
    that one project (the user sees no other project of the organization)."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "organization_id"),
        CheckConstraint(f"role IN {ROLE_VALUES!r}", name="role"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=True
    )
    role: Mapped[str] = mapped_column(String(20))
