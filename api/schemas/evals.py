from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import INT32_MAX, RequestModel


class EvalRetrievalConfig(RequestModel):
    """A retrieval configuration to evaluate: ``mode`` ``dense``, ``keyword`` or ``hybrid``
    (as ``POST /retrieval/query``), ``top_k`` hits scored (1..100), ``mmr_lambda`` (0..1)
    turns MMR on, ``rerank`` uses the configured cross-encoder; ``label`` names it in the
    summary (default: the mode and the settings that differ from the defaults)."""

    index_id: uuid.UUID
    mode: Literal["dense", "keyword", "hybrid"] = "hybrid"
    top_k: Annotated[int, Field(ge=1, le=100)] = 10
    mmr_lambda: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    rerank: bool = False
    label: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class EvalRunRequest(RequestModel):
    """Evaluate up to 10 prompt versions (``prompt_version_ids``) or up to 10 retrieval
    configurations (``retrieval_configs``), exactly one of the two, on a dataset.

    ``metrics``: names of :data:`promptops.evaluation.metrics.METRIC_SPECS`; required for
    prompt versions; for retrieval configurations ranking metrics (and ``latency_ms``),
    default ``recall@1, recall@5, recall@10, mrr, ndcg@10``. A retrieval dataset's example has
    the query as ``input`` (a string or ``{"query": ...}``) and the qrels as ``expected`` (a
    list of relevant ids or ``{id: grade}``; ids are document sources, ``source#anchor`` or
    chunk ids), scored at ``granularity`` ``page`` (anchor ids fold into their page with the
    highest grade) or ``anchor`` (matching rule: :mod:`promptops.evaluation.qrels`).
    ``limit``: only the first N examples (1..2**31 - 1)."""

    prompt_version_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=10)
    retrieval_configs: list[EvalRetrievalConfig] | None = Field(
        default=None, min_length=1, max_length=10
    )
    dataset_id: uuid.UUID
    metrics: list[str] | None = Field(default=None, min_length=1)
    granularity: Literal["page", "anchor"] | None = Field(
        default=None,
        description="retrieval evaluations: page-level (the default) or anchor-level qrels",
    )
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


class EvalVersionPublic(BaseModel):
    """A prompt version an evaluation ran: its prompt's name and its number there."""

    id: str
    prompt_id: str
    prompt_name: str
    version: int


class EvalRetrievalConfigPublic(BaseModel):
    """A retrieval configuration an evaluation ran: ``config_id`` is its ``version_id`` in
    the summary and the rows."""

    config_id: str
    label: str
    index_id: str
    mode: str
    top_k: int
    mmr_lambda: float | None
    rerank: bool


class EvalPublic(BaseModel):
    id: str
    status: str
    project_id: uuid.UUID | None = None
    dataset_id: uuid.UUID | None = None
    dataset_name: str | None = None
    prompt_version_ids: list[str] = Field(default_factory=list)
    versions: list[EvalVersionPublic] = Field(
        default_factory=list, description="the versions of prompt_version_ids, in that order"
    )
    retrieval_configs: list[EvalRetrievalConfigPublic] = Field(
        default_factory=list, description="a retrieval evaluation's configurations"
    )
    granularity: str | None = Field(default=None, description="a retrieval evaluation's")
    metrics: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    completed_at: datetime | None = None
    progress: EvalProgress
    summary: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = Field(default_factory=list)
    temporal_ui_url: str
    error: str | None = Field(default=None, description="why a Failed evaluation failed")


class EvalListItem(BaseModel):
    """One evaluation of a project's list: its status (live from Temporal while the row
    says Running), dataset, versions and metrics."""

    id: str
    status: str
    dataset_id: uuid.UUID
    dataset_name: str | None
    versions: list[EvalVersionPublic]
    retrieval_configs: list[EvalRetrievalConfigPublic] = Field(default_factory=list)
    metrics: list[str]
    created_at: datetime
    completed_at: datetime | None
    temporal_ui_url: str


class EvalsPublic(BaseModel):
    data: list[EvalListItem]
    count: int


class MetricPublic(BaseModel):
    """A metric of the registry (:data:`promptops.evaluation.metrics.METRIC_SPECS`)."""

    name: str
    kind: Literal["text", "label", "embedding", "latency", "cost", "ranking"]
    higher_is_better: bool
    description: str


class MetricsPublic(BaseModel):
    data: list[MetricPublic]
    count: int


class EvalRunRowPublic(BaseModel):
    """One version's run of one example: its output, scores (per-example metric values),
    predicted label (label metrics), latency (ms), tokens and cost (USD)."""

    prompt_version_id: str
    run_id: str
    output: str | None
    predicted_label: str | None
    success: bool
    error: str | None
    metrics: dict[str, float]
    latency_ms: float
    tokens_in: int
    tokens_out: int
    cost_usd: float


class EvalExamplePublic(BaseModel):
    example_id: str
    position: int
    input: Any
    expected: Any
    runs: list[EvalRunRowPublic]


class EvalExamplesPublic(BaseModel):
    data: list[EvalExamplePublic]
    count: int
