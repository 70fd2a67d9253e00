"""Record ``BatchEvaluationWorkflow`` histories for the replay tests.

    python -m tests.replay.record_history            # writes tests/replay/histories/*_v1*.json
    python -m tests.replay.record_history --tag v2   # after a deliberate, patched change

Runs the real workflow on a local Temporal dev server with the three activities replaced by
same-named stand-ins returning canned results (no database, no LLM), and stores each run's
history as JSON (``WorkflowHistory.to_json()``). The workflow id of a history is its file name
up to the first ``.``; ``--run-N`` suffixes number the runs of one continue-as-new chain.

Scenarios (2 prompt versions x 4 examples, chunk_size 2, so 4 chunk activities):

- ``batch_evaluation_<tag>``: completes.
- ``batch_evaluation_can_<tag>``: ``chunks_per_run=1``, one chunk per run, 4 runs.
- ``batch_evaluation_cancelled_<tag>``: cancelled while the 2nd chunk runs; the chunk heartbeats
  until it sees the cancel, the workflow finalizes as Cancelled.
- ``batch_evaluation_cancelled_late_<tag>``: cancelled while the 2nd chunk runs, which ignores it
  and completes anyway (its result still counts), then Cancelled.
- ``batch_evaluation_failed_<tag>``: the 3rd chunk fails non-retryably; finalized as Failed.

Never overwrite a committed history (the script refuses without ``--force``): old histories are
what proves a new workflow version still replays the executions already running.

Tags: ``v0`` was recorded once (same scenarios, this script's stand-ins) from the workflow as it
was before the ``evaluate-chunk-wait-cancellation`` patch: the chunk activity was cancelled with
TRY_CANCEL, ``BatchEvaluationInput`` had no ``heartbeat_timeout_s``. It cannot be re-recorded
from the current code. ``v1`` is the current workflow.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from pathlib import Path

from temporalio import activity
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.evaluation.types import (
    EvaluateChunkInput,
    EvaluateChunkResult,
    FinalizeEvaluationInput,
    FinalizeEvaluationResult,
    MetricSum,
    PlanEvaluationInput,
    PlanEvaluationResult,
)
from workflows.evaluation.types import BatchEvaluationInput
from workflows.evaluation.workflow import DATASET_ID, EVAL_ID, BatchEvaluationWorkflow

HISTORIES = Path(__file__).parent / "histories"
VERSIONS = ["00000000-0000-0000-0000-0000000000a1", "00000000-0000-0000-0000-0000000000a2"]
DATASET = "00000000-0000-0000-0000-0000000000d1"
EXAMPLES = 4
CHUNK_SIZE = 2

# Set by the chunk stand-in when the chunk a cancel scenario waits for has started.
_chunk_started: dict[str, asyncio.Event] = {}


@activity.defn(name="plan_evaluation")
async def plan_evaluation(inp: PlanEvaluationInput) -> PlanEvaluationResult:
    return PlanEvaluationResult(total_per_version=EXAMPLES, labels=[])


@activity.defn(name="evaluate_chunk")
async def evaluate_chunk(inp: EvaluateChunkInput) -> EvaluateChunkResult:
    scenario = inp.evaluation_id
    if "cancelled" in scenario and inp.offset == CHUNK_SIZE:
        _chunk_started[scenario].set()
        if "late" in scenario:
            # Ignores the cancel (no heartbeat) and completes: the workflow must still count it.
            await asyncio.sleep(1)  # < heartbeat_timeout_s, so it does not time out
        else:
            while True:  # heartbeats until the cancel arrives (CancelledError)
                activity.heartbeat()
                await asyncio.sleep(0.1)
    if "failed" in scenario and inp.prompt_version_id == VERSIONS[1] and inp.offset == 0:
        raise ApplicationError("canned failure", type="InvalidInput", non_retryable=True)
    return EvaluateChunkResult(
        prompt_version_id=inp.prompt_version_id,
        done=inp.limit,
        errors=0,
        executed=inp.limit,
        sums={
            "token_f1": MetricSum(total=0.5 * inp.limit, count=inp.limit),
            "latency_ms": MetricSum(total=10.0 * inp.limit, count=inp.limit),
        },
    )


@activity.defn(name="finalize_evaluation")
async def finalize_evaluation(inp: FinalizeEvaluationInput) -> FinalizeEvaluationResult:
    return FinalizeEvaluationResult(
        status=inp.status,
        summary={"versions": [{"version_id": v, "n": EXAMPLES} for v in VERSIONS]},
    )


def _input(workflow_id: str, **kwargs: object) -> BatchEvaluationInput:
    return BatchEvaluationInput(
        evaluation_id=workflow_id,
        prompt_version_ids=VERSIONS,
        dataset_id=DATASET,
        metrics=["token_f1", "latency_ms"],
        concurrency=2,
        chunk_size=CHUNK_SIZE,
        heartbeat_timeout_s=2,
        **kwargs,
    )  # type: ignore[arg-type]


async def _record(
    client: Client, task_queue: str, workflow_id: str, **kwargs: object
) -> list[tuple[str, str]]:
    """Run one scenario; return ``(file stem, history json)`` of each of its runs."""
    if "cancelled" in workflow_id:
        _chunk_started[workflow_id] = asyncio.Event()
    handle = await client.start_workflow(
        BatchEvaluationWorkflow.run,
        _input(workflow_id, **kwargs),
        id=workflow_id,
        task_queue=task_queue,
        search_attributes=TypedSearchAttributes(
            [SearchAttributePair(EVAL_ID, workflow_id), SearchAttributePair(DATASET_ID, DATASET)]
        ),
    )
    if "cancelled" in workflow_id:
        await asyncio.wait_for(_chunk_started[workflow_id].wait(), 30)
        await handle.cancel()
    try:
        await handle.result()
    except WorkflowFailureError:
        pass  # cancelled / failed scenarios end that way on purpose
    runs = [wf.run_id async for wf in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    runs.reverse()  # oldest first
    out = []
    for i, rid in enumerate(runs, start=1):
        history = await client.get_workflow_handle(workflow_id, run_id=rid).fetch_history()
        stem = workflow_id if len(runs) == 1 else f"{workflow_id}.run-{i}"
        out.append((stem, history.to_json()))
    return out


async def record(tag: str, *, force: bool = False) -> list[Path]:
    from promptops.devstack.temporal import temporal_binary

    scenarios: dict[str, dict[str, object]] = {
        f"batch_evaluation_{tag}": {},
        f"batch_evaluation_can_{tag}": {"chunks_per_run": 1},
        f"batch_evaluation_cancelled_{tag}": {},
        f"batch_evaluation_cancelled_late_{tag}": {},
        f"batch_evaluation_failed_{tag}": {},
    }
    existing = [p for p in HISTORIES.glob(f"*_{tag}*.json")]
    if existing and not force:
        raise SystemExit(
            f"histories for tag {tag!r} exist ({len(existing)} files); pick a new "
            "--tag (keep the old histories!) or pass --force"
        )
    HISTORIES.mkdir(parents=True, exist_ok=True)
    written = []
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        search_attributes=[EVAL_ID, DATASET_ID],
    ) as env:
        task_queue = f"record-{uuid.uuid4().hex[:8]}"
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[BatchEvaluationWorkflow],
            activities=[plan_evaluation, evaluate_chunk, finalize_evaluation],
        ):
            for workflow_id, kwargs in scenarios.items():
                for stem, data in await _record(env.client, task_queue, workflow_id, **kwargs):
                    path = HISTORIES / f"{stem}.json"
                    path.write_text(data + "\n")
                    written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", default="v1", help="suffix of the history files (default v1)")
    parser.add_argument("--force", action="store_true", help="overwrite histories of this tag")
    args = parser.parse_args()
    for path in asyncio.run(record(args.tag, force=args.force)):
        print(
            f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}"
            f" ({path.stat().st_size} bytes)"
        )


if __name__ == "__main__":
    main()
