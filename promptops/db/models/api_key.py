from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base, CreatedAtMixin, IdMixin
from promptops.db.models.membership import ROLE_VALUES


class ApiKey(IdMixin, CreatedAtMixin, Base):
    """An API key: ``po_<prefix>_<secret>``. Only ``prefix`` (for lookup) and the HMAC-SHA256 of
    the whole key under the server secret are stored; the key itself is shown once.

    Scoped to an organization (optionally one project) with a role; acts as ``user_id``.
    ``revoked_at`` set means refused; ``last_used_at`` is updated at most once a minute.
    """

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(f"role IN {ROLE_VALUES!r}", name="role"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(320))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    rotated_from: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    #: Requests per minute this key may make (fixed UTC minute windows); NULL = unlimited.
    rate_limit_rpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
