"""Project policies stored as JSON on the project row.

:class:`ApprovalPolicy` is ``Project.approval_policy``: what ``ApprovalWorkflow`` checks before a
prompt version may be approved and who decides. An empty JSON object means all defaults (one
approval by any Editor or Admin of the organization, no evaluation check, 72 h deadline, a
reminder every 24 h).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from promptops.evaluation.metrics import METRIC_SPECS, validate_metric_names

__all__ = ["DEFAULT_EVAL_METRIC", "SCORE_METRICS", "ApprovalPolicy", "normalize_email"]

#: Metrics whose per-example values (or corpus value) lie in 0..1 (or -1..1 for cosine
#: similarity), so a ``min_eval_score`` threshold on them means something. Latency and cost
#: are measurements, not scores; ranking metrics score retrieval, not a prompt version.
SCORE_METRICS = tuple(
    name for name, spec in METRIC_SPECS.items() if spec.kind not in ("latency", "cost", "ranking")
)

#: SQuAD exact match: the strictest reading of "the golden answer", and defined for every
#: golden set (free text or labels), so it is the default gate.
DEFAULT_EVAL_METRIC = "exact_match"


def normalize_email(email: str) -> str:
    """Reviewer identities compare case-insensitively and without surrounding blanks."""
    return email.strip().lower()


class ApprovalPolicy(BaseModel):
    """How a prompt version of a project gets approved.

    Fields (units in the names):

    - ``required_approvals``: distinct reviewers who must approve (>= 1).
    - ``reviewers``: user emails allowed to decide; empty = any Editor or Admin of the
      organization. Never the version's author for an approval.
    - ``min_eval_score``: the candidate's score on the golden set must reach this (0..1).
    - ``golden_dataset_id``: dataset of the same project to evaluate on; ``None`` = no
      evaluation check.
    - ``eval_metric``: the score's metric (a name of
      :data:`promptops.evaluation.metrics.METRIC_SPECS` other than latency/cost). The score is the
      metric's mean over the golden set (corpus value for precision/recall/F1).
    - ``eval_max_examples``: evaluate only the first N examples (``None`` = all).
    - ``deadline_hours``: after this long without a decision the approval expires and the
      version returns to Draft.
    - ``reminder_hours``: a reminder goes out every this many hours while waiting for reviews.
    - ``webhook_url``: reminders are POSTed here as JSON (else ``PROMPTOPS_APPROVAL_WEBHOOK_URL``,
      else a log line); an audit entry is written either way.

    Raises ``pydantic.ValidationError`` naming the field for a bad value.
    """

    model_config = ConfigDict(extra="forbid")

    required_approvals: int = Field(default=1, ge=1, le=50)
    reviewers: list[str] = Field(default_factory=list, max_length=200)
    min_eval_score: float = Field(default=0.70, ge=0.0, le=1.0)
    golden_dataset_id: uuid.UUID | None = None
    eval_metric: str = DEFAULT_EVAL_METRIC
    eval_max_examples: int | None = Field(default=None, ge=1)
    deadline_hours: float = Field(default=72.0, gt=0, le=24 * 365)
    reminder_hours: float = Field(default=24.0, gt=0, le=24 * 365)
    webhook_url: str | None = Field(default=None, max_length=2000)

    @field_validator("reviewers")
    @classmethod
    def _reviewers(cls, value: list[str], info: ValidationInfo) -> list[str]:
        out: list[str] = []
        for raw in value:
            email = normalize_email(raw)
            local, at, domain = email.partition("@")
            if not at or not local or not domain or " " in email:
                raise ValueError(f"{raw!r} is not an email address")
            if email not in out:
                out.append(email)
        required = info.data.get("required_approvals")
        if out and isinstance(required, int) and required > len(out):
            raise ValueError(
                f"{len(out)} reviewer(s) listed but required_approvals is {required}: the "
                "version could never be approved"
            )
        return out

    @field_validator("eval_metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        try:
            (name,) = validate_metric_names([value])
        except ValueError:
            name = value
        if name not in SCORE_METRICS:
            why = "is a measurement, not a score" if name in METRIC_SPECS else "is not a metric"
            raise ValueError(f"{name!r} {why}; use one of: {', '.join(SCORE_METRICS)}")
        return name

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("webhook_url must be an http(s) URL")
        return value.strip()

    @classmethod
    def from_stored(cls, data: dict[str, Any] | None) -> ApprovalPolicy:
        """The policy of a project row (``{}`` or ``None`` = defaults)."""
        return cls.model_validate(data or {})

    def to_stored(self) -> dict[str, Any]:
        """JSON for ``Project.approval_policy``."""
        return self.model_dump(mode="json")
