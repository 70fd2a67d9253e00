"""Inputs and results of the deployment activities (one dataclass each, so fields can be added
without breaking running ``CanaryRolloutWorkflow`` executions).

Timestamps cross the workflow boundary as ISO 8601 strings with a UTC offset; percentages are
0..100; latencies are milliseconds; rates, feedback and evaluation scores are 0..1 (outcome
values are whatever scale the caller records).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ARMS = ("baseline", "canary")

#: Deployment statuses (``deployments.status``); the last three are final.
PENDING = "Pending"
RUNNING = "Running"
PAUSED = "Paused"
PROMOTED = "Promoted"
ROLLED_BACK = "RolledBack"
ABORTED = "Aborted"
FINAL_STATUSES = (PROMOTED, ROLLED_BACK, ABORTED)


@dataclass
class ArmFigures:
    """Live-traffic figures of one arm of a deployment over one bake window.

    ``n``: runs served (``runs.source = 'generate'``) in the window; ``errors``: those with
    ``success = false``; ``error_rate`` = errors / n (None when n = 0). ``p95_latency_ms``: the
    95th percentile of ``latency_ms`` by the nearest-rank method (PostgreSQL
    ``percentile_disc(0.95)``, the ceil(0.95 n)-th smallest value). ``mean_feedback``: mean
    ``feedback.value`` of the window's runs (``feedback_n`` values); ``mean_outcome``: mean
    ``outcomes.value`` of outcome events tied to them (``outcome_n``); ``eval_score``: mean
    online evaluation result (``evaluation_results`` of those runs, quality metrics only:
    latency and cost excluded; ``eval_n`` values).
    """

    arm: str
    n: int = 0
    errors: int = 0
    error_rate: float | None = None
    p95_latency_ms: float | None = None
    feedback_n: int = 0
    mean_feedback: float | None = None
    outcome_n: int = 0
    mean_outcome: float | None = None
    eval_n: int = 0
    eval_score: float | None = None


@dataclass
class StartDeploymentInput:
    deployment_id: str
    actor: str


@dataclass
class StartDeploymentResult:
    """What the workflow needs to know about the deployment row it drives.

    ``baseline_version_id`` None means the environment's label did not exist when the
    deployment was created: there is nothing to compare against.
    """

    deployment_id: str
    project_id: str
    prompt_id: str
    environment: str
    label: str
    candidate_version_id: str
    baseline_version_id: str | None
    status: str


@dataclass
class SetStepInput:
    """Set the traffic split of a running deployment (idempotent: a retry that finds the row
    already in this state writes nothing and records no second audit entry).

    ``status``: Running | Paused. ``action`` names the audit action
    (``deployment.step``, ``deployment.pause``, ``deployment.resume``).
    """

    deployment_id: str
    step_index: int
    canary_weight: float
    status: str
    action: str
    actor: str
    reason: str = ""
    request_id: str | None = None


@dataclass
class SetStepResult:
    changed: bool


@dataclass
class ComputeFiguresInput:
    """Figures of the runs served by the deployment since ``window_start`` (ISO 8601).

    With ``check_index`` (the rollout's check number, from 1) the figures are also stored as
    that check (``deployment_checks``, with ``step_index`` and the ``canary_weight`` in
    percent at the check), so they can be shown over time; a retry rewrites the same row.
    Without it (workflows scheduled before the field existed) nothing is written.
    """

    deployment_id: str
    window_start: str
    check_index: int | None = None
    step_index: int | None = None
    canary_weight: float | None = None


@dataclass
class ComputeFiguresResult:
    """Per-arm figures plus the candidate's latest approval evaluation score (the fallback
    of the eval-score guard when no online evaluation results exist)."""

    baseline: ArmFigures
    canary: ArmFigures
    approval_eval_score: float | None = None


@dataclass
class FinishDeploymentInput:
    """End a deployment: ``status`` Promoted (label moved to the candidate, weight 100),
    RolledBack or Aborted (weight 0). Idempotent: a row already finished is left alone.

    ``breaches``: the guard breaches that caused a rollback (stored in the audit entry).
    """

    deployment_id: str
    status: str
    reason: str
    actor: str
    step_index: int
    breaches: list[dict[str, Any]] = field(default_factory=list)
    request_id: str | None = None


@dataclass
class FinishDeploymentResult:
    status: str
    changed: bool
    label: str | None = None
    label_version_id: str | None = None
