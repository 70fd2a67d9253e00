"""Typed declarations of the approval activities (implemented by
:class:`activities.approval.activities.ApprovalActivities`; see :mod:`activities`)."""

from __future__ import annotations

from temporalio import activity

from activities.approval.types import (
    BeginApprovalInput,
    BeginApprovalResult,
    FinishApprovalInput,
    FinishApprovalResult,
    RecordDecisionInput,
    RecordDecisionResult,
    RecordEvalCheckInput,
    SendReminderInput,
    SendReminderResult,
)

__all__ = [
    "begin_approval",
    "finish_approval",
    "record_approval_check",
    "record_approval_decision",
    "send_approval_reminder",
]


@activity.defn(name="begin_approval")
async def begin_approval(inp: BeginApprovalInput) -> BeginApprovalResult:
    """Set the version Pending and upsert the ``approvals`` row; returns the decisions already
    stored. ``NotFound`` (unknown version), ``InvalidState`` (already Approved or Rejected):
    non-retryable."""
    raise NotImplementedError


@activity.defn(name="record_approval_check")
async def record_approval_check(inp: RecordEvalCheckInput) -> None:
    """Store the golden-set evaluation's id and score on the approval (passed: Pending).
    ``NotFound``: non-retryable."""
    raise NotImplementedError


@activity.defn(name="record_approval_decision")
async def record_approval_decision(inp: RecordDecisionInput) -> RecordDecisionResult:
    """Store one reviewer's decision once, with its audit entry. ``InvalidInput`` (a decision
    other than approve / reject): non-retryable."""
    raise NotImplementedError


@activity.defn(name="send_approval_reminder")
async def send_approval_reminder(inp: SendReminderInput) -> SendReminderResult:
    """POST a reminder to the webhook (or log it) and audit it once per reminder number.
    ``WebhookFailed``: retryable until the last allowed attempt, which gives up quietly."""
    raise NotImplementedError


@activity.defn(name="finish_approval")
async def finish_approval(inp: FinishApprovalInput) -> FinishApprovalResult:
    """Set the final status on the approval row (once) and the version's status after it,
    with an audit entry. ``InvalidInput`` (not a final status): non-retryable."""
    raise NotImplementedError
