"""Routing policies of a project (``model = "policy:<name>"``): bodies and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas.common import ORMModel, RequestModel
from promptops.llm.routing.policy import RoutingConstraints, Strategy, check_model_list


class RoutingPolicyPut(RequestModel):
    """A whole policy (the name comes from the path). ``candidates``: 1+ model names of the
    gateway's catalog, no duplicates; ``fallbacks``: ordered model names tried after the
    ranked candidates; ``constraints``: ``{max_p95_latency_ms (ms), min_quality ([0, 1]),
    max_cost_usd (USD per request)}``, each optional."""

    model_config = ConfigDict(extra="forbid")

    strategy: Strategy
    candidates: list[str] = Field(min_length=1, max_length=50)
    fallbacks: list[str] = Field(default_factory=list, max_length=50)
    constraints: RoutingConstraints = Field(default_factory=RoutingConstraints)
    description: str = Field(default="", max_length=2000)

    @field_validator("candidates", "fallbacks")
    @classmethod
    def _model_list(cls, value: list[str]) -> list[str]:
        return check_model_list(value)


class RoutingPolicyPublic(ORMModel):
    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    strategy: str
    candidates: list[str]
    fallbacks: list[str]
    constraints: dict[str, Any]
    description: str
    updated_by: str
    created_at: datetime
    updated_at: datetime


class RoutingPoliciesPublic(BaseModel):
    data: list[RoutingPolicyPublic]
    count: int


class RoutingPreviewRequest(RequestModel):
    """A sample request to route: chat ``messages`` (default: none, so only the reply priming
    counts towards the prompt estimate) and ``max_tokens`` (default: the gateway's 1024)."""

    model_config = ConfigDict(extra="forbid")

    messages: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)


class CandidatePublic(BaseModel):
    """One candidate's live figures: ``p95_latency_ms`` (ms; null = no successful call in the
    rolling window), ``error_rate`` in [0, 1], ``quality`` in [0, 1] (null = no evaluation
    score in the last 30 days), ``est_cost_usd`` (USD, this request's maximum), ``eligible``
    and the reasons it was ``excluded_because``."""

    model: str
    p95_latency_ms: float | None
    error_rate: float
    quality: float | None
    est_cost_usd: float
    breaker_state: str
    calls: int
    quality_samples: int
    eligible: bool
    excluded_because: list[str]


class RoutingDecisionPublic(BaseModel):
    """The models the gateway would try, in order (``chosen`` first), and why."""

    policy: str
    strategy: str
    chosen: str
    ordered: list[str]
    reason: str
    candidates: list[CandidatePublic]
