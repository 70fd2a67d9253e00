"""Record ``ApprovalWorkflow`` histories for the replay tests.

    python -m tests.replay.record_approval_history           # histories/approval/*_v1.json
    python -m tests.replay.record_approval_history --tag v2  # after a deliberate, patched change

Runs the real workflow (and the real ``BatchEvaluationWorkflow`` child) on a local Temporal dev
server with the activities replaced by same-named stand-ins (no database, no LLM), and stores
each execution's history as JSON (``WorkflowHistory.to_json()``). The workflow id of a history is
its file name up to the first ``.``.

Scenarios (deadline and reminder times are seconds here so the recording takes seconds):

- ``approval_approved_<tag>``: two reviewers approve (two ``approve`` updates).
- ``approval_rejected_<tag>``: one approval, then a rejection with a comment.
- ``approval_expired_<tag>``: two reminders, then the deadline expires it.
- ``approval_check_passed_<tag>``: the golden-set child evaluation passes, then one approval;
  the child's history is stored too (``eval-approval_check_passed_<tag>``).
- ``approval_check_failed_<tag>``: the child's score is below the minimum: CheckFailed.

Never overwrite committed histories (the script refuses without ``--force``).
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.approval.types import (
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
from activities.evaluation.types import (
    EvaluateChunkInput,
    EvaluateChunkResult,
    FinalizeEvaluationInput,
    FinalizeEvaluationResult,
    MetricSum,
    PlanEvaluationInput,
    PlanEvaluationResult,
)
from workflows.approval.types import (
    ApprovalInput,
    ApprovalPolicySnapshot,
    ApprovalState,
    ReviewInput,
    evaluation_id_for,
)
from workflows.approval.workflow import ApprovalWorkflow
from workflows.evaluation.workflow import BatchEvaluationWorkflow
from workflows.search_attributes import PROMPT_VERSION

HISTORIES = Path(__file__).parent / "histories" / "approval"
VERSION = "00000000-0000-0000-0000-0000000000c1"
DATASET = "00000000-0000-0000-0000-0000000000d2"
ORGANIZATION = "00000000-0000-0000-0000-0000000000e1"
PROJECT = "00000000-0000-0000-0000-0000000000f1"
AUTHOR = "author@example.com"

#: Score the evaluation stand-ins report, per approval id.
_scores: dict[str, float] = {}


@activity.defn(name="begin_approval")
async def begin_approval(inp: BeginApprovalInput) -> BeginApprovalResult:
    return BeginApprovalResult(created=True)


@activity.defn(name="record_approval_check")
async def record_approval_check(inp: RecordEvalCheckInput) -> None:
    return None


@activity.defn(name="record_approval_decision")
async def record_approval_decision(inp: RecordDecisionInput) -> RecordDecisionResult:
    return RecordDecisionResult(
        created=True,
        decision=DecisionRecord(
            reviewer=inp.reviewer,
            decision=inp.decision,
            comment=inp.comment,
            decided_at="2026-11-23T12:00:00+00:00",
        ),
    )


@activity.defn(name="send_approval_reminder")
async def send_approval_reminder(inp: SendReminderInput) -> SendReminderResult:
    return SendReminderResult(channel="log", delivered=True)


@activity.defn(name="finish_approval")
async def finish_approval(inp: FinishApprovalInput) -> FinishApprovalResult:
    after = {"Approved": "Approved", "Expired": "Draft"}.get(inp.status, "Rejected")
    return FinishApprovalResult(changed=True, version_status=after)


@activity.defn(name="plan_evaluation")
async def plan_evaluation(inp: PlanEvaluationInput) -> PlanEvaluationResult:
    return PlanEvaluationResult(total_per_version=2, labels=[])


@activity.defn(name="evaluate_chunk")
async def evaluate_chunk(inp: EvaluateChunkInput) -> EvaluateChunkResult:
    score = _scores[inp.evaluation_id]
    return EvaluateChunkResult(
        prompt_version_id=inp.prompt_version_id,
        done=inp.limit,
        errors=0,
        executed=inp.limit,
        sums={m: MetricSum(total=score * inp.limit, count=inp.limit) for m in inp.metrics},
    )


@activity.defn(name="finalize_evaluation")
async def finalize_evaluation(inp: FinalizeEvaluationInput) -> FinalizeEvaluationResult:
    return FinalizeEvaluationResult(
        status=inp.status,
        summary={
            "versions": [
                {
                    "version_id": VERSION,
                    "n": 2,
                    "metrics": {"exact_match": {"value": _scores[inp.evaluation_id]}},
                }
            ]
        },
    )


ACTIVITIES = [
    begin_approval,
    record_approval_check,
    record_approval_decision,
    send_approval_reminder,
    finish_approval,
    plan_evaluation,
    evaluate_chunk,
    finalize_evaluation,
]


async def _waiting(handle: WorkflowHandle[Any, Any]) -> None:
    for _ in range(600):
        state = await handle.query("status", result_type=ApprovalState)
        if state.phase == "waiting":
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{handle.id} never started waiting for reviews")


async def _decide(
    handle: WorkflowHandle[Any, Any], name: str, reviewer: str, comment: str = ""
) -> None:
    await handle.execute_update(
        name, ReviewInput(reviewer=reviewer, comment=comment), result_type=ApprovalState
    )


async def _run(
    client: Client,
    task_queue: str,
    workflow_id: str,
    policy: ApprovalPolicySnapshot,
    steps: list[tuple[str, str, str]],
) -> None:
    handle = await client.start_workflow(
        ApprovalWorkflow.run,
        ApprovalInput(
            approval_id=workflow_id,
            organization_id=ORGANIZATION,
            project_id=PROJECT,
            prompt_version_id=VERSION,
            author=AUTHOR,
            requested_by=AUTHOR,
            policy=policy,
        ),
        id=workflow_id,
        task_queue=task_queue,
        search_attributes=TypedSearchAttributes([SearchAttributePair(PROMPT_VERSION, VERSION)]),
    )
    if steps:
        await _waiting(handle)
    for name, reviewer, comment in steps:
        await _decide(handle, name, reviewer, comment)
    await handle.result()


async def record(tag: str, *, force: bool = False) -> list[Path]:
    from promptops.devstack.temporal import temporal_binary

    seconds = 1 / 3600  # policy durations are hours
    scenarios: dict[str, tuple[ApprovalPolicySnapshot, list[tuple[str, str, str]]]] = {
        f"approval_approved_{tag}": (
            ApprovalPolicySnapshot(required_approvals=2),
            [("approve", "rev1@example.com", "good"), ("approve", "rev2@example.com", "")],
        ),
        f"approval_rejected_{tag}": (
            ApprovalPolicySnapshot(required_approvals=2),
            [("approve", "rev1@example.com", ""), ("reject", "rev2@example.com", "tone is off")],
        ),
        f"approval_expired_{tag}": (
            ApprovalPolicySnapshot(
                required_approvals=2, deadline_hours=5 * seconds, reminder_hours=2 * seconds
            ),
            [],
        ),
        f"approval_check_passed_{tag}": (
            ApprovalPolicySnapshot(golden_dataset_id=DATASET, min_eval_score=0.7),
            [("approve", "rev1@example.com", "")],
        ),
        f"approval_check_failed_{tag}": (
            ApprovalPolicySnapshot(golden_dataset_id=DATASET, min_eval_score=0.7),
            [],
        ),
    }
    _scores[evaluation_id_for(f"approval_check_passed_{tag}")] = 0.9
    _scores[evaluation_id_for(f"approval_check_failed_{tag}")] = 0.4
    existing = list(HISTORIES.glob(f"*_{tag}.json"))
    if existing and not force:
        raise SystemExit(
            f"histories for tag {tag!r} exist ({len(existing)} files); pick a new "
            "--tag (keep the old histories!) or pass --force"
        )
    HISTORIES.mkdir(parents=True, exist_ok=True)
    written = []
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        search_attributes=[PROMPT_VERSION],
    ) as env:
        task_queue = f"record-{uuid.uuid4().hex[:8]}"
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[ApprovalWorkflow, BatchEvaluationWorkflow],
            activities=ACTIVITIES,
        ):
            for workflow_id, (policy, steps) in scenarios.items():
                await _run(env.client, task_queue, workflow_id, policy, steps)
                ids = [workflow_id]
                if policy.golden_dataset_id:
                    ids.append(evaluation_id_for(workflow_id))
                for wid in ids:
                    history = await env.client.get_workflow_handle(wid).fetch_history()
                    path = HISTORIES / f"{wid}.json"
                    path.write_text(history.to_json() + "\n")
                    written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tag", default="v1", help="suffix of the history files (default v1)")
    parser.add_argument("--force", action="store_true", help="overwrite histories of this tag")
    args = parser.parse_args()
    for path in asyncio.run(record(args.tag, force=args.force)):
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
