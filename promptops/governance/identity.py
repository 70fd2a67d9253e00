"""Creating organizations, members and API keys outside a request (``promptops up``, the
``promptops keys`` admin commands, test fixtures)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.models import ApiKey, Membership, Role
from promptops.db.repositories import AuditRepository, IdentityRepository, ProjectRepository
from promptops.governance.security import generate_api_key, hash_api_key


@dataclass(frozen=True)
class IssuedKey:
    """A key as shown once to its owner; ``key`` is never stored."""

    id: uuid.UUID
    key: str
    prefix: str
    organization_id: uuid.UUID
    user_id: uuid.UUID
    role: Role
    project_id: uuid.UUID | None


async def issue_api_key(
    session: AsyncSession,
    server_secret: bytes,
    *,
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    role: Role,
    name: str,
    created_by: str,
    project_id: uuid.UUID | None = None,
    expires_at: datetime | None = None,
    rotated_from: uuid.UUID | None = None,
) -> IssuedKey:
    new = generate_api_key()
    row = ApiKey(
        id=uuid.uuid4(),
        organization_id=organization_id,
        project_id=project_id,
        user_id=user_id,
        name=name,
        role=role.value,
        prefix=new.prefix,
        secret_hash=hash_api_key(new.key, server_secret),
        created_by=created_by,
        expires_at=expires_at,
        rotated_from=rotated_from,
    )
    await IdentityRepository(session).add(row)
    return IssuedKey(
        id=row.id,
        key=new.key,
        prefix=new.prefix,
        organization_id=organization_id,
        user_id=user_id,
        role=role,
        project_id=project_id,
    )


async def bootstrap_admin(
    session: AsyncSession,
    server_secret: bytes,
    *,
    organization: str,
    email: str,
    key_name: str = "bootstrap",
    role: Role = Role.ADMIN,
    project_id: uuid.UUID | None = None,
) -> IssuedKey:
    """Ensure ``organization`` and user ``email`` exist, make the user a member with ``role``
    (kept if already a member) and issue a new key. The caller commits."""
    org = await ProjectRepository(session).ensure_organization(organization)
    identity = IdentityRepository(session)
    user = await identity.ensure_user(email)
    membership = await identity.get_membership(user.id, org.id)
    if membership is None:
        await identity.add(
            Membership(
                id=uuid.uuid4(),
                user_id=user.id,
                organization_id=org.id,
                project_id=project_id,
                role=role.value,
            )
        )
    issued = await issue_api_key(
        session,
        server_secret,
        organization_id=org.id,
        user_id=user.id,
        role=role,
        name=key_name,
        created_by=email,
        project_id=project_id,
    )
    await AuditRepository(session).record(
        organization_id=org.id,
        actor=email,
        action="api_key.create",
        entity_type="api_key",
        entity_id=str(issued.id),
        after={"name": key_name, "role": role.value, "prefix": issued.prefix, "via": "bootstrap"},
    )
    return issued
