from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base, CreatedAtMixin, IdMixin
from promptops.db.models.deployment import ENVIRONMENT_LABELS

#: Protected in every project; cannot be unprotected.
ALWAYS_PROTECTED_LABELS = frozenset({"production"})
#: The labels an Admin may mark protected: those a deployment moves (``ENVIRONMENT_LABELS``).
#: A protected label moves only through a deployment or an emergency rollback, so protecting a
#: label no environment serves would freeze it.
PROTECTABLE_LABELS = frozenset(ENVIRONMENT_LABELS.values())


class ProtectedLabel(IdMixin, CreatedAtMixin, Base):
    """A label an Admin marked protected in one project (beyond ``ALWAYS_PROTECTED_LABELS``).

    A protected label points only at Approved versions; it moves through a deployment's
    promotion or an Admin's emergency rollback, never through ``PUT .../labels/{name}``.
    """

    __tablename__ = "protected_labels"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(320))
