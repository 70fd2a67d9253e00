"""``RunRollupFoldWorkflow``: one fold of the run rollups.

Runs the single activity ``fold_run_rollups`` (move the delta rows the ``runs`` triggers
appended into ``run_rollups``, one transaction). Started every ``rollup_fold_interval_s``
seconds by the Temporal Schedule ``run-rollup-fold`` (overlap SKIP: a long fold, after the
worker was down for a while, is never stacked). The dashboard does not wait for it: its reads
add the deltas not folded yet, so the fold bounds how much they have to add, not freshness.
Deterministic: all I/O is in the activity.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.retry_policies import ROLLUP_FOLD
    from activities.rollups.declarations import fold_run_rollups
    from activities.rollups.types import FoldRunRollupsInput
    from workflows.rollups.types import RunRollupFoldInput, RunRollupFoldResult

#: A minute of deltas folds in milliseconds; a backlog of a million (the worker down for days
#: of heavy traffic) in about 15 s on two cores.
ACTIVITY_TIMEOUT = timedelta(minutes=10)


@workflow.defn
class RunRollupFoldWorkflow:
    @workflow.run
    async def run(self, inp: RunRollupFoldInput) -> RunRollupFoldResult:
        result = await workflow.execute_activity(
            fold_run_rollups,
            FoldRunRollupsInput(),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ROLLUP_FOLD,
        )
        return RunRollupFoldResult(moved=result.moved)
