from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.connection import SQL
from promptops.db.models import ApiKey, Membership, ProviderCredential, User

_CREDENTIAL_COLUMNS = (
    "id",
    "organization_id",
    "provider",
    "name",
    "ciphertext",
    "nonce",
    "key_id",
    "hint",
    "api_base",
    "created_by",
    "created_at",
)
_CREDENTIAL = (
    f"SELECT {', '.join(_CREDENTIAL_COLUMNS)} FROM provider_credentials "
    "WHERE organization_id = %(org)s AND provider = %(provider)s "
    "ORDER BY created_at DESC LIMIT 1"
)


class IdentityRepository:
    """Users, memberships, API keys and provider credentials."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def ensure_user(self, email: str, display_name: str = "") -> User:
        await self.session.execute(
            insert(User)
            .values(id=uuid.uuid4(), email=email, display_name=display_name)
            .on_conflict_do_nothing(index_elements=["email"])
        )
        return (await self.session.execute(select(User).where(User.email == email))).scalar_one()

    async def get_user(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def get_membership(
        self, user_id: uuid.UUID, organization_id: uuid.UUID
    ) -> Membership | None:
        return (
            await self.session.execute(
                select(Membership).where(
                    Membership.user_id == user_id,
                    Membership.organization_id == organization_id,
                )
            )
        ).scalar_one_or_none()

    async def list_members(self, organization_id: uuid.UUID) -> Sequence[tuple[Membership, User]]:
        rows = await self.session.execute(
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.organization_id == organization_id)
            .order_by(User.email)
        )
        return [(m, u) for m, u in rows.all()]

    async def add(self, row: object) -> None:
        self.session.add(row)
        await self.session.flush()

    async def flush(self) -> None:
        """Write pending changes to loaded rows (the request's one commit comes later)."""
        await self.session.flush()

    async def delete(self, row: object) -> None:
        await self.session.delete(row)
        await self.session.flush()

    async def key_by_prefix(self, prefix: str) -> ApiKey | None:
        return (
            await self.session.execute(select(ApiKey).where(ApiKey.prefix == prefix))
        ).scalar_one_or_none()

    async def key_with_membership(
        self,
        prefix: str,
    ) -> tuple[ApiKey, Membership | None, User | None] | None:
        """The key with this prefix, its user's membership in the key's organization and the
        user, in one round trip (every authenticated request runs this)."""
        row = (
            await self.session.execute(
                select(ApiKey, Membership, User)
                .outerjoin(
                    Membership,
                    (Membership.user_id == ApiKey.user_id)
                    & (Membership.organization_id == ApiKey.organization_id),
                )
                .outerjoin(User, User.id == ApiKey.user_id)
                .where(ApiKey.prefix == prefix)
            )
        ).first()
        return None if row is None else (row[0], row[1], row[2])

    async def get_key(self, key_id: uuid.UUID, organization_id: uuid.UUID) -> ApiKey | None:
        return (
            await self.session.execute(
                select(ApiKey).where(
                    ApiKey.id == key_id,
                    ApiKey.organization_id == organization_id,
                )
            )
        ).scalar_one_or_none()

    async def list_keys(self, organization_id: uuid.UUID) -> Sequence[ApiKey]:
        return (
            (
                await self.session.execute(
                    select(ApiKey)
                    .where(ApiKey.organization_id == organization_id)
                    .order_by(ApiKey.created_at)
                )
            )
            .scalars()
            .all()
        )

    async def touch_key(self, key_id: uuid.UUID, now: datetime, *, older_than: datetime) -> None:
        """Set ``last_used_at`` unless it was set after ``older_than`` (bounds write load)."""
        await self.session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id)
            .where((ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < older_than))
            .values(last_used_at=now)
        )

    async def list_credentials(self, organization_id: uuid.UUID) -> Sequence[ProviderCredential]:
        return (
            (
                await self.session.execute(
                    select(ProviderCredential)
                    .where(ProviderCredential.organization_id == organization_id)
                    .order_by(ProviderCredential.created_at)
                )
            )
            .scalars()
            .all()
        )

    async def get_credential(
        self, credential_id: uuid.UUID, organization_id: uuid.UUID
    ) -> ProviderCredential | None:
        return (
            await self.session.execute(
                select(ProviderCredential).where(
                    ProviderCredential.id == credential_id,
                    ProviderCredential.organization_id == organization_id,
                )
            )
        ).scalar_one_or_none()

    # Administration queries (members, keys) -------------------------------------------------
    async def get_user_by_email(self, email: str) -> User | None:
        return (
            await self.session.execute(select(User).where(User.email == email))
        ).scalar_one_or_none()

    async def get_member(
        self, user_id: uuid.UUID, organization_id: uuid.UUID, *, for_update: bool = False
    ) -> tuple[Membership, User] | None:
        q = (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.user_id == user_id, Membership.organization_id == organization_id)
        )
        if for_update:
            q = q.with_for_update(of=Membership)
        row = (await self.session.execute(q)).one_or_none()
        return None if row is None else (row[0], row[1])

    async def lock_org_admins(self, organization_id: uuid.UUID) -> Sequence[Membership]:
        """The organization-wide Admin memberships (no project narrowing), locked FOR UPDATE so
        two concurrent demotions cannot both pass the last-Admin check."""
        return (
            (
                await self.session.execute(
                    select(Membership)
                    .where(
                        Membership.organization_id == organization_id,
                        Membership.role == "Admin",
                        Membership.project_id.is_(None),
                    )
                    .order_by(Membership.id)
                    .with_for_update()
                )
            )
            .scalars()
            .all()
        )

    async def list_keys_with_users(
        self,
        organization_id: uuid.UUID,
        *,
        user_id: uuid.UUID | None = None,
        project_id: uuid.UUID | None = None,
    ) -> Sequence[tuple[ApiKey, User]]:
        """Keys of an organization with their users, oldest first; optionally only one user's
        keys, or only keys scoped to ``project_id``."""
        q = (
            select(ApiKey, User)
            .join(User, User.id == ApiKey.user_id)
            .where(ApiKey.organization_id == organization_id)
        )
        if user_id is not None:
            q = q.where(ApiKey.user_id == user_id)
        if project_id is not None:
            q = q.where(ApiKey.project_id == project_id)
        rows = await self.session.execute(q.order_by(ApiKey.created_at, ApiKey.id))
        return [(k, u) for k, u in rows.all()]

    async def get_key_for_update(
        self, key_id: uuid.UUID, organization_id: uuid.UUID
    ) -> ApiKey | None:
        return (
            await self.session.execute(
                select(ApiKey)
                .where(
                    ApiKey.id == key_id,
                    ApiKey.organization_id == organization_id,
                )
                .with_for_update()
            )
        ).scalar_one_or_none()

    async def revoke_user_keys(
        self, user_id: uuid.UUID, organization_id: uuid.UUID, now: datetime
    ) -> int:
        """Revoke every unrevoked key of ``user_id`` in the organization; returns how many."""
        result = await self.session.execute(
            update(ApiKey)
            .where(
                ApiKey.user_id == user_id,
                ApiKey.organization_id == organization_id,
                ApiKey.revoked_at.is_(None),
            )
            .values(revoked_at=now)
            .returning(ApiKey.id)
        )
        return len(result.all())

    async def credential_name_taken(self, organization_id: uuid.UUID, name: str) -> bool:
        return bool(
            (
                await self.session.execute(
                    select(func.count())
                    .select_from(ProviderCredential)
                    .where(
                        ProviderCredential.organization_id == organization_id,
                        ProviderCredential.name == name,
                    )
                )
            ).scalar_one()
        )


class ProviderCredentialReader:
    """The newest stored provider key of an organization, read by every model call (raw SQL
    on the call's connection, :mod:`promptops.db.connection`)."""

    def __init__(self, db: SQL) -> None:
        self.db = db

    async def newest(self, organization_id: uuid.UUID, provider: str) -> ProviderCredential | None:
        """The organization's newest key for ``provider`` as a transient row, or None."""
        row = await self.db.fetchone(_CREDENTIAL, {"org": organization_id, "provider": provider})
        if row is None:
            return None
        return ProviderCredential(**dict(zip(_CREDENTIAL_COLUMNS, row, strict=True)))


@dataclass(frozen=True)
class KeyFacts:
    """What authenticating an API key needs: the key, its user's membership in the key's
    organization (``member_role`` None when the user is no longer a member) and the user."""

    id: uuid.UUID
    organization_id: uuid.UUID
    project_id: uuid.UUID | None
    user_id: uuid.UUID | None
    role: str
    prefix: str
    secret_hash: str
    revoked_at: datetime | None
    expires_at: datetime | None
    rate_limit_rpm: int | None
    member_role: str | None
    member_project_id: uuid.UUID | None
    email: str | None


_KEY_FACTS = """
SELECT k.id, k.organization_id, k.project_id, k.user_id, k.role, k.prefix, k.secret_hash,
       k.revoked_at, k.expires_at, k.rate_limit_rpm, m.role, m.project_id, u.email
FROM api_keys k
LEFT JOIN memberships m ON m.user_id = k.user_id AND m.organization_id = k.organization_id
LEFT JOIN users u ON u.id = k.user_id
WHERE k.prefix = %(prefix)s
"""
_TOUCH_KEY = (
    "UPDATE api_keys SET last_used_at = %(now)s WHERE id = %(id)s "
    "AND (last_used_at IS NULL OR last_used_at < %(older)s)"
)


class ApiKeyAuthRepository:
    """The statements of authentication, on an autocommit connection (raw SQL,
    :mod:`promptops.db.connection`): every authenticated request that misses the principal
    cache reads its key here."""

    def __init__(self, db: SQL) -> None:
        self.db = db

    async def lookup(self, prefix: str) -> KeyFacts | None:
        """The key with this prefix, with its user's membership and email. One query."""
        row = await self.db.fetchone(_KEY_FACTS, {"prefix": prefix})
        return None if row is None else KeyFacts(*row)

    async def touch(self, key_id: uuid.UUID, now: datetime, *, older_than: datetime) -> None:
        """Set ``last_used_at`` unless it was set after ``older_than`` (bounds write load)."""
        await self.db.execute(_TOUCH_KEY, {"id": key_id, "now": now, "older": older_than})
