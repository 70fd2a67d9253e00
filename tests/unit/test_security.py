"""API-key generation and hashing, secret decoding and the AES-256-GCM secret box."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
import uuid
from pathlib import Path

import pytest

from promptops.governance.security import (
    KEY_PREFIX,
    DecryptionError,
    SecretBox,
    api_key_prefix,
    credential_aad,
    generate_api_key,
    hash_api_key,
    verify_api_key,
)
from promptops.settings import InvalidSecret, decode_secret, load_or_create_secret

SECRET = os.urandom(32)


def test_generated_keys_have_the_documented_shape_and_are_unique() -> None:
    keys = [generate_api_key() for _ in range(200)]
    for k in keys:
        assert k.key.startswith(f"{KEY_PREFIX}{k.prefix}_")
        assert len(k.prefix) == 12 and k.prefix.isalnum() and k.prefix.islower()
        assert api_key_prefix(k.key) == k.prefix
        assert len(k.key.split("_", 2)[2]) >= 43  # 32 random bytes, URL-safe base64
    assert len({k.key for k in keys}) == len({k.prefix for k in keys}) == 200


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "po_",
        "sk-abcdef",
        "po_short_" + "x" * 40,
        "po_abcdefghijkl",
        "po_abcdefghijkl_short",
        "xx_abcdefghijkl_" + "x" * 43,
    ],
)
def test_malformed_keys_have_no_prefix(bad: str) -> None:
    assert api_key_prefix(bad) is None


def test_hash_is_hmac_sha256_and_verification_is_exact() -> None:
    k = generate_api_key().key
    digest = hash_api_key(k, SECRET)
    assert digest == hmac.new(SECRET, k.encode(), hashlib.sha256).hexdigest()
    assert len(digest) == 64 and k not in digest
    assert verify_api_key(k, digest, SECRET)
    assert not verify_api_key(k + "x", digest, SECRET)
    assert not verify_api_key(k, digest, os.urandom(32))  # another server secret
    assert not verify_api_key(generate_api_key().key, digest, SECRET)


def test_decode_secret_accepts_standard_and_urlsafe_base64() -> None:
    raw = bytes(range(256))[200:232]  # contains bytes that encode to '+' / '/' and '-' / '_'
    assert decode_secret(base64.b64encode(raw).decode(), name="S") == raw
    assert decode_secret(base64.urlsafe_b64encode(raw).decode().rstrip("=") + "\n", name="S") == raw


@pytest.mark.parametrize(
    "value",
    [
        "not base64 !!",
        base64.b64encode(b"short").decode(),
        base64.b64encode(os.urandom(33)).decode(),
    ],
)
def test_decode_secret_rejects_bad_values_naming_the_setting(value: str) -> None:
    with pytest.raises(InvalidSecret, match="PROMPTOPS_SECRET_KEY"):
        decode_secret(value, name="PROMPTOPS_SECRET_KEY")


def test_load_or_create_secret_creates_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "secret_key"
    first = load_or_create_secret(path)
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == first


def test_secret_box_round_trip_with_fresh_nonces() -> None:
    box = SecretBox(os.urandom(32))
    aad = credential_aad(uuid.uuid4(), "openai")
    nonce1, ct1 = box.encrypt("sk-live-secret-value", aad)
    nonce2, ct2 = box.encrypt("sk-live-secret-value", aad)
    assert len(nonce1) == 12 and nonce1 != nonce2 and ct1 != ct2
    assert b"sk-live-secret-value" not in ct1
    assert len(ct1) == len("sk-live-secret-value") + 16  # GCM tag appended
    assert box.decrypt(nonce1, ct1, aad) == "sk-live-secret-value"
    assert box.decrypt(nonce2, ct2, aad) == "sk-live-secret-value"


def test_secret_box_refuses_tampering_other_aad_and_other_keys() -> None:
    key = os.urandom(32)
    box = SecretBox(key)
    org = uuid.uuid4()
    aad = credential_aad(org, "openai")
    nonce, ct = box.encrypt("sk-secret", aad)
    tampered = bytes([ct[0] ^ 1]) + ct[1:]
    with pytest.raises(DecryptionError):
        box.decrypt(nonce, tampered, aad)
    with pytest.raises(DecryptionError):
        box.decrypt(bytes([nonce[0] ^ 1]) + nonce[1:], ct, aad)
    with pytest.raises(DecryptionError):  # another organization
        box.decrypt(nonce, ct, credential_aad(uuid.uuid4(), "openai"))
    with pytest.raises(DecryptionError):  # relabelled as another provider
        box.decrypt(nonce, ct, credential_aad(org, "anthropic"))
    with pytest.raises(DecryptionError):  # another encryption key
        SecretBox(os.urandom(32)).decrypt(nonce, ct, aad)
    assert SecretBox(key).decrypt(nonce, ct, aad) == "sk-secret"


def test_secret_box_key_id_names_the_key() -> None:
    key = os.urandom(32)
    assert SecretBox(key).key_id == SecretBox(key).key_id == hashlib.sha256(key).hexdigest()[:16]
    assert SecretBox(os.urandom(32)).key_id != SecretBox(key).key_id
    with pytest.raises(InvalidSecret):
        SecretBox(os.urandom(16))


def test_credential_aad_binds_organization_and_provider() -> None:
    org = uuid.uuid4()
    assert credential_aad(org, "openai") == f"promptops/provider-credential/{org}/openai".encode()
    assert credential_aad(org, "openai") != credential_aad(org, "anthropic")
