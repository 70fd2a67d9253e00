"""Inputs and results of the evaluation activities (one dataclass each)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class MetricSum:
    total: float = 0.0
    count: int = 0


@dataclass
class RetrievalEvalConfig:
    """One retrieval configuration of a retrieval evaluation: ``config_id`` keys its results
    (``config-01``...), ``label`` names it in the summary; the rest is a
    :class:`promptops.retrieval.search.RetrievalRequest` without the query."""

    config_id: str
    label: str
    index_id: str
    mode: str = "hybrid"
    top_k: int = 10
    mmr_lambda: float | None = None
    rerank: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The configuration as ``evaluations.config["retrieval_configs"]`` stores it."""
        return {
            "config_id": self.config_id,
            "label": self.label,
            "index_id": self.index_id,
            "mode": self.mode,
            "top_k": self.top_k,
            "mmr_lambda": self.mmr_lambda,
            "rerank": self.rerank,
        }


#: ``evaluations.config["kind"]`` of a retrieval evaluation (absent on prompt evaluations).
RETRIEVAL_KIND = "retrieval"


def retrieval_evaluation_config(
    workflow_id: str,
    max_examples: int | None,
    granularity: str,
    configs: list[RetrievalEvalConfig],
) -> dict[str, Any]:
    """``evaluations.config`` of a retrieval evaluation (written by the API when it starts the
    workflow and by the plan activity, whichever comes first)."""
    return {
        "workflow_id": workflow_id,
        "max_examples": max_examples,
        "kind": RETRIEVAL_KIND,
        "granularity": granularity,
        "retrieval_configs": [c.as_dict() for c in configs],
    }


@dataclass
class PlanEvaluationInput:
    """``prompt_version_ids`` or ``retrieval_configs`` (a retrieval evaluation: ranking
    metrics against each example's qrels at ``granularity``), not both."""

    evaluation_id: str
    workflow_id: str
    prompt_version_ids: list[str]
    dataset_id: str
    metrics: list[str]
    max_examples: int | None = None
    positive_label: str | None = None
    retrieval_configs: list[RetrievalEvalConfig] = field(default_factory=list)
    granularity: str = "page"


@dataclass
class PlanEvaluationResult:
    total_per_version: int
    labels: list[str]


@dataclass
class EvaluateChunkInput:
    evaluation_id: str
    workflow_id: str
    prompt_version_id: str
    dataset_id: str
    offset: int
    limit: int
    metrics: list[str]
    concurrency: int
    labels: list[str] = field(default_factory=list)


@dataclass
class EvaluateChunkResult:
    prompt_version_id: str
    done: int
    errors: int
    executed: int
    sums: dict[str, MetricSum] = field(default_factory=dict)


@dataclass
class EvaluateRetrievalChunkInput:
    """Examples ``[offset, offset + limit)`` of the dataset through one configuration."""

    evaluation_id: str
    workflow_id: str
    config: RetrievalEvalConfig
    dataset_id: str
    offset: int
    limit: int
    metrics: list[str]
    granularity: str = "page"


@dataclass
class EvaluateRetrievalChunkResult:
    """Like :class:`EvaluateChunkResult`, per configuration (``errors`` stays 0: a query that
    cannot run fails the evaluation)."""

    config_id: str
    done: int
    errors: int
    executed: int
    sums: dict[str, MetricSum] = field(default_factory=dict)


@dataclass
class FinalizeEvaluationInput:
    evaluation_id: str
    status: str
    positive_label: str | None = None


@dataclass
class FinalizeEvaluationResult:
    status: str
    summary: dict[str, Any] = field(default_factory=dict)
