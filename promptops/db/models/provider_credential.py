from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from promptops.db.models.base import Base, CreatedAtMixin, IdMixin


class ProviderCredential(IdMixin, CreatedAtMixin, Base):
    """A provider API key (OpenAI, Anthropic, ...) given to the platform by an organization.

    Stored encrypted with AES-256-GCM (``promptops.governance.security``): ``ciphertext`` includes
    the GCM tag, ``nonce`` is 96 random bits, the associated data binds the row to its organization
    and provider, ``key_id`` names the encryption key used (for rotation). ``hint`` is the last four
    characters, for recognition; the key itself is never returned by the API.
    """

    __tablename__ = "provider_credentials"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(16))
    hint: Mapped[str] = mapped_column(String(8))
    api_base: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_by: Mapped[str] = mapped_column(String(320))
