"""Inputs, state and results of ``CanaryRolloutWorkflow`` (one dataclass each, so fields can be
added without breaking running executions).

Units: percentages 0..100, durations in seconds, latencies in milliseconds, rates and scores
0..1. Timestamps are ISO 8601 strings (UTC) taken from ``workflow.now()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from activities.deployment.types import (
    ABORTED,
    FINAL_STATUSES,
    PAUSED,
    PENDING,
    PROMOTED,
    ROLLED_BACK,
    RUNNING,
    ArmFigures,
)

__all__ = [
    "ABORTED",
    "FINAL_STATUSES",
    "PAUSED",
    "PENDING",
    "PROMOTED",
    "ROLLED_BACK",
    "RUNNING",
    "ArmFigures",
    "Breach",
    "CanaryPlan",
    "CanaryResult",
    "CanaryRolloutInput",
    "CanaryState",
    "CanaryStatus",
    "OperatorInput",
    "OperatorResult",
    "StepRecord",
]

DEFAULT_STEPS = [10.0, 50.0, 100.0]
DEFAULT_BAKE_TIME_S = 3600
#: Default check interval: a quarter of the bake, at most this often (seconds).
MAX_DEFAULT_CHECK_INTERVAL_S = 300
DEFAULT_MIN_SAMPLES = 20
DEFAULT_MAX_ERROR_RATE_INCREASE = 0.02
DEFAULT_MIN_EVAL_SCORE = 0.70


@dataclass
class CanaryPlan:
    """How a deployment ramps and what it checks (mirrors ``api.schemas.deployments.CanaryPlan``,
    which validates it; this dataclass assumes a valid plan).

    - ``steps``: canary weights in percent, strictly rising, each in (0, 100], ending at 100.
      Reaching the 100 step is the promotion.
    - ``bake_time_s``: seconds each step below 100 bakes, one entry per such step
      (``len(steps) - 1`` entries).
    - ``check_interval_s``: seconds between guard checks during a bake; None = per step
      ``min(bake / 4, 300)`` (at least 1).
    - ``min_samples``: runs each arm needs in the bake window; fewer when the bake ends is a
      breach ("too few samples by the deadline"), and mid-bake checks wait for this many.
    - ``max_error_rate_increase``: canary error rate minus baseline error rate may not exceed
      this (0.02 = the success rate may drop by at most 2 points).
    - ``max_p95_latency_ms``: absolute limit of the canary's p95 latency (None = no limit).
    - ``max_feedback_drop``: the canary's mean feedback (and mean outcome) may fall below the
      baseline's by at most this much (None = not checked).
    - ``min_eval_score``: promotion beyond the first step needs an evaluation score at least
      this (the canary's online evaluation score, else the candidate's latest approval eval
      score); None disables the gate.
    """

    steps: list[float] = field(default_factory=lambda: list(DEFAULT_STEPS))
    bake_time_s: list[int] = field(default_factory=lambda: [DEFAULT_BAKE_TIME_S] * 2)
    check_interval_s: int | None = None
    min_samples: int = DEFAULT_MIN_SAMPLES
    max_error_rate_increase: float = DEFAULT_MAX_ERROR_RATE_INCREASE
    max_p95_latency_ms: float | None = None
    max_feedback_drop: float | None = None
    min_eval_score: float | None = DEFAULT_MIN_EVAL_SCORE

    def bake_for(self, step_index: int) -> int:
        """Bake time of a step in seconds (0 for the final 100% step)."""
        if step_index >= len(self.bake_time_s):
            return 0
        return self.bake_time_s[step_index]

    def interval_for(self, step_index: int) -> int:
        """Seconds between guard checks during the bake of a step (>= 1)."""
        if self.check_interval_s is not None:
            return max(1, self.check_interval_s)
        return max(1, min(self.bake_for(step_index) // 4, MAX_DEFAULT_CHECK_INTERVAL_S))


@dataclass
class Breach:
    """One guard that failed: its name, the observed figure, the limit and a sentence.

    ``guard``: ``error_rate`` | ``p95_latency`` | ``feedback`` | ``outcome`` | ``min_samples``
    | ``eval_score`` | ``figures_unavailable``.
    """

    guard: str
    observed: float | None
    limit: float | None
    message: str


@dataclass
class StepRecord:
    """One step of the ramp: when it started and ended (ISO 8601), seconds spent paused and
    how it ended (``promoted`` to the next step, ``rolled_back``, ``aborted``, ...)."""

    step_index: int
    percent: float
    started_at: str
    ended_at: str | None = None
    paused_s: float = 0.0
    outcome: str | None = None


@dataclass
class CanaryState:
    """Everything the workflow carries across continue-as-new."""

    started: bool = False
    status: str = PENDING
    step_index: int = -1
    canary_weight: float = 0.0
    #: Seconds of the current step's bake that have elapsed while not paused.
    bake_elapsed_s: float = 0.0
    window_started_at: str | None = None
    paused_at: str | None = None
    checks: int = 0
    last_check_at: str | None = None
    figures: dict[str, ArmFigures] = field(default_factory=dict)
    eval_score: float | None = None
    breaches: list[Breach] = field(default_factory=list)
    history: list[StepRecord] = field(default_factory=list)
    reason: str = ""
    project_id: str | None = None
    prompt_id: str | None = None
    environment: str | None = None
    label: str | None = None
    candidate_version_id: str | None = None
    baseline_version_id: str | None = None


@dataclass
class CanaryRolloutInput:
    """Drive deployment ``deployment_id`` through ``plan``.

    ``actor``: who created the deployment (audit entries of automatic steps name the workflow).
    ``max_checks_per_run``: continue as new after this many guard checks in one run
    (0 = only when Temporal suggests it; tests set it to exercise continue-as-new).
    ``state``: set only when the workflow continues as new.
    """

    deployment_id: str
    plan: CanaryPlan = field(default_factory=CanaryPlan)
    actor: str = "system"
    max_checks_per_run: int = 0
    state: CanaryState | None = None


@dataclass
class OperatorInput:
    """An operator's request (pause, resume, promote now, abort): who and why."""

    actor: str = "operator"
    reason: str = ""
    request_id: str | None = None


@dataclass
class OperatorResult:
    """What an update returns once the workflow has acted on it."""

    status: str
    step_index: int
    canary_weight: float
    reason: str = ""


@dataclass
class CanaryStatus:
    """The ``status`` query: step, weights, figures of the last check, breaches, history."""

    deployment_id: str
    status: str
    step_index: int
    step_percent: float | None
    weights: dict[str, float]
    paused: bool
    bake_time_s: int
    bake_elapsed_s: float
    check_interval_s: int
    window_started_at: str | None
    checks: int
    last_check_at: str | None
    figures: dict[str, ArmFigures]
    eval_score: float | None
    breaches: list[Breach]
    history: list[StepRecord]
    reason: str
    plan: dict[str, Any] = field(default_factory=dict)


@dataclass
class CanaryResult:
    """How the rollout ended: Promoted | RolledBack | Aborted, why, and the steps taken."""

    deployment_id: str
    status: str
    reason: str
    step_index: int
    canary_weight: float
    breaches: list[Breach] = field(default_factory=list)
    history: list[StepRecord] = field(default_factory=list)
