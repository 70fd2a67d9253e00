"""Replay stored ``ApprovalWorkflow`` histories (and the ``BatchEvaluationWorkflow`` children of
its golden-set checks) against the current workflow code.

Any change to the approval workflow's command sequence (activities, timers, the child
evaluation, the order of the finish) breaks approvals already waiting for reviewers, some of them
for days; such a change must sit behind ``workflow.patched(...)``. Histories are recorded with
``python -m tests.replay.record_approval_history`` and never re-recorded for an existing tag.

No server needed: the Replayer runs the histories in-process.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from workflows.approval.types import ApprovalInput, ApprovalResult
from workflows.approval.workflow import ApprovalWorkflow
from workflows.evaluation.workflow import BatchEvaluationWorkflow

HISTORIES = Path(__file__).parent / "histories" / "approval"
FILES = sorted(HISTORIES.glob("*.json"))
APPROVALS = [p for p in FILES if p.name.startswith("approval_")]


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.name.split(".")[0], path.read_text())


def test_the_stored_histories_cover_the_workflow_paths() -> None:
    names = {p.stem for p in FILES}
    for outcome in ("approved", "rejected", "expired", "check_passed", "check_failed"):
        assert f"approval_{outcome}_v1" in names
    assert "eval-approval_check_passed_v1" in names, "a child evaluation"
    expired = (HISTORIES / "approval_expired_v1.json").read_text()
    assert expired.count('"send_approval_reminder"') == 2, "reminders before the expiry"
    approved = (HISTORIES / "approval_approved_v1.json").read_text()
    assert approved.count("EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED") == 2


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_history_replays_on_the_current_workflows(path: Path) -> None:
    result = await Replayer(workflows=[ApprovalWorkflow, BatchEvaluationWorkflow]).replay_workflow(
        load(path)
    )
    assert result.replay_failure is None


# --- Proof that the replay tests bite -------------------------------------------------------


@workflow.defn(name="ApprovalWorkflow", sandboxed=False)
class NotifyFirstWorkflow(ApprovalWorkflow):
    """Schedules a new activity before ``begin_approval``, unguarded."""

    @workflow.run
    async def run(self, inp: ApprovalInput) -> ApprovalResult:
        await workflow.execute_activity(
            "notify_reviewers", inp.approval_id, start_to_close_timeout=timedelta(minutes=1)
        )
        return await super().run(inp)


@workflow.defn(name="ApprovalWorkflow", sandboxed=False)
class PatchedNotifyFirstWorkflow(ApprovalWorkflow):
    """The same change behind ``workflow.patched``: old histories still replay."""

    @workflow.run
    async def run(self, inp: ApprovalInput) -> ApprovalResult:
        if workflow.patched("notify-reviewers-first"):
            await workflow.execute_activity(
                "notify_reviewers", inp.approval_id, start_to_close_timeout=timedelta(minutes=1)
            )
        return await super().run(inp)


@pytest.mark.parametrize("path", APPROVALS, ids=[p.stem for p in APPROVALS])
async def test_an_unguarded_command_change_fails_replay(path: Path) -> None:
    with pytest.raises(NondeterminismError):
        await Replayer(workflows=[NotifyFirstWorkflow, BatchEvaluationWorkflow]).replay_workflow(
            load(path)
        )


@pytest.mark.parametrize("path", APPROVALS, ids=[p.stem for p in APPROVALS])
async def test_the_same_change_behind_workflow_patched_replays(path: Path) -> None:
    result = await Replayer(
        workflows=[PatchedNotifyFirstWorkflow, BatchEvaluationWorkflow]
    ).replay_workflow(load(path))
    assert result.replay_failure is None
