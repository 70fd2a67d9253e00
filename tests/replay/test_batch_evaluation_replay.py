"""Replay stored ``BatchEvaluationWorkflow`` histories against the current workflow code.

A change to the workflow's command sequence (activities added, removed or reordered, timers,
continue-as-new at another point) breaks every execution already running when the new worker
picks them up. Such changes must be guarded with ``workflow.patched(...)``; these tests fail
when they are not. Histories are recorded with ``python -m tests.replay.record_history`` and
are never re-recorded for an existing tag: new tags are added next to the old ones.

Tags: ``v0`` histories come from the workflow before the ``evaluate-chunk-wait-cancellation``
patch (cancelling a chunk did not wait for it), ``v1`` from the current one; a cancelled ``v0``
history replays only because that change sits behind ``workflow.patched``.

No server needed: the Replayer runs the histories in-process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from activities.evaluation.types import FinalizeEvaluationResult
from workflows.evaluation.types import BatchEvaluationInput
from workflows.evaluation.workflow import BatchEvaluationWorkflow

HISTORIES = Path(__file__).parent / "histories"
FILES = sorted(HISTORIES.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    # The workflow id is the file name up to the first "." (".run-N" numbers continue-as-new runs).
    return WorkflowHistory.from_json(path.name.split(".")[0], path.read_text())


def test_the_stored_histories_cover_the_workflow_paths() -> None:
    names = {p.name for p in FILES}
    assert "batch_evaluation_v1.json" in names
    assert any(".run-" in n for n in names), "a continue-as-new chain"
    assert any("cancelled" in n for n in names) and any("failed" in n for n in names)
    assert "batch_evaluation_cancelled_v0.json" in names, "a pre-patch cancellation"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_history_replays_on_the_current_workflow(path: Path) -> None:
    result = await Replayer(workflows=[BatchEvaluationWorkflow]).replay_workflow(load(path))
    assert result.replay_failure is None


async def test_all_histories_replay_together() -> None:
    """What a CI step would run: every history in one Replayer (one worker, shared cache)."""
    results = Replayer(workflows=[BatchEvaluationWorkflow]).workflow_replay_iterator(
        _iterate(FILES)
    )
    async with results as it:
        failures = [r.replay_failure async for r in it if r.replay_failure is not None]
    assert failures == []


async def _iterate(paths: list[Path]) -> AsyncIterator[WorkflowHistory]:
    for p in paths:
        yield load(p)


# --- Proof that the replay tests bite -------------------------------------------------------
#
# Deliberately changed copies of the workflow, registered under the same workflow type name.
# They are defined here (unsandboxed: the sandbox would re-import this test module).


@workflow.defn(name="BatchEvaluationWorkflow", sandboxed=False)
class WarmUpFirstWorkflow(BatchEvaluationWorkflow):
    """Schedules a new activity before the plan, unguarded: a command-sequence change."""

    @workflow.run
    async def run(self, inp: BatchEvaluationInput) -> FinalizeEvaluationResult:
        await workflow.execute_activity(
            "warm_up_gateway", inp.evaluation_id, start_to_close_timeout=timedelta(minutes=1)
        )
        return await super().run(inp)


@workflow.defn(name="BatchEvaluationWorkflow", sandboxed=False)
class SleepFirstWorkflow(BatchEvaluationWorkflow):
    """Adds a timer before the plan, unguarded."""

    @workflow.run
    async def run(self, inp: BatchEvaluationInput) -> FinalizeEvaluationResult:
        await asyncio.sleep(1)
        return await super().run(inp)


@workflow.defn(name="BatchEvaluationWorkflow", sandboxed=False)
class PatchedWarmUpWorkflow(BatchEvaluationWorkflow):
    """The same change as :class:`WarmUpFirstWorkflow`, done right: behind ``workflow.patched``."""

    @workflow.run
    async def run(self, inp: BatchEvaluationInput) -> FinalizeEvaluationResult:
        if workflow.patched("warm-up-gateway"):
            await workflow.execute_activity(
                "warm_up_gateway", inp.evaluation_id, start_to_close_timeout=timedelta(minutes=1)
            )
        return await super().run(inp)


@pytest.mark.parametrize("changed", [WarmUpFirstWorkflow, SleepFirstWorkflow])
async def test_an_unguarded_command_change_fails_replay(changed: type) -> None:
    history = load(HISTORIES / "batch_evaluation_v1.json")
    with pytest.raises(NondeterminismError):
        await Replayer(workflows=[changed]).replay_workflow(history)


async def test_an_unguarded_change_fails_replay_of_a_continued_run() -> None:
    # A run that started from continue-as-new state also starts with the changed command.
    history = load(HISTORIES / "batch_evaluation_can_v1.run-2.json")
    with pytest.raises(NondeterminismError):
        await Replayer(workflows=[WarmUpFirstWorkflow]).replay_workflow(history)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_the_same_change_behind_workflow_patched_replays(path: Path) -> None:
    result = await Replayer(workflows=[PatchedWarmUpWorkflow]).replay_workflow(load(path))
    assert result.replay_failure is None
