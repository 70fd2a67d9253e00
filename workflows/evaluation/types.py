"""Inputs and results of the batch-evaluation workflow and its activities (one dataclass each,
so fields can be added without breaking running workflows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from activities.evaluation.types import (
    RETRIEVAL_KIND,
    MetricSum,
    RetrievalEvalConfig,
    retrieval_evaluation_config,
)

__all__ = [
    "RETRIEVAL_KIND",
    "BatchEvaluationInput",
    "BatchEvaluationState",
    "EvaluationProgress",
    "RetrievalEvalConfig",
    "VersionProgress",
    "retrieval_evaluation_config",
]


@dataclass
class BatchEvaluationInput:
    """Evaluate each prompt version on every example of a dataset, or (``retrieval_configs``
    instead of ``prompt_version_ids``) each retrieval configuration on every example's query
    against its qrels, at ``granularity`` (``page`` or ``anchor``,
    :mod:`promptops.evaluation.qrels`).

    ``concurrency``: LLM calls in flight at once. ``chunk_size``: examples per activity (one
    activity per chunk keeps the history small: 10k examples x 2 versions at 50 per chunk is
    400 activities).
    """

    evaluation_id: str
    prompt_version_ids: list[str]
    dataset_id: str
    metrics: list[str]
    concurrency: int = 4
    # 0 = automatic: max(50, 20 x concurrency), so chunk boundaries (one activity round trip
    # each) cost a few percent of throughput at most.
    chunk_size: int = 0
    max_examples: int | None = None
    positive_label: str | None = None
    # Force continue-as-new after this many chunks in one run (0 = only when Temporal suggests).
    chunks_per_run: int = 0
    # Heartbeat timeout of the chunk activity: how soon a dead worker's chunk is retried
    # elsewhere (tests lower it; the activity heartbeats after every example).
    heartbeat_timeout_s: int = 120
    # Set only when the workflow continues as new.
    state: BatchEvaluationState | None = None
    retrieval_configs: list[RetrievalEvalConfig] = field(default_factory=list)
    granularity: str = "page"


@dataclass
class VersionProgress:
    version_id: str
    done: int = 0
    errors: int = 0
    sums: dict[str, MetricSum] = field(default_factory=dict)

    def mean(self, metric: str) -> float | None:
        s = self.sums.get(metric)
        return s.total / s.count if s and s.count else None


@dataclass
class BatchEvaluationState:
    """Carried across continue-as-new."""

    total_per_version: int = 0
    labels: list[str] = field(default_factory=list)
    next_unit: int = 0
    versions: list[VersionProgress] = field(default_factory=list)
    status: str = "Running"


@dataclass
class EvaluationProgress:
    """What the ``progress`` query returns."""

    evaluation_id: str
    status: str
    done: int
    total: int
    versions: list[dict[str, Any]] = field(default_factory=list)
