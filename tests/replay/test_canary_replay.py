"""Replay stored ``CanaryRolloutWorkflow`` histories against the current workflow code.

A change to the workflow's command sequence (an activity added, a timer moved, continue-as-new
at another point) breaks every rollout already baking when the new worker picks it up; bakes
last hours or days, so there always are some. Such changes must sit behind
``workflow.patched(...)``; these tests fail when they do not.

Histories live in ``tests/replay/histories/canary/`` and are recorded by this module::

    python -m tests.replay.test_canary_replay --record            # tag v1
    python -m tests.replay.test_canary_replay --record --tag v2   # after a patched change

It runs the real workflow on the time-skipping test server (bakes of a day take milliseconds)
with the four activities replaced by same-named stand-ins that answer by scenario (the
deployment id is the scenario name), and stores each run as JSON. A history's workflow id is its
file name up to the first ``.``; ``.run-N`` numbers the runs of a continue-as-new chain. Never
overwrite a committed history: old histories prove new code still replays old executions.

Scenarios (plan: steps 10, 50, 100; bake 1 day; a check every 6 hours):

- ``canary_promoted``: healthy figures, full ramp, Promoted.
- ``canary_rolled_back``: the canary's error rate is 20 points up at the first check.
- ``canary_too_few``: too few canary samples at the end of the first bake.
- ``canary_paused``: paused after 7 h for 3 days, resumed, Promoted.
- ``canary_promote_now``: a refused promote_now (no eval score yet), then one that
  promotes.
- ``canary_aborted``: aborted at the first step.
- ``canary_first``: no baseline, promoted at once.
- ``canary_can``: ``max_checks_per_run=1``, a continue-as-new chain.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker
from temporalio.workflow import NondeterminismError

from activities.deployment.types import (
    ArmFigures,
    ComputeFiguresInput,
    ComputeFiguresResult,
    FinishDeploymentInput,
    FinishDeploymentResult,
    SetStepInput,
    SetStepResult,
    StartDeploymentInput,
    StartDeploymentResult,
)
from workflows.canary.types import (
    CanaryPlan,
    CanaryResult,
    CanaryRolloutInput,
    OperatorInput,
)
from workflows.canary.workflow import CanaryRolloutWorkflow

HISTORIES = Path(__file__).parent / "histories" / "canary"
FILES = sorted(HISTORIES.glob("*.json"))
DAY = 86400
PLAN = CanaryPlan(
    steps=[10.0, 50.0, 100.0], bake_time_s=[DAY, DAY], check_interval_s=6 * 3600, min_samples=20
)


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.name.split(".")[0], path.read_text())


# --------------------------------------------------------------------------- replay tests


def test_the_stored_histories_cover_the_workflow_paths() -> None:
    names = {p.name.split(".")[0].rsplit("_", 1)[0] for p in FILES}
    assert names >= {
        "canary_promoted",
        "canary_rolled_back",
        "canary_too_few",
        "canary_paused",
        "canary_promote_now",
        "canary_aborted",
        "canary_first",
        "canary_can",
    }
    assert any(".run-" in p.name for p in FILES), "a continue-as-new chain"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_history_replays_on_the_current_workflow(path: Path) -> None:
    result = await Replayer(workflows=[CanaryRolloutWorkflow]).replay_workflow(load(path))
    assert result.replay_failure is None


async def test_all_histories_replay_together() -> None:
    async def histories() -> AsyncIterator[WorkflowHistory]:
        for p in FILES:
            yield load(p)

    results = Replayer(workflows=[CanaryRolloutWorkflow]).workflow_replay_iterator(histories())
    async with results as it:
        failures = [r.replay_failure async for r in it if r.replay_failure is not None]
    assert failures == []


@workflow.defn(name="CanaryRolloutWorkflow", sandboxed=False)
class ExtraCheckFirstWorkflow(CanaryRolloutWorkflow):
    """Computes figures before starting the deployment, unguarded: a command change."""

    @workflow.run
    async def run(self, inp: CanaryRolloutInput) -> CanaryResult:
        await workflow.execute_activity(
            "compute_deployment_figures",
            ComputeFiguresInput(deployment_id=inp.deployment_id, window_start="x"),
            start_to_close_timeout=timedelta(minutes=1),
        )
        return await super().run(inp)


@workflow.defn(name="CanaryRolloutWorkflow", sandboxed=False)
class PatchedExtraCheckWorkflow(CanaryRolloutWorkflow):
    """The same change done right: behind ``workflow.patched``."""

    @workflow.run
    async def run(self, inp: CanaryRolloutInput) -> CanaryResult:
        if workflow.patched("pre-start-figures"):
            await workflow.execute_activity(
                "compute_deployment_figures",
                ComputeFiguresInput(deployment_id=inp.deployment_id, window_start="x"),
                start_to_close_timeout=timedelta(minutes=1),
            )
        return await super().run(inp)


async def test_an_unguarded_command_change_fails_replay() -> None:
    with pytest.raises(NondeterminismError):
        await Replayer(workflows=[ExtraCheckFirstWorkflow]).replay_workflow(
            load(HISTORIES / "canary_promoted_v1.json")
        )


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_the_same_change_behind_workflow_patched_replays(path: Path) -> None:
    result = await Replayer(workflows=[PatchedExtraCheckWorkflow]).replay_workflow(load(path))
    assert result.replay_failure is None


# --------------------------------------------------------------------------- recording


def _scenario(deployment_id: str) -> str:
    return deployment_id.rsplit("_", 1)[0]


@activity.defn(name="start_deployment")
async def start_deployment(inp: StartDeploymentInput) -> StartDeploymentResult:
    first = _scenario(inp.deployment_id) == "canary_first"
    return StartDeploymentResult(
        deployment_id=inp.deployment_id,
        project_id="p",
        prompt_id="q",
        environment="prod",
        label="production",
        candidate_version_id="v2",
        baseline_version_id=None if first else "v1",
        status="Running",
    )


@activity.defn(name="set_deployment_step")
async def set_deployment_step(inp: SetStepInput) -> SetStepResult:
    return SetStepResult(changed=True)


@activity.defn(name="compute_deployment_figures")
async def compute_deployment_figures(inp: ComputeFiguresInput) -> ComputeFiguresResult:
    scenario = _scenario(inp.deployment_id)
    canary_n = 4 if scenario == "canary_too_few" else 30
    canary_errors = 6 if scenario == "canary_rolled_back" else 0
    return ComputeFiguresResult(
        baseline=ArmFigures(arm="baseline", n=30, errors=0, error_rate=0.0, p95_latency_ms=200.0),
        canary=ArmFigures(
            arm="canary",
            n=canary_n,
            errors=canary_errors,
            error_rate=canary_errors / canary_n,
            p95_latency_ms=210.0,
        ),
        approval_eval_score=_approval_score(scenario),
    )


#: Figures computed so far per scenario (promote_now: the first gate finds no score).
_calls: dict[str, int] = {}


def _approval_score(scenario: str) -> float | None:
    _calls[scenario] = _calls.get(scenario, 0) + 1
    return None if scenario == "canary_promote_now" and _calls[scenario] == 1 else 0.9


@activity.defn(name="finish_deployment")
async def finish_deployment(inp: FinishDeploymentInput) -> FinishDeploymentResult:
    return FinishDeploymentResult(status=inp.status, changed=True)


async def _wait_step(handle: Any, step: int) -> None:
    for _ in range(600):
        st = await handle.query("status")
        if st["step_index"] == step and st["status"] == "Running":
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{handle.id} never reached step {step}")


async def _drive(
    env: WorkflowEnvironment, client: Client, task_queue: str, workflow_id: str
) -> list[tuple[str, str]]:
    scenario = _scenario(workflow_id)
    inp = CanaryRolloutInput(
        deployment_id=workflow_id,
        plan=PLAN,
        actor="recorder",
        max_checks_per_run=1 if scenario == "canary_can" else 0,
    )
    handle = await client.start_workflow(
        CanaryRolloutWorkflow.run, inp, id=workflow_id, task_queue=task_queue
    )
    if scenario == "canary_paused":
        await _wait_step(handle, 0)
        await env.sleep(timedelta(hours=7))
        await handle.signal("pause", OperatorInput(actor="op", reason="look"))
        await env.sleep(timedelta(days=3))
        await handle.signal("resume", OperatorInput(actor="op"))
    elif scenario == "canary_promote_now":
        await _wait_step(handle, 0)
        with pytest.raises(WorkflowUpdateFailedError):  # no eval score yet: refused
            await handle.execute_update("promote_now", OperatorInput(actor="op"))
        await handle.execute_update("promote_now", OperatorInput(actor="op", reason="hotfix"))
    elif scenario == "canary_aborted":
        await _wait_step(handle, 0)
        await handle.execute_update("abort", OperatorInput(actor="op", reason="wrong prompt"))
    result = await handle.result()
    assert isinstance(result, CanaryResult)
    # Follow the continue-as-new chain from the first run.
    out: list[tuple[str, str]] = []
    run_id: str | None = handle.first_execution_run_id
    runs: list[str] = []
    while run_id:
        runs.append(run_id)
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
        out.append(("", history.to_json()))
    if len(out) == 1:
        return [(workflow_id, out[0][1])]
    return [(f"{workflow_id}.run-{i}", data) for i, (_, data) in enumerate(out, start=1)]


async def record(tag: str, *, force: bool = False) -> list[Path]:
    from promptops.devstack.temporal import temporal_test_server_binary

    existing = list(HISTORIES.glob(f"*_{tag}*.json"))
    if existing and not force:
        raise SystemExit(
            f"histories for tag {tag!r} exist ({len(existing)} files); pick a new "
            "--tag (keep the old histories!) or pass --force"
        )
    HISTORIES.mkdir(parents=True, exist_ok=True)
    scenarios = [
        "canary_promoted",
        "canary_rolled_back",
        "canary_too_few",
        "canary_paused",
        "canary_promote_now",
        "canary_aborted",
        "canary_first",
        "canary_can",
    ]
    written = []
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server_binary()
    )
    try:
        task_queue = f"record-{uuid.uuid4().hex[:8]}"
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[CanaryRolloutWorkflow],
            activities=[
                start_deployment,
                set_deployment_step,
                compute_deployment_figures,
                finish_deployment,
            ],
        ):
            for scenario in scenarios:
                for stem, data in await _drive(env, env.client, task_queue, f"{scenario}_{tag}"):
                    path = HISTORIES / f"{stem}.json"
                    path.write_text(data + "\n")
                    written.append(path)
    finally:
        await env.shutdown()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description="Record CanaryRolloutWorkflow histories.")
    parser.add_argument("--record", action="store_true", help="record (required)")
    parser.add_argument("--tag", default="v1", help="suffix of the history files (default v1)")
    parser.add_argument("--force", action="store_true", help="overwrite histories of this tag")
    args = parser.parse_args()
    if not args.record:
        parser.error("pass --record to record histories")
    for path in asyncio.run(record(args.tag, force=args.force)):
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
