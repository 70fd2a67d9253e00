"""A tenant's own provider keys (OpenAI, Anthropic, ...) for its model calls.

Keys are stored sealed with AES-256-GCM (:class:`promptops.governance.security.SecretBox`) under
associated data naming the organization and provider, so a row copied to another tenant or
relabelled as another provider does not decrypt. Every model call asks for the key of its
first candidate's provider; decrypted keys are cached for a few seconds (:data:`CREDENTIALS`).

A stored key that cannot be used (sealed with another encryption key, or made of characters an
HTTP header cannot carry: such keys were accepted before keys were validated at the door) fails
only the calls that would use it, with an error naming the key, never the whole tenant.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.connection import SQL
from promptops.db.repositories.identity import ProviderCredentialReader
from promptops.errors import InvalidInput, Misconfigured
from promptops.governance.security import DecryptionError, SecretBox, credential_aad
from promptops.llm.catalog import ModelEntry
from promptops.llm.types import ProviderOverride
from promptops.ttl_cache import Generation, TTLCache

__all__ = [
    "CREDENTIALS",
    "CredentialStore",
    "ProviderSecret",
    "invalidate_credentials",
    "provider_credential",
    "unusable_reason",
]

logger = logging.getLogger(__name__)

#: Longest key an HTTP header line carries comfortably (servers commonly cap a header at 8 KiB).
MAX_KEY_LENGTH = 4096


@dataclass(frozen=True)
class ProviderSecret:
    """A decrypted provider credential, for the gateway call only; ``repr`` hides the key."""

    name: str
    provider: str
    api_key: str = field(repr=False)
    api_base: str | None = None


#: Decrypted provider keys by (organization, provider, encryption key id): every model call
#: asks for one, and a hit saves a query and an AES-GCM decryption. "No key" is cached too. A
#: provider-key write in this process clears it at once (:func:`invalidate_credentials`);
#: another replica sees the write within ``ttl_s`` (``PROMPTOPS_AUTH_CACHE_TTL_S``, default 5 s,
#: set by the API at start).
CREDENTIALS: TTLCache[tuple[uuid.UUID, str, str], ProviderSecret | None] = TTLCache(
    5.0, Generation()
)


def invalidate_credentials(session: AsyncSession | None = None) -> None:
    """Forget the cached provider keys of this process (a provider-key write); with
    ``session``, again once it commits."""
    CREDENTIALS.invalidate(session)


def unusable_reason(api_key: str) -> str | None:
    """Why ``api_key`` cannot be sent as ``Authorization: Bearer <key>``, or None: it must be
    1 to :data:`MAX_KEY_LENGTH` printable ASCII characters without spaces (RFC 9110's
    ``token68``-like credentials; anything else makes the HTTP client fail before the request
    leaves)."""
    if not api_key:
        return "it is empty"
    if len(api_key) > MAX_KEY_LENGTH:
        return f"it is longer than {MAX_KEY_LENGTH} characters"
    if not all(33 <= ord(ch) <= 126 for ch in api_key):
        return "it contains spaces, control or non-ASCII characters an HTTP header cannot carry"
    return None


async def provider_credential(
    db: SQL, secret_box: SecretBox, organization_id: uuid.UUID, provider: str
) -> ProviderSecret | None:
    """The newest stored key of ``provider`` for the organization, decrypted; None if it has
    none. Cached for a few seconds (:data:`CREDENTIALS`). Raises
    :class:`promptops.governance.security.DecryptionError` when the row does not authenticate
    (tampered, copied from another organization, or sealed with another encryption key)."""
    provider = provider.strip().lower()
    key = (organization_id, provider, secret_box.key_id)
    found, secret = CREDENTIALS.get(key)
    if found:
        return secret
    generation = CREDENTIALS.generation.value
    row = await ProviderCredentialReader(db).newest(organization_id, provider)
    secret = None
    if row is not None:
        if row.key_id != secret_box.key_id:
            raise DecryptionError(
                f"provider key {row.name!r} was sealed with encryption key {row.key_id}, not "
                f"the configured {secret_box.key_id}: restore that key or store the provider "
                "key again"
            )
        api_key = secret_box.decrypt(
            row.nonce, row.ciphertext, credential_aad(organization_id, provider)
        )
        logger.debug(
            "using provider key %r (%s, ...%s) of organization %s",
            row.name,
            provider,
            row.hint,
            organization_id,
        )
        secret = ProviderSecret(
            name=row.name, provider=provider, api_key=api_key, api_base=row.api_base
        )
    CREDENTIALS.put(key, secret, generation)
    return secret


class CredentialStore:
    """The tenant credentials of a call's first candidate (the pipeline's route stage)."""

    def __init__(self, secret_box: SecretBox | None) -> None:
        self.secret_box = secret_box

    async def for_entry(
        self, db: SQL, organization_id: uuid.UUID, entry: ModelEntry
    ) -> ProviderOverride | None:
        """The organization's own key for ``entry``'s provider, if it stored one. Raises
        :class:`promptops.errors.Misconfigured` (500) when the stored key does not decrypt
        with this server's encryption key and :class:`promptops.errors.InvalidInput` (422)
        when it cannot be sent; both name the key, and only calls to that provider fail."""
        provider = entry.provider
        if self.secret_box is None or provider is None:
            return None
        try:
            secret = await provider_credential(db, self.secret_box, organization_id, provider)
        except DecryptionError as exc:
            raise Misconfigured(str(exc)) from exc
        if secret is None:
            return None
        problem = unusable_reason(secret.api_key)
        if problem is not None:
            raise InvalidInput(
                f"the organization's {provider} key {secret.name!r} cannot be used: {problem}; "
                "an Admin must replace it (DELETE and POST /api/v1/provider_keys)",
                field="provider_key",
            )
        return ProviderOverride(secret.api_key, secret.api_base)
