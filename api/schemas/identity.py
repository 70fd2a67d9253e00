"""Members, API keys, provider keys and the audit log: request and response shapes.

Secrets never appear in a response model except ``ApiKeyCreated.key`` (shown once). Provider
keys come in as ``SecretStr`` so reprs, logs and tracebacks show ``**********``.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator

from api.schemas.common import INT32_MAX, URL_MAX, Name, ORMModel, RequestModel, http_url
from promptops.db.models import Role

#: Deliberately loose (RFC 5322 is not a regex); the address is an identity, not a mailbox.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
#: LiteLLM's provider names (``openai``, ``anthropic``, ``azure_ai``, ``text-completion-openai``
#: ...). Checked by shape rather than against ``litellm.provider_list``: importing LiteLLM costs
#: ~5 s and its list grows with every release.
PROVIDER_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,59}$")
#: A provider key is sent as an HTTP header value (``Authorization: Bearer <key>``,
#: ``x-api-key``): visible ASCII only, no spaces or control characters.
PROVIDER_KEY_RE = re.compile(r"[\x21-\x7e]+")
#: Longest provider key accepted: real keys are under 300 characters, and HTTP servers commonly
#: refuse header sections over 8 KiB.
PROVIDER_KEY_MAX = 4096


#: Longest email accepted: the address is the actor recorded in ``audit_log.actor`` and
#: ``prompt_versions.created_by`` (``VARCHAR(200)``).
EMAIL_MAX = 200


def _email(value: str) -> str:
    value = value.strip()
    if not EMAIL_RE.match(value) or not value.isprintable():
        raise ValueError("not an email address")
    if len(value) > EMAIL_MAX:
        raise ValueError(f"email addresses are limited to {EMAIL_MAX} characters")
    return value


# Members --------------------------------------------------------------------------------------
class MemberCreate(RequestModel):
    email: str = Field(description="the user's email; the user is created if new")
    role: Role
    project_id: uuid.UUID | None = Field(
        default=None, description="narrow the membership to one project of the organization"
    )

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str) -> str:
        return _email(value)


class MemberUpdate(RequestModel):
    """Only the fields given change; ``project_id: null`` widens to the whole organization."""

    role: Role | None = None
    project_id: uuid.UUID | None = None


class MemberPublic(BaseModel):
    user_id: uuid.UUID
    email: str
    display_name: str
    role: Role
    project_id: uuid.UUID | None
    created_at: datetime


class MembersPublic(BaseModel):
    data: list[MemberPublic]
    count: int


class MemberRemoved(BaseModel):
    user_id: uuid.UUID
    email: str
    revoked_keys: int = Field(description="the member's API keys of this organization, revoked")


# API keys -------------------------------------------------------------------------------------
class ApiKeyCreate(RequestModel):
    """A new API key: ``name`` 1..200 printable characters, ``rate_limit_rpm`` 1..2**31-1
    requests per minute (null = unlimited)."""

    name: Name
    role: Role
    project_id: uuid.UUID | None = None
    expires_at: datetime | None = Field(
        default=None, description="ISO 8601; without a zone it is read as UTC"
    )
    user_email: str | None = Field(
        default=None, description="issue the key to this member (Admin only); default: yourself"
    )
    rate_limit_rpm: int | None = Field(
        default=None,
        ge=1,
        le=INT32_MAX,
        description="requests per minute (fixed UTC minute windows); null = unlimited",
    )

    @field_validator("user_email")
    @classmethod
    def _check_user_email(cls, value: str | None) -> str | None:
        return None if value is None else _email(value)


class ApiKeyUpdate(RequestModel):
    """Fields to change; omitted ones stay. ``rate_limit_rpm: null`` removes the limit."""

    name: Name | None = None
    rate_limit_rpm: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="requests per minute; null = unlimited"
    )


class ApiKeyPublic(BaseModel):
    """An API key without its secret (only the lookup ``prefix`` is shown)."""

    id: uuid.UUID
    name: str
    prefix: str
    role: Role
    project_id: uuid.UUID | None
    user_id: uuid.UUID
    user_email: str
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    rotated_from: uuid.UUID | None
    rate_limit_rpm: int | None = None


class ApiKeyCreated(ApiKeyPublic):
    """The new key; ``key`` is shown in this response only and cannot be retrieved again."""

    key: str
    warning: str = "Store this key now: it is shown once and cannot be retrieved again."


class ApiKeysPublic(BaseModel):
    data: list[ApiKeyPublic]
    count: int


# Provider keys --------------------------------------------------------------------------------
class ProviderKeyCreate(RequestModel):
    """A provider key as it will be sent: ``api_key`` 1..4096 visible ASCII characters (no
    spaces or control characters: it goes into an HTTP header), ``api_base`` an http(s) URL
    (blank = the provider's default), ``name`` 1..200 printable characters."""

    provider: str = Field(
        min_length=1,
        max_length=60,
        description="LiteLLM provider name, e.g. openai, anthropic, azure",
    )
    name: Name
    api_key: SecretStr = Field(
        min_length=1,
        max_length=PROVIDER_KEY_MAX,
        description="the provider's key: visible ASCII, no spaces",
    )
    api_base: str | None = Field(
        default=None,
        max_length=URL_MAX,
        description="an http(s) URL; blank = the provider's default",
    )

    @field_validator("provider")
    @classmethod
    def _check_provider(cls, value: str) -> str:
        value = value.strip().lower()
        if not PROVIDER_RE.match(value):
            raise ValueError(
                "provider must be a LiteLLM provider name such as 'openai' "
                "(lower-case letters, digits, '_' and '-')"
            )
        return value

    @field_validator("api_key")
    @classmethod
    def _check_api_key(cls, value: SecretStr) -> SecretStr:
        return _provider_key(value)

    @field_validator("api_base")
    @classmethod
    def _check_api_base(cls, value: str | None) -> str | None:
        return _provider_base(value)


class ProviderKeyReplace(RequestModel):
    """A new secret for a stored provider key (same provider and name): ``api_key`` as in
    ``ProviderKeyCreate``; ``api_base`` an http(s) URL, blank or left out = the provider's
    default (the stored one is replaced too)."""

    api_key: SecretStr = Field(
        min_length=1,
        max_length=PROVIDER_KEY_MAX,
        description="the provider's key: visible ASCII, no spaces",
    )
    api_base: str | None = Field(
        default=None,
        max_length=URL_MAX,
        description="an http(s) URL; blank = the provider's default",
    )

    @field_validator("api_key")
    @classmethod
    def _check_api_key(cls, value: SecretStr) -> SecretStr:
        return _provider_key(value)

    @field_validator("api_base")
    @classmethod
    def _check_api_base(cls, value: str | None) -> str | None:
        return _provider_base(value)


def _provider_key(value: SecretStr) -> SecretStr:
    # The messages never quote the key.
    if not PROVIDER_KEY_RE.fullmatch(value.get_secret_value()):
        raise ValueError(
            "api_key must be visible ASCII characters only (no spaces, "
            "control or non-ASCII characters): it is sent in an HTTP header"
        )
    return value


def _provider_base(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return http_url(value.strip())


class ProviderKeyPublic(ORMModel):
    """A stored provider key: never the key, only its last four characters (``hint``)."""

    id: uuid.UUID
    provider: str
    name: str
    hint: str
    api_base: str | None
    key_id: str = Field(description="which encryption key sealed it (for key rotation)")
    created_by: str
    created_at: datetime


class ProviderKeysPublic(BaseModel):
    data: list[ProviderKeyPublic]
    count: int


# Audit log ------------------------------------------------------------------------------------
class AuditEntryPublic(ORMModel):
    id: int
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    created_at: datetime


class AuditPublic(BaseModel):
    data: list[AuditEntryPublic]
    count: int
    next_before_id: int | None = Field(
        description="pass as before_id for the next (older) page; null on the last page"
    )


class MePublic(BaseModel):
    """The caller of ``GET /me``: ``role`` is Viewer, Editor or Admin; ``project_id`` set means
    the key sees only that project."""

    organization_id: uuid.UUID
    actor: str
    role: str
    user_id: uuid.UUID | None
    project_id: uuid.UUID | None
    api_key_id: uuid.UUID | None
    temporal_ui_url: str
    temporal_namespace: str
