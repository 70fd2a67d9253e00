from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.schemas.common import ORMModel


class PromptCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""


class PromptPublic(ORMModel):
    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    description: str
    template_engine: str
    created_at: datetime


class PromptsPublic(BaseModel):
    data: list[PromptPublic]
    count: int


class Decoding(BaseModel):
    """Decoding parameters passed to the provider."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1, le=32768)
    stop: list[str] | None = None
    seed: int | None = None


class PromptVersionCreate(BaseModel):
    """A new immutable version. ``body`` is a Jinja2 template (``{{ var }}``); ``variables``
    declares every variable it uses (name -> type description, e.g. ``"str"``)."""

    body: str = Field(min_length=1)
    system: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    notes: str = ""
    model: str | None = None
    decoding: Decoding = Field(default_factory=Decoding)
    response_format: dict[str, Any] | None = None


class PromptVersionPublic(ORMModel):
    id: uuid.UUID
    prompt_id: uuid.UUID
    version: int
    body: str
    system: str | None
    variables: dict[str, Any]
    notes: str
    model: str | None
    decoding: dict[str, Any]
    response_format: dict[str, Any] | None
    content_hash: str
    status: str
    created_by: str
    created_at: datetime


class PromptVersionsPublic(BaseModel):
    data: list[PromptVersionPublic]
    count: int


class LabelMove(BaseModel):
    """Point a label at a version (moving it back is a rollback)."""

    prompt_version_id: uuid.UUID


class LabelPublic(ORMModel):
    prompt_id: uuid.UUID
    name: str
    prompt_version_id: uuid.UUID
    updated_at: datetime


class LabelsPublic(BaseModel):
    data: list[LabelPublic]


class RenderRequest(BaseModel):
    variables: dict[str, Any] = Field(default_factory=dict)


class RenderPublic(BaseModel):
    messages: list[dict[str, str]]


class VersionDiff(BaseModel):
    from_version: int
    to_version: int
    fields: dict[str, dict[str, Any]]
    body_diff: str
