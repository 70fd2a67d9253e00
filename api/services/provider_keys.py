"""Provider API keys (OpenAI, Anthropic, ...) given to the platform, encrypted at rest.

Each key is sealed with AES-256-GCM (``promptops.governance.security.SecretBox``, key from
settings) under associated data naming its organization and provider (``credential_aad``), so a row
copied to another tenant or relabelled as another provider does not decrypt. Only ciphertext,
nonce, the encryption key's id and a four-character hint are stored; the API never returns the key
and nothing here logs it (the request schema holds it as ``SecretStr``).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal
from api.errors import Conflict, Forbidden, NotFound
from api.schemas.identity import ProviderKeyCreate, ProviderKeyReplace
from api.services.identity import record_audit
from promptops.db.models import ProviderCredential, Role
from promptops.db.repositories import IdentityRepository
from promptops.governance.security import SecretBox, credential_aad
from promptops.llm.credentials import invalidate_credentials

#: Keys shorter than this get no hint: four characters of a short key say too much about it.
MIN_LENGTH_FOR_HINT = 12


def credential_summary(row: ProviderCredential) -> dict[str, Any]:
    return {
        "provider": row.provider,
        "name": row.name,
        "hint": row.hint,
        "api_base": row.api_base,
        "key_id": row.key_id,
    }


class ProviderKeyService:
    """Admin-only management of an organization's provider keys. They belong to the whole
    organization, so a project-scoped API key is refused (403)."""

    def __init__(self, session: AsyncSession, principal: Principal, secret_box: SecretBox) -> None:
        principal.require(Role.ADMIN)
        if principal.project_id is not None:
            raise Forbidden(
                "provider keys belong to the whole organization; this API key is "
                f"scoped to project {principal.project_id}"
            )
        self.session = session
        self.principal = principal
        self.box = secret_box
        self.identity = IdentityRepository(session)

    async def create(self, data: ProviderKeyCreate) -> ProviderCredential:
        """Encrypt and store a key. 409 if the organization already has a key named
        ``data.name``."""
        org = self.principal.organization_id
        if await self.identity.credential_name_taken(org, data.name):
            raise Conflict(f"a provider key named {data.name!r} already exists", field="name")
        plaintext = data.api_key.get_secret_value()
        nonce, ciphertext = self.box.encrypt(plaintext, credential_aad(org, data.provider))
        row = ProviderCredential(
            id=uuid.uuid4(),
            organization_id=org,
            provider=data.provider,
            name=data.name,
            ciphertext=ciphertext,
            nonce=nonce,
            key_id=self.box.key_id,
            hint=plaintext[-4:] if len(plaintext) >= MIN_LENGTH_FOR_HINT else "",
            api_base=data.api_base,
            created_by=self.principal.actor,
        )
        try:
            async with self.session.begin_nested():
                await self.identity.add(row)
        except IntegrityError as exc:  # a concurrent create with the same name
            raise Conflict(
                f"a provider key named {data.name!r} already exists", field="name"
            ) from exc
        await self.session.refresh(row)
        invalidate_credentials(self.session)
        await record_audit(
            self.session,
            self.principal,
            "provider_key.create",
            "provider_key",
            row.id,
            after=credential_summary(row),
        )
        return row

    async def replace(
        self, credential_id: uuid.UUID, data: ProviderKeyReplace
    ) -> ProviderCredential:
        """Seal a new secret (and API base) into a stored key, keeping its id, provider and
        name; the old ciphertext is overwritten. 404 if not of this organization."""
        org = self.principal.organization_id
        row = await self.identity.get_credential(credential_id, org)
        if row is None:
            raise NotFound(f"provider key {credential_id} not found")
        before = credential_summary(row)
        plaintext = data.api_key.get_secret_value()
        nonce, ciphertext = self.box.encrypt(plaintext, credential_aad(org, row.provider))
        row.ciphertext = ciphertext
        row.nonce = nonce
        row.key_id = self.box.key_id
        row.hint = plaintext[-4:] if len(plaintext) >= MIN_LENGTH_FOR_HINT else ""
        row.api_base = data.api_base
        await self.identity.flush()
        invalidate_credentials(self.session)
        await record_audit(
            self.session,
            self.principal,
            "provider_key.replace",
            "provider_key",
            row.id,
            before=before,
            after=credential_summary(row),
        )
        return row

    async def list_credentials(self) -> list[ProviderCredential]:
        return list(await self.identity.list_credentials(self.principal.organization_id))

    async def delete(self, credential_id: uuid.UUID) -> None:
        """Delete the stored key (ciphertext included). 404 if not of this organization."""
        row = await self.identity.get_credential(credential_id, self.principal.organization_id)
        if row is None:
            raise NotFound(f"provider key {credential_id} not found")
        before = credential_summary(row)
        await self.identity.delete(row)
        invalidate_credentials(self.session)
        await record_audit(
            self.session,
            self.principal,
            "provider_key.delete",
            "provider_key",
            credential_id,
            before=before,
        )
