"""Provider API keys (OpenAI, Anthropic, ...) given to the platform, encrypted at rest.

Each key is sealed with AES-256-GCM (``promptops.governance.security.SecretBox``, key from settings) under
associated data naming its organization and provider (``credential_aad``), so a row copied to
another tenant or relabelled as another provider does not decrypt. Only ciphertext, nonce, the
encryption key's id and a four-character hint are stored; the API never returns the key and
nothing here logs it (the request schema holds it as ``SecretStr``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal
from api.errors import Conflict, Forbidden, NotFound
from api.schemas.identity import ProviderKeyCreate
from api.services.identity import record_audit
from promptops.db.models import ProviderCredential, Role
from promptops.db.repositories import IdentityRepository
from promptops.governance.security import DecryptionError, SecretBox, credential_aad
from promptops.ttl_cache import Generation, TTLCache

logger = logging.getLogger(__name__)

#: Keys shorter than this get no hint: four characters of a short key say too much about it.
MIN_LENGTH_FOR_HINT = 12


@dataclass(frozen=True)
class ProviderSecret:
    """A decrypted provider credential, for the gateway call only; ``repr`` hides the key."""

    name: str
    provider: str
    api_key: str = field(repr=False)
    api_base: str | None = None


def credential_summary(row: ProviderCredential) -> dict[str, Any]:
    return {"provider": row.provider, "name": row.name, "hint": row.hint,
            "api_base": row.api_base, "key_id": row.key_id}


class ProviderKeyService:
    """Admin-only management of an organization's provider keys. They belong to the whole
    organization, so a project-scoped API key is refused (403)."""

    def __init__(self, session: AsyncSession, principal: Principal,
                 secret_box: SecretBox) -> None:
        principal.require(Role.ADMIN)
        if principal.project_id is not None:
            raise Forbidden("provider keys belong to the whole organization; this API key is "
                            f"scoped to project {principal.project_id}")
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
            id=uuid.uuid4(), organization_id=org, provider=data.provider, name=data.name,
            ciphertext=ciphertext, nonce=nonce, key_id=self.box.key_id,
            hint=plaintext[-4:] if len(plaintext) >= MIN_LENGTH_FOR_HINT else "",
            api_base=data.api_base, created_by=self.principal.actor)
        try:
            async with self.session.begin_nested():
                await self.identity.add(row)
        except IntegrityError as exc:  # a concurrent create with the same name
            raise Conflict(f"a provider key named {data.name!r} already exists",
                           field="name") from exc
        await self.session.refresh(row)
        CREDENTIALS.invalidate(self.session)
        await record_audit(self.session, self.principal, "provider_key.create", "provider_key",
                           row.id, after=credential_summary(row))
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
        CREDENTIALS.invalidate(self.session)
        await record_audit(self.session, self.principal, "provider_key.delete", "provider_key",
                           credential_id, before=before)


#: Decrypted provider keys by (organization, provider, encryption key id): every model call
#: asks for one, and a hit saves a query and an AES-GCM decryption. "No key" is cached too.
#: Same rule as the principal cache (:mod:`promptops.ttl_cache`): a provider-key write in this
#: process clears it at once; another API replica sees the write within ``ttl_s``
#: (``PROMPTOPS_AUTH_CACHE_TTL_S``, default 5 s, set by :func:`api.main.create_app`).
CREDENTIALS: TTLCache[tuple[uuid.UUID, str, str], ProviderSecret | None] = TTLCache(
    5.0, Generation())


async def provider_credential(session: AsyncSession, secret_box: SecretBox,
                              organization_id: uuid.UUID, provider: str) -> ProviderSecret | None:
    """The newest stored key of ``provider`` for the organization, decrypted; None if it has
    none. Cached for a few seconds (``CREDENTIALS``). Raises
    ``promptops.governance.security.DecryptionError`` when the row does not authenticate (tampered, copied
    from another organization, or sealed with another encryption key)."""
    provider = provider.strip().lower()
    key = (organization_id, provider, secret_box.key_id)
    found, secret = CREDENTIALS.get(key)
    if found:
        return secret
    generation = CREDENTIALS.generation.value
    secret = await _read_credential(session, secret_box, organization_id, provider)
    CREDENTIALS.put(key, secret, generation)
    return secret


async def _read_credential(session: AsyncSession, secret_box: SecretBox,
                           organization_id: uuid.UUID, provider: str) -> ProviderSecret | None:
    row = await IdentityRepository(session).credential_for_provider(organization_id, provider)
    if row is None:
        return None
    if row.key_id != secret_box.key_id:
        raise DecryptionError(
            f"provider key {row.name!r} was sealed with encryption key {row.key_id}, not the "
            f"configured {secret_box.key_id}: restore that key or store the provider key again")
    api_key = secret_box.decrypt(row.nonce, row.ciphertext,
                                 credential_aad(organization_id, provider))
    logger.debug("using provider key %r (%s, ...%s) of organization %s", row.name, provider,
                 row.hint, organization_id)
    return ProviderSecret(name=row.name, provider=provider, api_key=api_key,
                          api_base=row.api_base)


async def provider_api_key(session: AsyncSession, secret_box: SecretBox,
                           organization_id: uuid.UUID, provider: str) -> str | None:
    """The decrypted newest key of ``provider`` for the organization, or None (see
    :func:`provider_credential` for the errors)."""
    secret = await provider_credential(session, secret_box, organization_id, provider)
    return None if secret is None else secret.api_key
