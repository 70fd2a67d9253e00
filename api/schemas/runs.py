from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field

from api.schemas.prompts import Decoding


class ExecuteRequest(BaseModel):
    """Synchronous test run of one prompt version."""

    prompt_version_id: uuid.UUID
    variables: dict[str, Any] = Field(default_factory=dict)
    model: str | None = None
    decoding: Decoding | None = None


class GenerateRequest(BaseModel):
    """Production inference: the prompt's ``label`` (default ``production``) picks the version,
    unless ``prompt_version_id`` is given."""

    project_id: uuid.UUID | None = None
    prompt_id: uuid.UUID | None = None
    prompt: str | None = Field(default=None, description="prompt name (with project_id)")
    label: str = "production"
    prompt_version_id: uuid.UUID | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    decoding: Decoding | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")


class TokenCounts(BaseModel):
    prompt: int
    completion: int


class RunMetrics(BaseModel):
    latency_ms: float
    tokens: TokenCounts
    cost_usd: float


class RunResult(BaseModel):
    run_id: uuid.UUID
    prompt_version_id: uuid.UUID
    model: str
    output: Any
    metrics: RunMetrics
    trace_id: str | None = None
