"""Inputs and results of the evaluation activities (one dataclass each)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class MetricSum:
    total: float = 0.0
    count: int = 0


@dataclass
class PlanEvaluationInput:
    evaluation_id: str
    workflow_id: str
    prompt_version_ids: list[str]
    dataset_id: str
    metrics: list[str]
    max_examples: int | None = None
    positive_label: str | None = None


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
class FinalizeEvaluationInput:
    evaluation_id: str
    status: str
    positive_label: str | None = None


@dataclass
class FinalizeEvaluationResult:
    status: str
    summary: dict[str, Any] = field(default_factory=dict)
