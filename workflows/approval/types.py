"""Inputs, update arguments and results of ``ApprovalWorkflow`` (one dataclass each, so fields
can be added without breaking running workflows). Times are ISO 8601 strings in UTC."""

from __future__ import annotations

from dataclasses import dataclass, field

from activities.approval.types import DecisionRecord

# The review errors the ``approve``/``reject`` updates fail with (``ApplicationError.type``) are
# defined with every other error type in activities.errors and re-exported here for the API,
# which maps them to HTTP statuses and may not import activities/.
from activities.errors import (
    ALREADY_DECIDED,
    INVALID_REVIEW,
    NOT_A_REVIEWER,
    NOT_WAITING,
    OWN_VERSION,
)

__all__ = [
    "ALREADY_DECIDED",
    "CHECKING_PHASE",
    "DONE",
    "FINISHING",
    "INVALID_REVIEW",
    "NOT_A_REVIEWER",
    "NOT_WAITING",
    "OWN_VERSION",
    "STARTING",
    "WAITING",
    "ApprovalInput",
    "ApprovalPolicySnapshot",
    "ApprovalResult",
    "ApprovalState",
    "ReviewInput",
    "evaluation_id_for",
    "workflow_id_for",
]

#: Phases of the workflow, as the ``status`` query reports them. Decisions are accepted only
#: while ``waiting``.
STARTING = "starting"
CHECKING_PHASE = "checking"
WAITING = "waiting"
FINISHING = "finishing"
DONE = "done"


def workflow_id_for(prompt_version_id: str, attempt: int = 1) -> str:
    """The business key of a version's ``attempt``-th approval (``approval-{version}-{n}``).

    A new attempt starts only after the previous one Expired (the version went back to Draft);
    the id is also the ``approvals`` row's primary key.
    """
    return f"approval-{prompt_version_id}-{attempt}"


def evaluation_id_for(approval_id: str) -> str:
    """The evaluation id (= child workflow id) of an approval's golden-set check."""
    return f"eval-{approval_id}"


@dataclass
class ApprovalPolicySnapshot:
    """The project's ``ApprovalPolicy`` as it was at submission (see
    ``promptops.governance.approval_policy.ApprovalPolicy`` for the meaning and units of each
    field)."""

    required_approvals: int = 1
    reviewers: list[str] = field(default_factory=list)
    min_eval_score: float = 0.70
    golden_dataset_id: str | None = None
    eval_metric: str = "exact_match"
    eval_max_examples: int | None = None
    deadline_hours: float = 72.0
    reminder_hours: float = 24.0
    webhook_url: str | None = None


@dataclass
class ApprovalInput:
    """Start an approval of ``prompt_version_id``.

    ``author``: the version's ``created_by`` (who may not approve it); ``requested_by``: who
    submitted it. ``eval_concurrency``: LLM calls in flight in the golden-set evaluation.
    """

    approval_id: str
    organization_id: str
    project_id: str
    prompt_version_id: str
    author: str
    requested_by: str
    policy: ApprovalPolicySnapshot
    request_id: str | None = None
    eval_concurrency: int = 4


@dataclass
class ReviewInput:
    """Argument of the ``approve`` and ``reject`` updates: the reviewer's email, a comment
    (required to reject) and the HTTP request id for the audit log."""

    reviewer: str
    comment: str = ""
    request_id: str | None = None


@dataclass
class ApprovalState:
    """What the ``status`` query and the updates return.

    ``phase``: starting | checking | waiting | finishing | done. ``status``: the approval status
    (Checking, Pending, Approved, Rejected, Expired, CheckFailed). ``approvals``: distinct
    reviewers who approved so far. ``eval_score``: the candidate's golden-set score (0..1) or
    ``None`` (no check, or not finished).
    """

    approval_id: str
    prompt_version_id: str
    phase: str
    status: str
    required_approvals: int
    approvals: int
    decisions: list[DecisionRecord] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)
    author: str = ""
    eval_score: float | None = None
    min_eval_score: float | None = None
    eval_metric: str | None = None
    evaluation_id: str | None = None
    deadline_at: str = ""
    reminders_sent: int = 0
    reason: str = ""


@dataclass
class ApprovalResult:
    """How the approval ended: ``status`` (Approved | Rejected | Expired | CheckFailed), the
    version's status after it (Approved | Rejected | Draft) and why."""

    approval_id: str
    status: str
    version_status: str
    reason: str = ""
    eval_score: float | None = None
    evaluation_id: str | None = None
    decisions: list[DecisionRecord] = field(default_factory=list)
    reminders_sent: int = 0
