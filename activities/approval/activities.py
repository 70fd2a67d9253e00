"""Approval activities: begin, record the evaluation check, record a decision, remind, finish.

Each one opens its own session and commits once. Every write is idempotent, so a retry after a
crash changes nothing twice: the approval row is keyed by its id (the workflow id), a decision by
``(approval_id, reviewer)``, the final status is set only while the row is not final, and each
audit entry is written only together with the change it describes (a reminder's entry is keyed
by its number).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.approval.types import (
    PENDING,
    REMINDER_ATTEMPTS,
    VERSION_STATUS_AFTER,
    BeginApprovalInput,
    BeginApprovalResult,
    DecisionRecord,
    FinishApprovalInput,
    FinishApprovalResult,
    RecordDecisionInput,
    RecordDecisionResult,
    RecordEvalCheckInput,
    SendReminderInput,
    SendReminderResult,
)
from activities.errors import INVALID_INPUT, INVALID_STATE, NOT_FOUND, WEBHOOK_FAILED
from activities.outages import database_outage_retryable
from promptops.db.models import ApprovalDecision, PromptVersionStatus
from promptops.db.repositories import ApprovalRepository, AuditRepository
from promptops.db.session import get_session_factory

log = logging.getLogger(__name__)

#: Actor of the entries the workflow writes on its own (reminders, expiry, final status).
SYSTEM_ACTOR = "system:approval-workflow"


def _parse_time(value: str) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _decision_record(row: ApprovalDecision) -> DecisionRecord:
    return DecisionRecord(
        reviewer=row.reviewer,
        decision=row.decision,
        comment=row.comment,
        decided_at=row.created_at.isoformat() if row.created_at else "",
    )


class ApprovalActivities:
    """Built with a database URL and the default reminder webhook
    (``PROMPTOPS_APPROVAL_WEBHOOK_URL``; a policy's own ``webhook_url`` wins).

    ``transport``: an ``httpx`` transport for the webhook calls (tests); ``webhook_timeout_s``:
    connect + read timeout of one webhook POST in seconds.
    """

    def __init__(
        self,
        database_url: str,
        *,
        webhook_url: str | None = None,
        webhook_timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._sessions = get_session_factory(database_url)
        self._webhook_url = webhook_url
        self._webhook_timeout_s = webhook_timeout_s
        self._transport = transport

    @activity.defn(name="begin_approval")
    @database_outage_retryable
    async def begin_approval(self, inp: BeginApprovalInput) -> BeginApprovalResult:
        """Set the version to Pending and upsert the ``approvals`` row.

        Raises ``ApplicationError`` (non-retryable) ``NotFound`` for an unknown version and
        ``InvalidState`` for a version already Approved or Rejected.
        """
        version_id = uuid.UUID(inp.prompt_version_id)
        async with self._sessions() as session:
            repo = ApprovalRepository(session)
            version = await repo.get_version(version_id)
            if version is None:
                raise ApplicationError(
                    f"prompt version {inp.prompt_version_id} not found",
                    type=NOT_FOUND,
                    non_retryable=True,
                )
            if version.status in (PromptVersionStatus.APPROVED, PromptVersionStatus.REJECTED):
                raise ApplicationError(
                    f"prompt version {inp.prompt_version_id} is already {version.status.value}",
                    type=INVALID_STATE,
                    non_retryable=True,
                )
            before = await repo.set_version_status(version_id, PromptVersionStatus.PENDING)
            created = await repo.upsert(
                approval_id=inp.approval_id,
                project_id=uuid.UUID(inp.project_id),
                prompt_version_id=version_id,
                status=inp.status,
                required_approvals=inp.required_approvals,
                policy=inp.policy,
                requested_by=inp.requested_by,
                deadline_at=_parse_time(inp.deadline_at),
            )
            if created:
                await AuditRepository(session).record(
                    organization_id=uuid.UUID(inp.organization_id),
                    actor=inp.requested_by,
                    action="approval.submit",
                    entity_type="approval",
                    entity_id=inp.approval_id,
                    before={"version_status": before.value if before else None},
                    after={
                        "prompt_version_id": inp.prompt_version_id,
                        "status": inp.status,
                        "version_status": PromptVersionStatus.PENDING.value,
                        "required_approvals": inp.required_approvals,
                        "deadline_at": inp.deadline_at,
                        "policy": inp.policy,
                    },
                    request_id=inp.request_id,
                )
            stored = (await repo.decisions([inp.approval_id]))[inp.approval_id]
            await session.commit()
        return BeginApprovalResult(created=created, decisions=[_decision_record(d) for d in stored])

    @activity.defn(name="record_approval_check")
    @database_outage_retryable
    async def record_approval_check(self, inp: RecordEvalCheckInput) -> None:
        """Store the evaluation id and score on the approval (passed: status -> Pending)."""
        async with self._sessions() as session:
            repo = ApprovalRepository(session)
            row = await repo.get_by_id(inp.approval_id)
            if row is None:
                raise ApplicationError(
                    f"approval {inp.approval_id} not found", type=NOT_FOUND, non_retryable=True
                )
            already = row.evaluation_id == inp.evaluation_id and row.eval_score == inp.eval_score
            await repo.set_check(
                inp.approval_id,
                evaluation_id=inp.evaluation_id,
                eval_score=inp.eval_score,
                status=PENDING if inp.passed else None,
                reason=inp.reason,
            )
            if not already:
                await AuditRepository(session).record(
                    organization_id=uuid.UUID(inp.organization_id),
                    actor=SYSTEM_ACTOR,
                    action="approval.check",
                    entity_type="approval",
                    entity_id=inp.approval_id,
                    after={
                        "evaluation_id": inp.evaluation_id,
                        "metric": inp.metric,
                        "eval_score": inp.eval_score,
                        "min_eval_score": inp.min_eval_score,
                        "passed": inp.passed,
                        "reason": inp.reason,
                    },
                )
            await session.commit()

    @activity.defn(name="record_approval_decision")
    @database_outage_retryable
    async def record_approval_decision(self, inp: RecordDecisionInput) -> RecordDecisionResult:
        """Store one reviewer's decision (once per reviewer) and its audit entry
        (``approval.approve`` / ``approval.reject``, actor = the reviewer)."""
        if inp.decision not in ("approve", "reject"):
            raise ApplicationError(
                f"unknown decision {inp.decision!r}", type=INVALID_INPUT, non_retryable=True
            )
        async with self._sessions() as session:
            repo = ApprovalRepository(session)
            created, row = await repo.add_decision(
                approval_id=inp.approval_id,
                reviewer=inp.reviewer,
                decision=inp.decision,
                comment=inp.comment,
            )
            if created:
                await AuditRepository(session).record(
                    organization_id=uuid.UUID(inp.organization_id),
                    actor=inp.reviewer,
                    action=f"approval.{inp.decision}",
                    entity_type="approval",
                    entity_id=inp.approval_id,
                    after={
                        "prompt_version_id": inp.prompt_version_id,
                        "decision": inp.decision,
                        "comment": inp.comment,
                    },
                    request_id=inp.request_id,
                )
            await session.commit()
            # Read after commit so created_at is the stored one.
            record = _decision_record(row)
        return RecordDecisionResult(created=created, decision=record)

    @activity.defn(name="send_approval_reminder")
    @database_outage_retryable
    async def send_approval_reminder(self, inp: SendReminderInput) -> SendReminderResult:
        """Remind reviewers of a waiting approval.

        POSTs a JSON document (``event``, ``approval_id``, ``prompt_version_id``, ``project_id``,
        ``reminder``, ``deadline_at``, ``approvals``, ``required_approvals``, ``reviewers``,
        ``decided``) to the webhook when one is configured, else logs a line. A webhook answering
        an error or unreachable raises (Temporal retries) until the last of
        :data:`REMINDER_ATTEMPTS` attempts, which gives up. Always writes one audit entry
        ``approval.reminder`` per reminder number.
        """
        url = inp.webhook_url or self._webhook_url
        payload: dict[str, Any] = {
            "event": "approval.reminder",
            "approval_id": inp.approval_id,
            "prompt_version_id": inp.prompt_version_id,
            "project_id": inp.project_id,
            "reminder": inp.reminder,
            "deadline_at": inp.deadline_at,
            "approvals": inp.approvals,
            "required_approvals": inp.required_approvals,
            "reviewers": inp.reviewers,
            "decided": inp.decided,
        }
        if url:
            channel = "webhook"
            try:
                async with httpx.AsyncClient(
                    timeout=self._webhook_timeout_s, transport=self._transport
                ) as http:
                    response = await http.post(url, json=payload)
                    response.raise_for_status()
                delivered, detail = True, f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                if activity.info().attempt < REMINDER_ATTEMPTS:
                    raise ApplicationError(
                        f"reminder webhook failed: {exc}", type=WEBHOOK_FAILED
                    ) from exc
                delivered, detail = False, f"gave up after {REMINDER_ATTEMPTS} attempts: {exc}"
                log.warning(
                    "approval %s: reminder %d not delivered: %s", inp.approval_id, inp.reminder, exc
                )
        else:
            channel, delivered, detail = "log", True, ""
            log.info(
                "approval %s of prompt version %s waits for reviews: reminder %d, "
                "%d/%d approvals, deadline %s",
                inp.approval_id,
                inp.prompt_version_id,
                inp.reminder,
                inp.approvals,
                inp.required_approvals,
                inp.deadline_at,
            )
        async with self._sessions() as session:
            if not await ApprovalRepository(session).reminder_recorded(
                inp.approval_id, inp.reminder
            ):
                await AuditRepository(session).record(
                    organization_id=uuid.UUID(inp.organization_id),
                    actor=SYSTEM_ACTOR,
                    action="approval.reminder",
                    entity_type="approval",
                    entity_id=inp.approval_id,
                    after={
                        "reminder": inp.reminder,
                        "channel": channel,
                        "delivered": delivered,
                        "detail": detail,
                        "deadline_at": inp.deadline_at,
                        "approvals": inp.approvals,
                        "required_approvals": inp.required_approvals,
                    },
                )
                await session.commit()
        return SendReminderResult(channel=channel, delivered=delivered, detail=detail)

    @activity.defn(name="finish_approval")
    @database_outage_retryable
    async def finish_approval(self, inp: FinishApprovalInput) -> FinishApprovalResult:
        """Set the final status on the approval row (once) and the version's status
        (Approved; Rejected for Rejected and CheckFailed; back to Draft for Expired), with an
        audit entry ``approval.<status>`` (e.g. ``approval.expired``)."""
        if inp.status not in VERSION_STATUS_AFTER:
            raise ApplicationError(
                f"{inp.status!r} is not a final approval status",
                type=INVALID_INPUT,
                non_retryable=True,
            )
        version_status = PromptVersionStatus(VERSION_STATUS_AFTER[inp.status])
        async with self._sessions() as session:
            repo = ApprovalRepository(session)
            row = await repo.finish(
                inp.approval_id,
                status=inp.status,
                reason=inp.reason,
                eval_score=inp.eval_score,
                evaluation_id=inp.evaluation_id,
                completed_at=datetime.now(UTC),
            )
            before = await repo.set_version_status(uuid.UUID(inp.prompt_version_id), version_status)
            if row is not None:
                action = "approval." + (
                    "check_failed" if inp.status == "CheckFailed" else inp.status.lower()
                )
                await AuditRepository(session).record(
                    organization_id=uuid.UUID(inp.organization_id),
                    actor=SYSTEM_ACTOR,
                    action=action,
                    entity_type="approval",
                    entity_id=inp.approval_id,
                    before={"version_status": before.value if before else None},
                    after={
                        "status": inp.status,
                        "version_status": version_status.value,
                        "reason": inp.reason,
                        "eval_score": inp.eval_score,
                        "approvals": inp.approvals,
                        "required_approvals": inp.required_approvals,
                    },
                )
            await session.commit()
        return FinishApprovalResult(changed=row is not None, version_status=version_status.value)
