"""``ApprovalWorkflow``: a prompt version goes Draft -> Pending -> Approved | Rejected, durably.

1. ``begin_approval`` marks the version Pending and upserts the ``approvals`` row.
2. When the project's policy names a golden dataset, a ``BatchEvaluationWorkflow`` child runs
   the version on it; a score (mean of the policy's metric) below ``min_eval_score`` ends the
   approval as CheckFailed and the version as Rejected.
3. Reviewers decide through the ``approve`` and ``reject`` updates. Their validators refuse the
   author approving their own version, a reviewer outside the policy's list, a second decision
   by the same reviewer and any decision outside the waiting phase; each accepted decision is
   recorded by an activity before the update returns. ``required_approvals`` distinct approvals
   approve the version, one rejection rejects it. A durable timer expires the approval after
   ``deadline_hours`` (the version returns to Draft); a reminder goes out every
   ``reminder_hours`` while waiting.
4. ``finish_approval`` writes the final status on the row and the version, with an audit entry.

The ``status`` query answers at any time. Deterministic: time is ``workflow.now()``, all I/O is
in activities.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.approval.declarations import (
        begin_approval,
        finish_approval,
        record_approval_check,
        record_approval_decision,
        send_approval_reminder,
    )
    from activities.approval.types import (
        APPROVED,
        CHECK_FAILED,
        CHECKING,
        EXPIRED,
        PENDING,
        REJECTED,
        VERSION_STATUS_AFTER,
        BeginApprovalInput,
        DecisionRecord,
        FinishApprovalInput,
        RecordDecisionInput,
        RecordEvalCheckInput,
        SendReminderInput,
    )
    from activities.errors import (
        ALREADY_DECIDED,
        INVALID_INPUT,
        INVALID_REVIEW,
        NOT_A_REVIEWER,
        NOT_WAITING,
        OWN_VERSION,
    )

    # Needed beyond the annotation: the child's result is decoded by resolving its dataclass's
    # annotations through sys.modules, which inside the sandbox holds only the modules this
    # workflow imports itself (not what its passed-through imports import).
    from activities.evaluation.types import FinalizeEvaluationResult
    from activities.retry_policies import REMINDER, STANDARD
    from workflows.approval.types import (
        CHECKING_PHASE,
        DONE,
        FINISHING,
        STARTING,
        WAITING,
        ApprovalInput,
        ApprovalResult,
        ApprovalState,
        ReviewInput,
        evaluation_id_for,
    )
    from workflows.evaluation.types import BatchEvaluationInput
    from workflows.evaluation.workflow import BatchEvaluationWorkflow

__all__ = ["ApprovalWorkflow", "candidate_score"]


def _normalize(email: str) -> str:
    return email.strip().lower()


def candidate_score(summary: dict[str, object], version_id: str, metric: str) -> float | None:
    """The version's value of ``metric`` in an evaluation summary (the mean over examples for
    per-example metrics, the corpus value for precision/recall/F1), or ``None`` when the
    evaluation scored no example of it. Shape: ``promptops.evaluation.summary``."""
    versions = summary.get("versions")
    if not isinstance(versions, list):
        return None
    for entry in versions:
        if isinstance(entry, dict) and entry.get("version_id") == version_id:
            metrics = entry.get("metrics")
            value = metrics.get(metric, {}).get("value") if isinstance(metrics, dict) else None
            return float(value) if isinstance(value, (int, float)) else None
    return None


def _root_message(exc: BaseException) -> str:
    """The innermost failure's message (a child's activity error wraps the real reason)."""
    inner: BaseException = exc
    while inner.__cause__ is not None:
        inner = inner.__cause__
    return str(inner) or type(inner).__name__


@workflow.defn(name="ApprovalWorkflow")
class ApprovalWorkflow:
    @workflow.init
    def __init__(self, inp: ApprovalInput) -> None:
        # Input in __init__: an update can arrive before ``run`` starts and its validator needs
        # the policy and the author.
        self._inp = inp
        self._phase = STARTING
        self._status = CHECKING if inp.policy.golden_dataset_id else PENDING
        self._decisions: list[DecisionRecord] = []
        self._in_flight: set[str] = set()
        self._eval_score: float | None = None
        self._evaluation_id: str | None = None
        self._deadline_at = ""
        self._reminders = 0
        self._reason = ""

    @workflow.run
    async def run(self, inp: ApprovalInput) -> ApprovalResult:
        policy = inp.policy
        if policy.required_approvals < 1:
            raise ApplicationError(
                "required_approvals must be >= 1", type=INVALID_INPUT, non_retryable=True
            )
        if policy.deadline_hours <= 0 or policy.reminder_hours <= 0:
            raise ApplicationError(
                "deadline_hours and reminder_hours must be > 0",
                type=INVALID_INPUT,
                non_retryable=True,
            )
        # The deadline counts from submission: the evaluation check is part of the wait.
        deadline = workflow.now() + timedelta(hours=policy.deadline_hours)
        self._deadline_at = deadline.isoformat()
        begin = await workflow.execute_activity(
            begin_approval,
            BeginApprovalInput(
                approval_id=inp.approval_id,
                organization_id=inp.organization_id,
                project_id=inp.project_id,
                prompt_version_id=inp.prompt_version_id,
                requested_by=inp.requested_by,
                status=self._status,
                required_approvals=policy.required_approvals,
                policy=_policy_json(inp),
                deadline_at=self._deadline_at,
                request_id=inp.request_id,
            ),
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=STANDARD,
        )
        # A run restarted under the same id (after a termination) keeps the stored decisions.
        self._decisions = list(begin.decisions)
        if policy.golden_dataset_id:
            self._phase = CHECKING_PHASE
            if not await self._evaluation_check(policy.golden_dataset_id):
                return await self._finish(CHECK_FAILED)
        self._status = PENDING
        self._phase = WAITING
        return await self._finish(await self._wait_for_reviews(deadline))

    # --- steps -----------------------------------------------------------------------------
    async def _evaluation_check(self, dataset_id: str) -> bool:
        """Run the golden-set evaluation as a child workflow; record and judge its score."""
        inp, policy = self._inp, self._inp.policy
        evaluation_id = evaluation_id_for(inp.approval_id)
        self._evaluation_id = evaluation_id
        score: float | None = None
        try:
            result: FinalizeEvaluationResult = await workflow.execute_child_workflow(
                BatchEvaluationWorkflow.run,
                BatchEvaluationInput(
                    evaluation_id=evaluation_id,
                    prompt_version_ids=[inp.prompt_version_id],
                    dataset_id=dataset_id,
                    metrics=[policy.eval_metric],
                    concurrency=inp.eval_concurrency,
                    max_examples=policy.eval_max_examples,
                ),
                id=evaluation_id,
            )
            score = candidate_score(result.summary, inp.prompt_version_id, policy.eval_metric)
            if score is None:
                reason = (
                    f"evaluation {evaluation_id} scored no example with "
                    f"{policy.eval_metric} (is the golden set empty?)"
                )
            elif score < policy.min_eval_score:
                reason = (
                    f"eval score {score:.3f} ({policy.eval_metric} on golden set "
                    f"{dataset_id}) is below the minimum {policy.min_eval_score:.2f}"
                )
            else:
                reason = ""
        except ChildWorkflowError as exc:
            reason = f"evaluation {evaluation_id} failed: {_root_message(exc)}"
        passed = score is not None and score >= policy.min_eval_score
        self._eval_score = score
        await workflow.execute_activity(
            record_approval_check,
            RecordEvalCheckInput(
                approval_id=inp.approval_id,
                organization_id=inp.organization_id,
                evaluation_id=evaluation_id,
                eval_score=score,
                min_eval_score=policy.min_eval_score,
                metric=policy.eval_metric,
                passed=passed,
                reason=reason,
            ),
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=STANDARD,
        )
        if not passed:
            self._reason = reason
        return passed

    async def _wait_for_reviews(self, deadline: datetime) -> str:
        """Wait for the outcome, the deadline or the next reminder, whichever comes first.

        Reminder ``k`` is due ``k * reminder_hours`` after the wait began (a fixed schedule, so
        the time a reminder takes does not shift the next one); none is sent at the deadline.
        """
        every = timedelta(hours=self._inp.policy.reminder_hours)
        wait_start = workflow.now()
        while self._outcome() is None:
            now = workflow.now()
            if now >= deadline:
                break
            next_reminder = wait_start + every * (self._reminders + 1)
            wake = min(next_reminder, deadline)
            if wake > now:
                try:
                    await workflow.wait_condition(
                        lambda: self._outcome() is not None,
                        timeout=wake - now,
                        timeout_summary="approval deadline"
                        if wake == deadline
                        else "approval reminder",
                    )
                    continue
                except TimeoutError:
                    pass
            if workflow.now() < deadline and workflow.now() >= next_reminder:
                await self._remind()
        # Stop taking decisions, then let the ones being recorded finish: a decision accepted
        # just before the deadline still counts.
        self._phase = FINISHING
        await workflow.wait_condition(workflow.all_handlers_finished)
        outcome = self._outcome()
        if outcome is None:
            self._reason = (
                f"no decision within {self._inp.policy.deadline_hours:g} h "
                f"({self._approvals()}/{self._inp.policy.required_approvals} "
                "approvals)"
            )
            return EXPIRED
        return outcome

    async def _remind(self) -> None:
        inp = self._inp
        self._reminders += 1
        try:
            await workflow.execute_activity(
                send_approval_reminder,
                SendReminderInput(
                    approval_id=inp.approval_id,
                    organization_id=inp.organization_id,
                    project_id=inp.project_id,
                    prompt_version_id=inp.prompt_version_id,
                    reminder=self._reminders,
                    deadline_at=self._deadline_at,
                    approvals=self._approvals(),
                    required_approvals=inp.policy.required_approvals,
                    reviewers=list(inp.policy.reviewers),
                    decided=[d.reviewer for d in self._decisions],
                    webhook_url=inp.policy.webhook_url,
                ),
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=REMINDER,
            )
        except ActivityError as exc:
            workflow.logger.warning(
                "approval %s: reminder %d failed: %s",
                inp.approval_id,
                self._reminders,
                _root_message(exc),
            )

    async def _finish(self, status: str) -> ApprovalResult:
        inp = self._inp
        self._status = status
        self._phase = FINISHING
        if status == APPROVED:
            self._reason = "approved by " + ", ".join(
                d.reviewer for d in self._decisions if d.decision == "approve"
            )
        elif status == REJECTED:
            rejection = next((d for d in self._decisions if d.decision == "reject"), None)
            if rejection is not None:
                self._reason = f"rejected by {rejection.reviewer}: {rejection.comment}"
        await workflow.wait_condition(workflow.all_handlers_finished)
        finished = await workflow.execute_activity(
            finish_approval,
            FinishApprovalInput(
                approval_id=inp.approval_id,
                organization_id=inp.organization_id,
                prompt_version_id=inp.prompt_version_id,
                status=status,
                reason=self._reason,
                eval_score=self._eval_score,
                evaluation_id=self._evaluation_id,
                approvals=self._approvals(),
                required_approvals=inp.policy.required_approvals,
            ),
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=STANDARD,
        )
        self._phase = DONE
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ApprovalResult(
            approval_id=inp.approval_id,
            status=status,
            version_status=finished.version_status or VERSION_STATUS_AFTER[status],
            reason=self._reason,
            eval_score=self._eval_score,
            evaluation_id=self._evaluation_id,
            decisions=list(self._decisions),
            reminders_sent=self._reminders,
        )

    # --- decisions -------------------------------------------------------------------------
    def _approvals(self) -> int:
        return len({d.reviewer for d in self._decisions if d.decision == "approve"})

    def _outcome(self) -> str | None:
        if any(d.decision == "reject" for d in self._decisions):
            return REJECTED
        if self._approvals() >= self._inp.policy.required_approvals:
            return APPROVED
        return None

    def _validate(self, review: ReviewInput, decision: str) -> None:
        """Raise ``ApplicationError`` (type = reason) unless ``review`` may be accepted now."""
        reviewer = _normalize(review.reviewer)
        policy = self._inp.policy
        if not reviewer:
            raise ApplicationError("the reviewer's email is required", type=INVALID_REVIEW)
        earlier = next((d for d in self._decisions if d.reviewer == reviewer), None)
        if earlier is not None:
            verb = "approved" if earlier.decision == "approve" else "rejected"
            raise ApplicationError(
                f"{reviewer} already {verb} this version; a reviewer decides once",
                type=ALREADY_DECIDED,
            )
        if reviewer in self._in_flight:
            raise ApplicationError(
                f"{reviewer}'s decision on this version is being recorded", type=ALREADY_DECIDED
            )
        if self._phase != WAITING:
            what = {
                STARTING: "has not started waiting for reviews yet",
                CHECKING_PHASE: "is still running its evaluation check",
            }.get(self._phase, f"is closed ({self._status})")
            raise ApplicationError(f"approval {self._inp.approval_id} {what}", type=NOT_WAITING)
        if decision == "approve" and reviewer == _normalize(self._inp.author):
            raise ApplicationError(
                "the author of a prompt version cannot approve it", type=OWN_VERSION
            )
        if policy.reviewers and reviewer not in policy.reviewers:
            raise ApplicationError(
                f"{reviewer} is not a reviewer in this project's approval policy "
                f"(reviewers: {', '.join(policy.reviewers)})",
                type=NOT_A_REVIEWER,
            )
        if decision == "reject" and not review.comment.strip():
            raise ApplicationError("a rejection needs a comment", type=INVALID_REVIEW)

    async def _decide(self, review: ReviewInput, decision: str) -> ApprovalState:
        # Validators of updates delivered together all run before any handler: check again
        # here so two concurrent decisions by one reviewer cannot both be recorded.
        self._validate(review, decision)
        reviewer = _normalize(review.reviewer)
        self._in_flight.add(reviewer)
        try:
            recorded = await workflow.execute_activity(
                record_approval_decision,
                RecordDecisionInput(
                    approval_id=self._inp.approval_id,
                    organization_id=self._inp.organization_id,
                    prompt_version_id=self._inp.prompt_version_id,
                    reviewer=reviewer,
                    decision=decision,
                    comment=review.comment.strip(),
                    request_id=review.request_id,
                ),
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=STANDARD,
            )
        finally:
            self._in_flight.discard(reviewer)
        self._decisions.append(recorded.decision)
        outcome = self._outcome()
        if outcome is not None and self._phase == WAITING:
            # Decided: take no more decisions and report the outcome at once; the main loop
            # finishes the approval.
            self._phase = FINISHING
            self._status = outcome
        return self.status()

    @workflow.update(name="approve")
    async def approve(self, review: ReviewInput) -> ApprovalState:
        """Approve as ``review.reviewer``; returns the state after the decision is stored."""
        return await self._decide(review, "approve")

    @approve.validator
    def validate_approve(self, review: ReviewInput) -> None:
        self._validate(review, "approve")

    @workflow.update(name="reject")
    async def reject(self, review: ReviewInput) -> ApprovalState:
        """Reject as ``review.reviewer`` (``comment`` required); one rejection decides."""
        return await self._decide(review, "reject")

    @reject.validator
    def validate_reject(self, review: ReviewInput) -> None:
        self._validate(review, "reject")

    @workflow.query(name="status")
    def status(self) -> ApprovalState:
        """Phase, status, decisions so far, evaluation score, deadline, required approvals."""
        inp = self._inp
        return ApprovalState(
            approval_id=inp.approval_id,
            prompt_version_id=inp.prompt_version_id,
            phase=self._phase,
            status=self._status,
            required_approvals=inp.policy.required_approvals,
            approvals=self._approvals(),
            decisions=list(self._decisions),
            reviewers=list(inp.policy.reviewers),
            author=inp.author,
            eval_score=self._eval_score,
            min_eval_score=inp.policy.min_eval_score if inp.policy.golden_dataset_id else None,
            eval_metric=inp.policy.eval_metric if inp.policy.golden_dataset_id else None,
            evaluation_id=self._evaluation_id,
            deadline_at=self._deadline_at,
            reminders_sent=self._reminders,
            reason=self._reason,
        )


def _policy_json(inp: ApprovalInput) -> dict[str, object]:
    p = inp.policy
    return {
        "required_approvals": p.required_approvals,
        "reviewers": list(p.reviewers),
        "min_eval_score": p.min_eval_score,
        "golden_dataset_id": p.golden_dataset_id,
        "eval_metric": p.eval_metric,
        "eval_max_examples": p.eval_max_examples,
        "deadline_hours": p.deadline_hours,
        "reminder_hours": p.reminder_hours,
        "webhook_url": p.webhook_url,
    }
