from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field, field_validator

from api.schemas.common import INT32_MAX, RequestModel, http_url
from promptops.governance.approval_policy import ApprovalPolicy


class ApprovalPolicyPublic(ApprovalPolicy):
    """A project's approval policy (defaults filled in) and the project it belongs to."""

    project_id: uuid.UUID


class ApprovalPolicyPut(RequestModel, ApprovalPolicy):
    """A project's approval policy as sent to ``PUT /projects/{id}/approval_policy``: the
    policy's own rules plus what the door refuses (``eval_max_examples`` at most 2**31 - 1,
    ``webhook_url`` an http(s) URL in printable ASCII)."""

    eval_max_examples: int | None = Field(default=None, ge=1, le=INT32_MAX)

    @field_validator("webhook_url")
    @classmethod
    def _webhook_is_http_url(cls, value: str | None) -> str | None:
        # Runs after ApprovalPolicy's own check, which strips it and turns blank into None.
        return None if value is None else http_url(value)


class ReviewRequest(RequestModel):
    """A reviewer's comment; required (non-blank) to reject."""

    comment: str = Field(default="", max_length=10_000)


class ApprovalStarted(BaseModel):
    """Answer of ``submit_for_approval``: the approval id is its Temporal workflow id; a second
    submit while it runs answers with the same ``approval_id`` and ``run_id``."""

    approval_id: str
    workflow_id: str
    run_id: str | None
    prompt_version_id: uuid.UUID
    status: str
    temporal_ui_url: str


class DecisionPublic(BaseModel):
    reviewer: str
    decision: str = Field(description="approve | reject")
    comment: str
    decided_at: datetime | None = None


class ApprovalPublic(BaseModel):
    """One approval. ``live`` is true when the figures come from the running workflow's
    ``status`` query (``phase``: starting | checking | waiting | finishing), false when read
    from the database (``phase`` ``done`` once final)."""

    id: str
    workflow_id: str
    project_id: uuid.UUID | None = None
    prompt_version_id: uuid.UUID
    prompt_id: uuid.UUID | None = None
    prompt_name: str | None = None
    version: int | None = Field(default=None, description="the version's number")
    author: str | None = Field(default=None, description="who wrote the version")
    golden_dataset_id: uuid.UUID | None = Field(
        default=None, description="the policy's golden set (when it asks for a check)"
    )
    status: str
    phase: str
    live: bool
    version_status: str | None = None
    required_approvals: int
    approvals: int
    decisions: list[DecisionPublic] = Field(default_factory=list)
    reviewers: list[str] = Field(default_factory=list)
    eval_score: float | None = None
    min_eval_score: float | None = None
    eval_metric: str | None = None
    evaluation_id: str | None = None
    requested_by: str | None = None
    reason: str = ""
    reminders_sent: int | None = None
    deadline_at: datetime | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    temporal_ui_url: str


class ApprovalsPublic(BaseModel):
    data: list[ApprovalPublic]
    count: int
