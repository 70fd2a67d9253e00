"""Request and response bodies of ``/api/v1/deployments`` (canary rollouts)."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from api.schemas.common import ORMModel, RequestModel
from workflows.canary.types import (
    DEFAULT_BAKE_TIME_S,
    DEFAULT_MAX_ERROR_RATE_INCREASE,
    DEFAULT_MIN_EVAL_SCORE,
    DEFAULT_MIN_SAMPLES,
    DEFAULT_STEPS,
    ArmFigures,
    CanaryStatus,
)
from workflows.canary.types import CanaryPlan as CanaryPlanData

#: Longest bake of one step: 30 days (durable timers would allow more; a typo would too).
MAX_BAKE_TIME_S = 30 * 24 * 3600
MAX_STEPS = 20


class CanaryPlan(RequestModel):
    """How the canary ramps and what it checks (units: percent, seconds, ms, 0..1 rates).

    - ``steps``: canary weights in percent, strictly rising, each in (0, 100], ending at 100
      (reaching 100 promotes). Default [10, 50, 100].
    - ``bake_time_s``: how long each step below 100% bakes: one number for every step, or a
      list with one entry per step below 100% (default 3600).
    - ``check_interval_s``: seconds between guard checks during a bake (default per step
      ``min(bake / 4, 300)``).
    - ``min_samples``: runs per arm needed in each bake window (default 20).
    - ``max_error_rate_increase``: allowed rise of the canary's error rate over the
      baseline's (default 0.02 = 2 points of success rate).
    - ``max_p95_latency_ms``: absolute limit of the canary's p95 latency (nearest rank).
    - ``max_feedback_drop``: allowed drop of the canary's mean feedback / outcome value below
      the baseline's.
    - ``min_eval_score``: promotion beyond the first step needs an eval score at least this
      (online evaluation of the canary's runs, else the candidate's approval evaluation);
      null disables the gate. Default 0.70.
    """

    steps: list[float] = Field(
        default_factory=lambda: list(DEFAULT_STEPS), min_length=1, max_length=MAX_STEPS
    )
    bake_time_s: int | list[int] = DEFAULT_BAKE_TIME_S
    check_interval_s: int | None = Field(default=None, ge=1, le=MAX_BAKE_TIME_S)
    min_samples: int = Field(default=DEFAULT_MIN_SAMPLES, ge=0, le=1_000_000)
    max_error_rate_increase: float = Field(default=DEFAULT_MAX_ERROR_RATE_INCREASE, ge=0, le=1)
    max_p95_latency_ms: float | None = Field(default=None, gt=0)
    max_feedback_drop: float | None = Field(default=None, ge=0)
    min_eval_score: float | None = Field(default=DEFAULT_MIN_EVAL_SCORE, ge=0, le=1)

    @field_validator("steps")
    @classmethod
    def _steps_rise_to_100(cls, steps: list[float]) -> list[float]:
        for s in steps:
            if not 0 < s <= 100:
                raise ValueError(f"each step must be a percentage in (0, 100], got {s:g}")
        for a, b in itertools.pairwise(steps):
            if b <= a:
                raise ValueError(f"steps must rise strictly: {b:g} follows {a:g}")
        if steps[-1] != 100:
            raise ValueError(f"steps must end at 100 (the promotion), got {steps[-1]:g}")
        return steps

    @field_validator("bake_time_s")
    @classmethod
    def _one_bake_per_step(cls, bake: int | list[int], info: ValidationInfo) -> list[int]:
        steps = info.data.get("steps")
        baking = len(steps) - 1 if steps else None
        values = [bake] * (baking if baking is not None else 1) if isinstance(bake, int) else bake
        if isinstance(bake, list) and baking is not None and len(bake) != baking:
            raise ValueError(
                f"give one bake time per step below 100% ({baking} for steps "
                f"{[f'{s:g}' for s in steps or []]}), or a single number; got {len(bake)}"
            )
        for v in values:
            if not 1 <= v <= MAX_BAKE_TIME_S:
                raise ValueError(f"bake times must be 1..{MAX_BAKE_TIME_S} seconds, got {v}")
        return values

    def to_data(self) -> CanaryPlanData:
        """The workflow's dataclass (bake times normalised to one entry per step below 100)."""
        bake = (
            self.bake_time_s
            if isinstance(self.bake_time_s, list)
            else [self.bake_time_s] * (len(self.steps) - 1)
        )
        return CanaryPlanData(
            steps=list(self.steps),
            bake_time_s=list(bake),
            check_interval_s=self.check_interval_s,
            min_samples=self.min_samples,
            max_error_rate_increase=self.max_error_rate_increase,
            max_p95_latency_ms=self.max_p95_latency_ms,
            max_feedback_drop=self.max_feedback_drop,
            min_eval_score=self.min_eval_score,
        )


class DeploymentCreate(RequestModel):
    """Roll ``prompt_version_id`` (Approved) out to ``environment`` by ``plan``."""

    project_id: uuid.UUID
    prompt_version_id: uuid.UUID
    environment: Literal["dev", "staging", "prod"]
    plan: CanaryPlan = Field(default_factory=CanaryPlan)


class DeploymentPublic(ORMModel):
    """A deployment row; ``live`` is the running workflow's ``status`` query (``CanaryStatus``:
    step, weights in percent, bake clock in seconds, last guard figures per arm, breaches,
    step history) when it is running."""

    id: uuid.UUID
    project_id: uuid.UUID
    prompt_id: uuid.UUID
    environment: str
    candidate_version_id: uuid.UUID
    baseline_version_id: uuid.UUID | None
    plan: CanaryPlanData
    status: str
    canary_weight: float
    current_step: int
    reason: str
    workflow_id: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    temporal_ui_url: str | None = None
    live: CanaryStatus | None = None
    prompt_name: str | None = Field(default=None, description="the prompt's name")
    candidate_version: int | None = Field(default=None, description="the candidate's number")
    baseline_version: int | None = Field(
        default=None, description="the baseline's number (None: nothing served the label)"
    )


class DeploymentsPublic(BaseModel):
    data: list[DeploymentPublic]
    count: int


class DeploymentStarted(BaseModel):
    deployment: DeploymentPublic
    workflow_id: str
    temporal_ui_url: str


class OperatorRequest(RequestModel):
    """Pause, resume or promote now; ``reason`` goes into the audit log."""

    reason: str = Field(default="", max_length=2000)


class AbortRequest(RequestModel):
    reason: str = Field(min_length=1, max_length=2000)


class DeploymentCheckPublic(BaseModel):
    """One guard check: the figures per arm the guards judged (``ArmFigures``: error rate,
    feedback and eval scores 0..1, nearest-rank p95 latency in ms, each ``*_n`` the values
    behind its mean, null when there was nothing to measure), cumulative since the step's bake
    window started (``window_started_at``); ``step_index`` and ``canary_weight`` (percent) as
    they were at ``checked_at``."""

    check_index: int
    step_index: int
    canary_weight: float
    window_started_at: datetime
    checked_at: datetime
    baseline: ArmFigures
    canary: ArmFigures
    approval_eval_score: float | None = None


class DeploymentChecksPublic(BaseModel):
    deployment_id: uuid.UUID
    data: list[DeploymentCheckPublic]
    count: int
