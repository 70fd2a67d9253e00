"""Inputs and results of the approval activities (one dataclass each, so fields can be added
without breaking running workflows). Times are ISO 8601 strings in UTC."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Approval statuses (``approvals.status``); the last four are final.
CHECKING = "Checking"
PENDING = "Pending"
APPROVED = "Approved"
REJECTED = "Rejected"
EXPIRED = "Expired"
CHECK_FAILED = "CheckFailed"
FINAL_STATUSES = (APPROVED, REJECTED, EXPIRED, CHECK_FAILED)

#: Attempts at delivering one reminder to the webhook (the workflow's retry policy for
#: ``send_approval_reminder`` allows exactly this many); the last attempt gives up quietly.
REMINDER_ATTEMPTS = 3

#: Prompt version status each final approval status leaves behind.
VERSION_STATUS_AFTER = {
    APPROVED: "Approved",
    REJECTED: "Rejected",
    CHECK_FAILED: "Rejected",
    EXPIRED: "Draft",
}


@dataclass
class DecisionRecord:
    """One reviewer's decision (``decision``: ``approve`` | ``reject``)."""

    reviewer: str
    decision: str
    comment: str = ""
    decided_at: str = ""


@dataclass
class BeginApprovalInput:
    """Mark the version Pending and upsert its ``approvals`` row (keyed by ``approval_id``)."""

    approval_id: str
    organization_id: str
    project_id: str
    prompt_version_id: str
    requested_by: str
    status: str
    required_approvals: int
    policy: dict[str, Any]
    deadline_at: str
    request_id: str | None = None


@dataclass
class BeginApprovalResult:
    """``decisions``: those already stored for this approval id (a run restarted after a
    termination carries on with them)."""

    created: bool
    decisions: list[DecisionRecord] = field(default_factory=list)


@dataclass
class RecordEvalCheckInput:
    """Store the evaluation check's outcome; ``passed`` moves the approval to Pending."""

    approval_id: str
    organization_id: str
    evaluation_id: str
    eval_score: float | None
    min_eval_score: float
    metric: str
    passed: bool
    reason: str = ""


@dataclass
class RecordDecisionInput:
    approval_id: str
    organization_id: str
    prompt_version_id: str
    reviewer: str
    decision: str
    comment: str = ""
    request_id: str | None = None


@dataclass
class RecordDecisionResult:
    """``created`` is False when this reviewer's decision was already stored (a retry);
    ``decision`` is then the stored one."""

    created: bool
    decision: DecisionRecord


@dataclass
class SendReminderInput:
    """Reminder number ``reminder`` (1, 2, ...) of a waiting approval."""

    approval_id: str
    organization_id: str
    project_id: str
    prompt_version_id: str
    reminder: int
    deadline_at: str
    approvals: int
    required_approvals: int
    reviewers: list[str] = field(default_factory=list)
    decided: list[str] = field(default_factory=list)
    webhook_url: str | None = None


@dataclass
class SendReminderResult:
    """``channel``: ``webhook`` or ``log``; ``delivered`` False when the webhook kept failing."""

    channel: str
    delivered: bool
    detail: str = ""


@dataclass
class FinishApprovalInput:
    """Set the final status on the approval row and the version; audit it once."""

    approval_id: str
    organization_id: str
    prompt_version_id: str
    status: str
    reason: str = ""
    eval_score: float | None = None
    evaluation_id: str | None = None
    approvals: int = 0
    required_approvals: int = 1


@dataclass
class FinishApprovalResult:
    """``changed`` is False when the row already had a final status (a retry)."""

    changed: bool
    version_status: str
