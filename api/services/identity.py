"""Business rules for members and API keys of an organization.

Rules (issue 3, items 1 and 2):

- Members: any role lists; only an Admin adds, changes or removes. The organization keeps at
  least one organization-wide Admin (an Admin membership without project narrowing): a change
  that would leave none is refused with 409. Removing a member revokes their keys in the
  organization, so re-adding the user later does not bring old keys back.
- API keys: anyone creates keys for themselves with a role no higher than their own (the weaker
  of the calling key's role and their membership role); only an Admin creates keys for another
  member, never above that member's role. A project-scoped caller (or member) only gets keys
  scoped to its project. Owners rotate and revoke their own keys, Admins any key they can see.
- Rotation revokes the old key at once (no grace period): callers switch to the new key, which
  is shown once, before the next request with the old one.
- Every change is audited with actor, request id and a before/after summary; summaries name a
  key by id, name and prefix (the lookup part), never its secret or hash.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal, invalidate_principals
from api.errors import Conflict, Forbidden, NotFound, Unprocessable
from api.schemas.identity import ApiKeyCreate, ApiKeyUpdate, MemberCreate, MemberUpdate
from api.services.prompts import PromptService
from promptops.db.models import ApiKey, Membership, Role, User
from promptops.db.repositories import AuditRepository, IdentityRepository
from promptops.governance.identity import issue_api_key


async def record_audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    entity_type: str,
    entity_id: object,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """One audit row for a change made by ``principal`` in this request."""
    await AuditRepository(session).record(
        organization_id=principal.organization_id,
        actor=principal.actor,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=before,
        after=after,
        request_id=principal.request_id,
    )


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)


def member_summary(membership: Membership, user: User) -> dict[str, Any]:
    return {"email": user.email, "role": membership.role, "project_id": _str(membership.project_id)}


def key_summary(key: ApiKey, user_email: str) -> dict[str, Any]:
    """What the audit log keeps of a key: never the secret or its hash."""
    return {
        "name": key.name,
        "prefix": key.prefix,
        "role": key.role,
        "user": user_email,
        "project_id": _str(key.project_id),
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        "rate_limit_rpm": key.rate_limit_rpm,
    }


def member_public(membership: Membership, user: User) -> dict[str, Any]:
    return {
        "user_id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "role": membership.role,
        "project_id": membership.project_id,
        "created_at": membership.created_at,
    }


def key_public(key: ApiKey, user: User) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "role": key.role,
        "project_id": key.project_id,
        "user_id": key.user_id,
        "user_email": user.email,
        "created_by": key.created_by,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "rotated_from": key.rotated_from,
        "rate_limit_rpm": key.rate_limit_rpm,
    }


def _is_org_admin(membership: Membership) -> bool:
    return membership.role == Role.ADMIN.value and membership.project_id is None


class MemberService:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.identity = IdentityRepository(session)

    async def list_members(self) -> list[dict[str, Any]]:
        """Members of the caller's organization; a project-scoped caller sees the members who
        can reach its project (organization-wide ones and those narrowed to it)."""
        scope = self.principal.project_id
        return [
            member_public(m, u)
            for m, u in await self.identity.list_members(self.principal.organization_id)
            if scope is None or m.project_id in (None, scope)
        ]

    async def _project_scope(self, project_id: uuid.UUID | None) -> uuid.UUID | None:
        """Check a requested project narrowing: 404 outside the organization, 403 outside a
        project-scoped caller's project (which is also the default for such a caller)."""
        scope = self.principal.project_id
        if scope is not None:
            if project_id is None:
                project_id = scope
            elif project_id != scope:
                raise Forbidden(
                    f"this API key is scoped to project {scope}; it can only "
                    "manage members of that project",
                    field="project_id",
                )
        if project_id is not None:
            await PromptService(self.session, self.principal).get_project(project_id)
        return project_id

    async def add(self, data: MemberCreate) -> dict[str, Any]:
        """Add ``data.email`` (created if new) with a role. 409 if already a member."""
        self.principal.require(Role.ADMIN)
        project_id = await self._project_scope(data.project_id)
        user = await self.identity.ensure_user(data.email)
        org = self.principal.organization_id
        if await self.identity.get_membership(user.id, org) is not None:
            raise Conflict(f"{data.email} is already a member of this organization", field="email")
        membership = Membership(
            id=uuid.uuid4(),
            user_id=user.id,
            organization_id=org,
            project_id=project_id,
            role=data.role.value,
        )
        await self.identity.add(membership)
        await self.session.refresh(membership)
        await record_audit(
            self.session,
            self.principal,
            "member.add",
            "member",
            user.id,
            after=member_summary(membership, user),
        )
        return member_public(membership, user)

    async def _load_for_change(
        self, user_id: uuid.UUID
    ) -> tuple[Membership, User, list[Membership]]:
        # Lock the organization's Admins first, then the member, always in this order, so two
        # concurrent changes cannot deadlock or both remove the last Admin.
        admins = list(await self.identity.lock_org_admins(self.principal.organization_id))
        found = await self.identity.get_member(
            user_id, self.principal.organization_id, for_update=True
        )
        scope = self.principal.project_id
        if found is None or (scope is not None and found[0].project_id not in (None, scope)):
            raise NotFound(f"member {user_id} not found")
        membership, user = found
        if scope is not None and membership.project_id != scope:
            raise Forbidden(
                f"this API key is scoped to project {scope}; it can only change "
                "members narrowed to that project"
            )
        return membership, user, admins

    @staticmethod
    def _keep_an_admin(membership: Membership, admins: list[Membership]) -> None:
        if _is_org_admin(membership) and all(a.id == membership.id for a in admins):
            raise Conflict(
                "the organization must keep at least one organization-wide Admin; "
                "make another member Admin first"
            )

    async def update(self, user_id: uuid.UUID, data: MemberUpdate) -> dict[str, Any]:
        """Change a member's role and/or project narrowing (``project_id: null`` widens it to
        the whole organization). 404 unknown member, 409 if no Admin would remain."""
        self.principal.require(Role.ADMIN)
        invalidate_principals(self.session)
        membership, user, admins = await self._load_for_change(user_id)
        before = member_summary(membership, user)
        role = data.role.value if data.role is not None else membership.role
        project_id = membership.project_id
        if "project_id" in data.model_fields_set:
            project_id = await self._project_scope(data.project_id)
        if (role, project_id) == (membership.role, membership.project_id):
            return member_public(membership, user)
        if role != Role.ADMIN.value or project_id is not None:
            self._keep_an_admin(membership, admins)
        membership.role, membership.project_id = role, project_id
        await self.session.flush()
        await record_audit(
            self.session,
            self.principal,
            "member.update",
            "member",
            user.id,
            before=before,
            after=member_summary(membership, user),
        )
        return member_public(membership, user)

    async def remove(self, user_id: uuid.UUID) -> dict[str, Any]:
        """Remove a member and revoke their keys of this organization. 409 for the last Admin."""
        self.principal.require(Role.ADMIN)
        invalidate_principals(self.session)
        membership, user, admins = await self._load_for_change(user_id)
        self._keep_an_admin(membership, admins)
        before = member_summary(membership, user)
        revoked = await self.identity.revoke_user_keys(
            user.id, self.principal.organization_id, datetime.now(UTC)
        )
        await self.identity.delete(membership)
        await record_audit(
            self.session,
            self.principal,
            "member.remove",
            "member",
            user.id,
            before=before,
            after={"revoked_keys": revoked},
        )
        return {"user_id": user.id, "email": user.email, "revoked_keys": revoked}


class ApiKeyService:
    def __init__(self, session: AsyncSession, principal: Principal, server_secret: bytes) -> None:
        self.session = session
        self.principal = principal
        self.server_secret = server_secret
        self.identity = IdentityRepository(session)

    def _visible(self, key: ApiKey) -> bool:
        p = self.principal
        if p.project_id is not None and key.project_id != p.project_id:
            return False
        return p.role is Role.ADMIN or key.user_id == p.user_id

    async def list_keys(self) -> list[dict[str, Any]]:
        """Admins: every key of the organization (of their project, when project-scoped);
        others: their own keys. Newest last."""
        p = self.principal
        rows = await self.identity.list_keys_with_users(
            p.organization_id,
            project_id=p.project_id,
            user_id=None if p.role is Role.ADMIN else p.user_id,
        )
        return [key_public(k, u) for k, u in rows]

    async def _target(self, user_email: str | None) -> tuple[User, Membership]:
        p = self.principal
        org = p.organization_id
        if user_email is None or user_email == p.actor:
            if p.user_id is None:
                raise Forbidden("this caller has no user to own a key")
            user = await self.identity.get_user(p.user_id)
            membership = await self.identity.get_membership(p.user_id, org)
            if user is None or membership is None:  # deleted mid-request
                raise Forbidden("the caller is no longer a member of this organization")
            return user, membership
        if p.role is not Role.ADMIN:
            raise Forbidden(
                "only an Admin may create API keys for another member", field="user_email"
            )
        other = await self.identity.get_user_by_email(user_email)
        membership = None if other is None else await self.identity.get_membership(other.id, org)
        if other is None or membership is None:
            raise NotFound(f"{user_email} is not a member of this organization", field="user_email")
        return other, membership

    async def create(self, data: ApiKeyCreate) -> dict[str, Any]:
        """Issue a key; returns its public fields plus ``key`` (shown once).

        Raises Forbidden (403) for a role above the caller's or a key for another member by a
        non-Admin or outside a project-scoped caller's project; Unprocessable (422) for a role
        above the member's, a project outside the member's narrowing or a past ``expires_at``;
        NotFound (404) for an unknown member or project.
        """
        p = self.principal
        user, membership = await self._target(data.user_email)
        if not p.role.at_least(data.role):
            raise Forbidden(
                f"a key with role {data.role.value} is above your own role ({p.role.value})",
                field="role",
            )
        member_role = Role(membership.role)
        if not member_role.at_least(data.role):
            raise Unprocessable(
                f"{user.email} is a {member_role.value}; their keys cannot have "
                f"role {data.role.value}",
                field="role",
            )
        project_id = data.project_id
        for scope, who in (
            (p.project_id, "this API key"),
            (membership.project_id, f"{user.email}'s membership"),
        ):
            if scope is None:
                continue
            if project_id is None:
                project_id = scope
            elif project_id != scope:
                error = Forbidden if who == "this API key" else Unprocessable
                raise error(
                    f"{who} is scoped to project {scope}; the new key must be scoped "
                    "to that project too",
                    field="project_id",
                )
        if project_id is not None:
            await PromptService(self.session, p).get_project(project_id)
        expires_at = data.expires_at
        if expires_at is not None:
            if expires_at.tzinfo is None:
                expires_at = expires_at.replace(tzinfo=UTC)
            if expires_at <= datetime.now(UTC):
                raise Unprocessable("expires_at is in the past", field="expires_at")
        issued = await issue_api_key(
            self.session,
            self.server_secret,
            organization_id=p.organization_id,
            user_id=user.id,
            role=data.role,
            name=data.name,
            created_by=p.actor,
            project_id=project_id,
            expires_at=expires_at,
        )
        key = await self._reload(issued.id)
        if data.rate_limit_rpm is not None:
            key.rate_limit_rpm = data.rate_limit_rpm
            await self.session.flush()
        await record_audit(
            self.session, p, "api_key.create", "api_key", key.id, after=key_summary(key, user.email)
        )
        return {**key_public(key, user), "key": issued.key}

    async def _reload(self, key_id: uuid.UUID) -> ApiKey:
        key = await self.identity.get_key(key_id, self.principal.organization_id)
        assert key is not None  # just inserted in this transaction
        await self.session.refresh(key)
        return key

    async def _load(self, key_id: uuid.UUID) -> tuple[ApiKey, User]:
        """A key the caller may manage (locked for this transaction); 404 otherwise."""
        key = await self.identity.get_key_for_update(key_id, self.principal.organization_id)
        if key is None or not self._visible(key):
            raise NotFound(f"API key {key_id} not found")
        user = await self.identity.get_user(key.user_id)
        assert user is not None  # users.id is a foreign key of api_keys
        return key, user

    async def rotate(self, key_id: uuid.UUID) -> dict[str, Any]:
        """Issue a new key with the old one's name, role, project, owner and expiry
        (``rotated_from`` = old id) and revoke the old one at once. Returns the new key's public
        fields plus ``key`` (shown once). 409 for a revoked or expired key; 403 when the key's
        role is above the caller's (a weak key cannot mint a stronger one)."""
        invalidate_principals(self.session)
        p = self.principal
        old, user = await self._load(key_id)
        now = datetime.now(UTC)
        if old.revoked_at is not None:
            raise Conflict(f"API key {key_id} is revoked; create a new key instead")
        if old.expires_at is not None and old.expires_at <= now:
            raise Conflict(f"API key {key_id} has expired; create a new key instead")
        if not p.role.at_least(Role(old.role)):
            raise Forbidden(
                f"rotating a {old.role} key needs the {old.role} role; this API key "
                f"has {p.role.value}"
            )
        before = key_summary(old, user.email)
        old.revoked_at = now
        await self.session.flush()
        issued = await issue_api_key(
            self.session,
            self.server_secret,
            organization_id=p.organization_id,
            user_id=old.user_id,
            role=Role(old.role),
            name=old.name,
            created_by=p.actor,
            project_id=old.project_id,
            expires_at=old.expires_at,
            rotated_from=old.id,
        )
        new = await self._reload(issued.id)
        if old.rate_limit_rpm is not None:
            new.rate_limit_rpm = old.rate_limit_rpm
            await self.session.flush()
        await record_audit(
            self.session,
            p,
            "api_key.rotate",
            "api_key",
            old.id,
            before=before,
            after={
                **key_summary(new, user.email),
                "id": str(new.id),
                "old_revoked_at": now.isoformat(),
            },
        )
        return {**key_public(new, user), "key": issued.key}

    async def update(self, key_id: uuid.UUID, data: ApiKeyUpdate) -> dict[str, Any]:
        """Rename a key or set/remove its ``rate_limit_rpm`` (only the fields sent change;
        ``rate_limit_rpm: null`` means unlimited). Owners change their own keys, Admins any
        key of the organization; 404 otherwise, 409 for a revoked key."""
        invalidate_principals(self.session)
        key, user = await self._load(key_id)
        if key.revoked_at is not None:
            raise Conflict(f"API key {key_id} is revoked")
        before = key_summary(key, user.email)
        sent = data.model_fields_set
        if "name" in sent and data.name is not None:
            key.name = data.name
        if "rate_limit_rpm" in sent:
            key.rate_limit_rpm = data.rate_limit_rpm
        await self.session.flush()
        after = key_summary(key, user.email)
        if after != before:
            await record_audit(
                self.session,
                self.principal,
                "api_key.update",
                "api_key",
                key.id,
                before=before,
                after=after,
            )
        return key_public(key, user)

    async def revoke(self, key_id: uuid.UUID) -> dict[str, Any]:
        """Set ``revoked_at`` (the row is kept for the audit trail). Revoking a revoked key
        changes nothing and returns it as is."""
        invalidate_principals(self.session)
        key, user = await self._load(key_id)
        if key.revoked_at is None:
            before = key_summary(key, user.email)
            key.revoked_at = datetime.now(UTC)
            await self.session.flush()
            await record_audit(
                self.session,
                self.principal,
                "api_key.revoke",
                "api_key",
                key.id,
                before=before,
                after=key_summary(key, user.email),
            )
        return key_public(key, user)
