from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field

from api.schemas.common import INT32_MAX, RequestModel


class EvalRunRequest(RequestModel):
    """Evaluate up to 10 prompt versions on a dataset with ``metrics`` (names of
    :data:`promptops.evaluation.metrics.METRIC_SPECS`); ``limit``: only the first N examples
    (1..2**31 - 1)."""

    prompt_version_ids: list[uuid.UUID] = Field(min_length=1, max_length=10)
    dataset_id: uuid.UUID
    metrics: list[str] = Field(min_length=1)
    concurrency: int = Field(default=4, ge=1, le=256)
    chunk_size: int = Field(
        default=0, ge=0, le=5000, description="examples per activity; 0 = max(50, 20 x concurrency)"
    )
    limit: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="evaluate only the first N examples"
    )
    positive_label: str | None = None


class EvalStarted(BaseModel):
    id: str
    workflow_id: str
    temporal_ui_url: str


class EvalProgress(BaseModel):
    done: int
    total: int
    versions: list[dict[str, Any]] = Field(default_factory=list)


class EvalPublic(BaseModel):
    id: str
    status: str
    dataset_id: uuid.UUID | None = None
    prompt_version_ids: list[str] = Field(default_factory=list)
    metrics: list[str] = Field(default_factory=list)
    progress: EvalProgress
    summary: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = Field(default_factory=list)
    temporal_ui_url: str
    error: str | None = Field(default=None, description="why a Failed evaluation failed")
