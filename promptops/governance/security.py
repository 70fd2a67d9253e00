"""API-key hashing and encryption at rest.

- API keys look like ``po_<prefix>_<secret>``: ``prefix`` (12 base32 characters, stored in clear)
  finds the row, and the stored ``secret_hash`` is HMAC-SHA256(server secret, whole key)
  (RFC 2104), compared in constant time. An HMAC rather than a password hash because keys are
  256-bit random (no dictionary to slow down) and every request checks one.
- Provider credentials are encrypted with AES-256-GCM (NIST SP 800-38D) via ``cryptography``: a
  fresh 96-bit nonce per encryption and associated data binding the ciphertext to its
  organization and provider, so a row copied to another tenant does not decrypt.

Both secrets come from settings (``PROMPTOPS_SECRET_KEY``, ``PROMPTOPS_ENCRYPTION_KEY``, each 32
random bytes, base64). The embedded stack creates them once under ``PROMPTOPS_HOME/secrets``
(mode 0600) when they are not set.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from promptops.settings import InvalidSecret

KEY_PREFIX = "po_"
_PREFIX_LEN = 12
_B32 = "abcdefghijklmnopqrstuvwxyz234567"


class DecryptionError(ValueError):
    """The ciphertext does not authenticate under this key and associated data."""


@dataclass(frozen=True)
class NewApiKey:
    key: str
    prefix: str


def generate_api_key() -> NewApiKey:
    """A new key ``po_<prefix>_<secret>`` with 60 bits of prefix and 256 bits of secret."""
    prefix = "".join(secrets.choice(_B32) for _ in range(_PREFIX_LEN))
    return NewApiKey(key=f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}", prefix=prefix)


def api_key_prefix(key: str) -> str | None:
    """The lookup prefix of a well-formed key, else None."""
    if not key.startswith(KEY_PREFIX):
        return None
    prefix, sep, secret = key[len(KEY_PREFIX) :].partition("_")
    if not sep or len(prefix) != _PREFIX_LEN or len(secret) < 32:
        return None
    return prefix


def hash_api_key(key: str, server_secret: bytes) -> str:
    """Hex HMAC-SHA256 of ``key`` under ``server_secret``."""
    return hmac.new(server_secret, key.encode(), hashlib.sha256).hexdigest()


def verify_api_key(key: str, stored_hash: str, server_secret: bytes) -> bool:
    return hmac.compare_digest(hash_api_key(key, server_secret), stored_hash)


class SecretBox:
    """AES-256-GCM with a 32-byte key; ``key_id`` (16 hex chars of SHA-256 of the key) names
    the key a ciphertext was made with, so keys can be rotated."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise InvalidSecret("AES-256-GCM needs a 32-byte key")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(key).hexdigest()[:16]

    def encrypt(self, plaintext: str, associated_data: bytes) -> tuple[bytes, bytes]:
        """Returns (nonce, ciphertext with the 16-byte tag appended)."""
        nonce = os.urandom(12)
        return nonce, self._aead.encrypt(nonce, plaintext.encode(), associated_data)

    def decrypt(self, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> str:
        """Raises DecryptionError when the key, nonce, data or tag do not match."""
        try:
            return self._aead.decrypt(nonce, ciphertext, associated_data).decode()
        except InvalidTag as exc:
            raise DecryptionError("ciphertext does not authenticate") from exc


def credential_aad(organization_id: object, provider: str) -> bytes:
    return f"promptops/provider-credential/{organization_id}/{provider}".encode()
