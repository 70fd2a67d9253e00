"""ApprovalWorkflow on the time-skipping test server.

Most tests replace the activities with same-named in-memory stand-ins (the workflow's logic:
updates and their validators, the deadline and reminders over simulated days, the evaluation
check through a real ``BatchEvaluationWorkflow`` child with canned evaluation activities). The
last test runs the real activities against Postgres through the API: a deadline expiry over
three simulated days returns the version to Draft, with the reminders POSTed to a webhook.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Self

import httpx
import pytest
from sqlalchemy import select
from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
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
from promptops.db.models import AuditLog, Role
from promptops.db.session import get_session_factory
from promptops.llm import ModelCatalog
from workflows.approval.types import (
    ALREADY_DECIDED,
    NOT_A_REVIEWER,
    NOT_WAITING,
    OWN_VERSION,
    ApprovalInput,
    ApprovalPolicySnapshot,
    ApprovalResult,
    ApprovalState,
    ReviewInput,
)
from workflows.approval.workflow import ApprovalWorkflow, candidate_score
from workflows.evaluation.workflow import BatchEvaluationWorkflow

VERSION = "00000000-0000-0000-0000-0000000000b1"
AUTHOR = "author@example.com"


@dataclass
class Recorder:
    """In-memory stand-ins for the approval and evaluation activities."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    decisions: dict[str, DecisionRecord] = field(default_factory=dict)
    eval_value: float = 0.9
    finished: list[FinishApprovalInput] = field(default_factory=list)
    reminders: list[SendReminderInput] = field(default_factory=list)
    decision_delay_s: float = 0.0

    def activities(self) -> list[Callable[..., Any]]:
        rec = self

        @activity.defn(name="begin_approval")
        async def begin_approval(inp: BeginApprovalInput) -> BeginApprovalResult:
            rec.calls.append(("begin", inp))
            return BeginApprovalResult(created=True, decisions=[])

        @activity.defn(name="record_approval_check")
        async def record_approval_check(inp: RecordEvalCheckInput) -> None:
            rec.calls.append(("check", inp))

        @activity.defn(name="record_approval_decision")
        async def record_approval_decision(inp: RecordDecisionInput) -> RecordDecisionResult:
            if rec.decision_delay_s:
                await asyncio.sleep(rec.decision_delay_s)
            rec.calls.append(("decision", inp))
            created = inp.reviewer not in rec.decisions
            if created:
                rec.decisions[inp.reviewer] = DecisionRecord(
                    reviewer=inp.reviewer,
                    decision=inp.decision,
                    comment=inp.comment,
                    decided_at="2026-11-24T10:00:00+00:00",
                )
            return RecordDecisionResult(created=created, decision=rec.decisions[inp.reviewer])

        @activity.defn(name="send_approval_reminder")
        async def send_approval_reminder(inp: SendReminderInput) -> SendReminderResult:
            rec.reminders.append(inp)
            return SendReminderResult(channel="log", delivered=True)

        @activity.defn(name="finish_approval")
        async def finish_approval(inp: FinishApprovalInput) -> FinishApprovalResult:
            rec.finished.append(inp)
            after = {"Approved": "Approved", "Expired": "Draft"}.get(inp.status, "Rejected")
            return FinishApprovalResult(changed=True, version_status=after)

        @activity.defn(name="plan_evaluation")
        async def plan_evaluation(inp: PlanEvaluationInput) -> PlanEvaluationResult:
            rec.calls.append(("plan_evaluation", inp))
            return PlanEvaluationResult(total_per_version=4, labels=[])

        @activity.defn(name="evaluate_chunk")
        async def evaluate_chunk(inp: EvaluateChunkInput) -> EvaluateChunkResult:
            return EvaluateChunkResult(
                prompt_version_id=inp.prompt_version_id,
                done=inp.limit,
                errors=0,
                executed=inp.limit,
                sums={
                    m: MetricSum(total=rec.eval_value * inp.limit, count=inp.limit)
                    for m in inp.metrics
                },
            )

        @activity.defn(name="finalize_evaluation")
        async def finalize_evaluation(inp: FinalizeEvaluationInput) -> FinalizeEvaluationResult:
            return FinalizeEvaluationResult(
                status=inp.status,
                summary={
                    "versions": [
                        {
                            "version_id": VERSION,
                            "n": 4,
                            "metrics": {"exact_match": {"value": rec.eval_value}},
                        }
                    ]
                },
            )

        return [
            begin_approval,
            record_approval_check,
            record_approval_decision,
            send_approval_reminder,
            finish_approval,
            plan_evaluation,
            evaluate_chunk,
            finalize_evaluation,
        ]


@asynccontextmanager
async def approval_worker(
    env: WorkflowEnvironment, task_queue: str, rec: Recorder
) -> AsyncIterator[Client]:
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[ApprovalWorkflow, BatchEvaluationWorkflow],
        activities=rec.activities(),
    ):
        yield env.client


async def start(client: Client, task_queue: str, **policy: Any) -> WorkflowHandle[Any, Any]:
    approval_id = f"approval-{uuid.uuid4().hex[:12]}"
    return await client.start_workflow(
        ApprovalWorkflow.run,
        ApprovalInput(
            approval_id=approval_id,
            organization_id=str(uuid.uuid4()),
            project_id=str(uuid.uuid4()),
            prompt_version_id=VERSION,
            author=AUTHOR,
            requested_by=AUTHOR,
            policy=ApprovalPolicySnapshot(**policy),
        ),
        id=approval_id,
        task_queue=task_queue,
    )


async def wait_phase(
    handle: WorkflowHandle[Any, Any], phase: str, timeout_s: float = 20
) -> ApprovalState:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        state: ApprovalState = await handle.query("status", result_type=ApprovalState)
        if state.phase == phase:
            return state
        if loop.time() > deadline:
            raise TimeoutError(f"phase {state.phase}, wanted {phase}")
        await asyncio.sleep(0.05)


async def update(
    handle: WorkflowHandle[Any, Any], name: str, reviewer: str, comment: str = ""
) -> ApprovalState:
    state: ApprovalState = await handle.execute_update(
        name, ReviewInput(reviewer=reviewer, comment=comment), result_type=ApprovalState
    )
    return state


async def refused(
    handle: WorkflowHandle[Any, Any], name: str, reviewer: str, comment: str = ""
) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await update(handle, name, reviewer, comment)
    assert isinstance(err.value.cause, ApplicationError)
    return err.value.cause


async def test_two_distinct_reviewers_approve(
    temporal_ts_env: WorkflowEnvironment, task_queue: str
) -> None:
    rec = Recorder()
    async with approval_worker(temporal_ts_env, task_queue, rec) as client:
        handle = await start(client, task_queue, required_approvals=2)
        state = await wait_phase(handle, "waiting")
        assert state.status == "Pending" and state.required_approvals == 2
        state = await update(handle, "approve", "Rev1@Example.com ", "looks good")
        assert state.approvals == 1 and state.phase == "waiting"
        assert state.decisions[0].reviewer == "rev1@example.com"
        # The same reviewer again (any spelling): refused by the validator, nothing recorded.
        err = await refused(handle, "approve", "rev1@example.com")
        assert err.type == ALREADY_DECIDED and "already approved" in err.message
        assert len([c for c in rec.calls if c[0] == "decision"]) == 1
        state = await update(handle, "approve", "rev2@example.com")
        assert state.approvals == 2 and state.status == "Approved"
        result: ApprovalResult = await handle.result()
    assert result.status == "Approved" and result.version_status == "Approved"
    assert "rev1@example.com" in result.reason and "rev2@example.com" in result.reason
    assert rec.finished[0].status == "Approved" and rec.finished[0].approvals == 2
    assert rec.reminders == []


async def test_validators_refuse_author_outsiders_and_closed_approvals(
    temporal_ts_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    rec = Recorder()
    async with approval_worker(temporal_ts_env, task_queue, rec) as client:
        handle = await start(client, task_queue, reviewers=["lead@example.com", AUTHOR])
        await wait_phase(handle, "waiting")
        err = await refused(handle, "approve", AUTHOR.upper())
        assert err.type == OWN_VERSION and "author" in err.message
        err = await refused(handle, "approve", "outsider@example.com")
        assert err.type == NOT_A_REVIEWER and "lead@example.com" in err.message
        err = await refused(handle, "reject", "lead@example.com", "  ")
        assert err.type == "InvalidReview" and "comment" in err.message
        assert not [c for c in rec.calls if c[0] == "decision"]
        state = await update(handle, "approve", "lead@example.com")
        assert state.status == "Approved"
        await handle.result()
        # Closed: the workflow has ended, so the server refuses the update itself.
        with pytest.raises(Exception):  # noqa: B017 - RPCError (workflow completed)
            await update(handle, "reject", "late@example.com", "too late")


async def test_one_rejection_rejects(temporal_ts_env: WorkflowEnvironment, task_queue: str) -> None:
    rec = Recorder()
    async with approval_worker(temporal_ts_env, task_queue, rec) as client:
        handle = await start(client, task_queue, required_approvals=2)
        await wait_phase(handle, "waiting")
        await update(handle, "approve", "rev1@example.com")
        state = await update(handle, "reject", "rev2@example.com", "tone is off")
        assert state.status == "Rejected"
        result: ApprovalResult = await handle.result()
    assert result.status == "Rejected" and result.version_status == "Rejected"
    assert result.reason == "rejected by rev2@example.com: tone is off"
    assert [d.decision for d in result.decisions] == ["approve", "reject"]


async def test_deadline_expires_over_simulated_days_with_reminders(
    temporal_ts_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    rec = Recorder()
    async with approval_worker(temporal_ts_env, task_queue, rec) as client:
        handle = await start(
            client, task_queue, required_approvals=2, deadline_hours=72, reminder_hours=24
        )
        await wait_phase(handle, "waiting")
        await update(handle, "approve", "rev1@example.com")
        result: ApprovalResult = await handle.result()  # the test server skips the 3 days
        desc = await handle.describe()
    assert desc.close_time is not None
    waited = desc.close_time - desc.start_time
    assert result.status == "Expired" and result.version_status == "Draft"
    assert "no decision within 72 h (1/2 approvals)" == result.reason
    assert timedelta(hours=71) < waited < timedelta(hours=73)
    # Reminders at 24 h and 48 h; none at the deadline itself.
    assert [r.reminder for r in rec.reminders] == [1, 2]
    assert rec.reminders[0].approvals == 1 and rec.reminders[0].decided == ["rev1@example.com"]
    assert result.reminders_sent == 2
    assert rec.finished[0].status == "Expired"


async def test_evaluation_check_below_minimum_fails_the_approval(
    temporal_ts_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    rec = Recorder(eval_value=0.5)
    dataset = str(uuid.uuid4())
    async with approval_worker(temporal_ts_env, task_queue, rec) as client:
        handle = await start(client, task_queue, golden_dataset_id=dataset, min_eval_score=0.7)
        result: ApprovalResult = await handle.result()
    assert result.status == "CheckFailed" and result.version_status == "Rejected"
    assert result.eval_score == pytest.approx(0.5)
    assert result.evaluation_id == f"eval-{handle.id}"
    assert "0.500" in result.reason and "below the minimum 0.70" in result.reason
    plan = next(c[1] for c in rec.calls if c[0] == "plan_evaluation")
    assert plan.dataset_id == dataset and plan.metrics == ["exact_match"]
    check = next(c[1] for c in rec.calls if c[0] == "check")
    assert check.passed is False and check.eval_score == pytest.approx(0.5)
    assert rec.finished[0].status == "CheckFailed"


async def test_evaluation_check_passing_then_decisions_open(
    temporal_ts_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    rec = Recorder(eval_value=0.8)
    async with approval_worker(temporal_ts_env, task_queue, rec) as client:
        handle = await start(client, task_queue, golden_dataset_id=str(uuid.uuid4()))
        state = await wait_phase(handle, "waiting")
        assert state.eval_score == pytest.approx(0.8) and state.min_eval_score == 0.7
        await update(handle, "approve", "rev1@example.com")
        result: ApprovalResult = await handle.result()
    assert result.status == "Approved" and result.eval_score == pytest.approx(0.8)


async def test_decisions_are_refused_while_checking(
    temporal_ts_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    rec = Recorder()
    gate = asyncio.Event()
    acts = rec.activities()

    @activity.defn(name="plan_evaluation")
    async def slow_plan(inp: PlanEvaluationInput) -> PlanEvaluationResult:
        await gate.wait()
        return PlanEvaluationResult(total_per_version=1, labels=[])

    acts = [
        a for a in acts if getattr(a, "__temporal_activity_definition").name != "plan_evaluation"
    ] + [slow_plan]
    async with Worker(
        temporal_ts_env.client,
        task_queue=task_queue,
        workflows=[ApprovalWorkflow, BatchEvaluationWorkflow],
        activities=acts,
    ):
        handle = await start(
            temporal_ts_env.client, task_queue, golden_dataset_id=str(uuid.uuid4())
        )
        await wait_phase(handle, "checking")
        err = await refused(handle, "approve", "rev1@example.com")
        assert err.type == NOT_WAITING and "evaluation check" in err.message
        gate.set()
        await wait_phase(handle, "waiting")
        await update(handle, "approve", "rev1@example.com")
        assert (await handle.result()).status == "Approved"


async def test_a_failed_evaluation_fails_the_check(
    temporal_ts_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    rec = Recorder()

    @activity.defn(name="plan_evaluation")
    async def missing_dataset(inp: PlanEvaluationInput) -> PlanEvaluationResult:
        raise ApplicationError(
            f"dataset {inp.dataset_id} not found", type="NotFound", non_retryable=True
        )

    acts = [
        a
        for a in rec.activities()
        if getattr(a, "__temporal_activity_definition").name != "plan_evaluation"
    ] + [missing_dataset]
    async with Worker(
        temporal_ts_env.client,
        task_queue=task_queue,
        workflows=[ApprovalWorkflow, BatchEvaluationWorkflow],
        activities=acts,
    ):
        handle = await start(
            temporal_ts_env.client, task_queue, golden_dataset_id=str(uuid.uuid4())
        )
        result: ApprovalResult = await handle.result()
    assert result.status == "CheckFailed" and result.eval_score is None
    assert "failed" in result.reason and "not found" in result.reason


async def test_concurrent_decisions_of_one_reviewer_record_once(
    temporal_ts_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    rec = Recorder(decision_delay_s=0.3)
    async with approval_worker(temporal_ts_env, task_queue, rec) as client:
        handle = await start(client, task_queue, required_approvals=2)
        await wait_phase(handle, "waiting")
        outcomes = await asyncio.gather(
            update(handle, "approve", "rev1@example.com"),
            update(handle, "approve", "rev1@example.com"),
            return_exceptions=True,
        )
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(errors) == 1 and isinstance(errors[0], WorkflowUpdateFailedError)
        assert errors[0].cause.type == ALREADY_DECIDED  # type: ignore[attr-defined]
        state = await handle.query("status", result_type=ApprovalState)
        assert state.approvals == 1 and len(state.decisions) == 1
        await handle.terminate("test over")


def test_candidate_score_reads_the_version_metric() -> None:
    summary = {
        "versions": [
            {"version_id": "a", "metrics": {"exact_match": {"value": 0.25}}},
            {"version_id": "b", "metrics": {}},
        ]
    }
    assert candidate_score(summary, "a", "exact_match") == 0.25
    assert candidate_score(summary, "b", "exact_match") is None
    assert candidate_score({}, "a", "exact_match") is None


async def test_reminder_webhook_failures_retry_then_give_up_with_one_audit_entry(
    pg_url: str,
) -> None:
    from temporalio.testing import ActivityEnvironment

    from activities.approval.activities import ApprovalActivities
    from tests.support.apps import issue_key

    org = (await issue_key(pg_url)).organization_id
    hits: list[dict[str, Any]] = []

    def failing(request: httpx.Request) -> httpx.Response:
        hits.append(json.loads(request.content))
        return httpx.Response(503)

    acts = ApprovalActivities(
        pg_url, webhook_url="http://hooks.invalid/approvals", transport=httpx.MockTransport(failing)
    )
    approval_id = f"approval-{uuid.uuid4().hex}"
    inp = SendReminderInput(
        approval_id=approval_id,
        organization_id=str(org),
        project_id=str(uuid.uuid4()),
        prompt_version_id=VERSION,
        reminder=1,
        deadline_at="2026-11-26T10:00:00+00:00",
        approvals=0,
        required_approvals=1,
    )
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError, match="webhook failed"):
        await env.run(acts.send_approval_reminder, inp)  # attempt 1: Temporal retries
    env.info = dataclasses.replace(env.info, attempt=3)
    result = await env.run(acts.send_approval_reminder, inp)  # the last attempt gives up
    assert result.channel == "webhook" and result.delivered is False
    again = await env.run(acts.send_approval_reminder, inp)  # a retry after a crash
    assert again.delivered is False
    assert len(hits) == 3 and hits[0]["event"] == "approval.reminder"
    async with get_session_factory(pg_url)() as session:
        entries = list(
            (
                await session.execute(
                    select(AuditLog.after).where(AuditLog.entity_id == approval_id)
                )
            ).scalars()
        )
    assert len(entries) == 1 and entries[0]["delivered"] is False


# --- real activities, real Postgres, through the API on the time-skipping server ----------


class WebhookReceiver:
    """A tiny HTTP server that records JSON POST bodies."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self._server: asyncio.base_events.Server | None = None
        self.url = ""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.decode().split("\r\n"):
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        body = await reader.readexactly(length)
        self.bodies.append(json.loads(body))
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hooks/approvals"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


async def test_expiry_through_the_api_returns_the_version_to_draft(
    temporal_ts_env: WorkflowEnvironment,
    pg_url: str,
    catalog: ModelCatalog,
    task_queue: str,
) -> None:
    from api.main import create_app
    from tests.support.apps import RunningApp, issue_key, test_settings
    from workers.main import build_worker

    suffix = uuid.uuid4().hex[:8]
    admin = await issue_key(pg_url)
    author = await issue_key(pg_url, email=f"author-{suffix}@example.com", role=Role.EDITOR)
    reviewer = await issue_key(pg_url, email=f"rev-{suffix}@example.com", role=Role.EDITOR)
    # The time-skipping server knows no custom search attributes.
    app = create_app(
        test_settings(task_queue, PROMPTOPS_SEARCH_ATTRIBUTES="false"),
        database_url=pg_url,
        catalog=catalog,
    )
    async with app.router.lifespan_context(app), WebhookReceiver() as hook:
        app.state.temporal = temporal_ts_env.client
        running = RunningApp(app)
        async with (
            running.client(admin.key) as api,
            running.client(author.key) as by_author,
            running.client(reviewer.key) as by_reviewer,
        ):
            project = (await api.post("/projects", json={"name": f"exp-{suffix}"})).json()
            prompt = (
                await api.post(f"/projects/{project['id']}/prompts", json={"name": "p"})
            ).json()
            r = await api.put(
                f"/projects/{project['id']}/approval_policy",
                json={
                    "required_approvals": 2,
                    "deadline_hours": 72,
                    "reminder_hours": 24,
                    "webhook_url": hook.url,
                },
            )
            assert r.status_code == 200, r.text
            version = (
                await by_author.post(
                    f"/prompts/{prompt['id']}/versions",
                    json={"body": "Hi {{ name }}", "variables": {"name": "str"}},
                )
            ).json()
            async with build_worker(temporal_ts_env.client, task_queue, pg_url, catalog):
                r = await by_author.post(f"/prompt_versions/{version['id']}/submit_for_approval")
                assert r.status_code == 202, r.text
                approval_id = r.json()["approval_id"]
                assert approval_id == f"approval-{version['id']}-1"
                handle = temporal_ts_env.client.get_workflow_handle(
                    approval_id, result_type=ApprovalResult
                )
                await wait_phase(handle, "waiting")
                r = await by_reviewer.post(
                    f"/prompt_versions/{version['id']}/approve", json={"comment": "fine by me"}
                )
                assert r.status_code == 200, r.text
                assert r.json()["approvals"] == 1 and r.json()["live"] is True
                # Skip three simulated days (the API started the workflow, so this handle is
                # not one whose result() unlocks time skipping by itself).
                await temporal_ts_env.sleep(timedelta(hours=73))
                result = await handle.result()
            assert result.status == "Expired"
            r = await api.get(f"/prompt_versions/{version['id']}")
            assert r.json()["status"] == "Draft"
            r = await api.get(f"/prompt_versions/{version['id']}/approval")
            body = r.json()
            assert body["status"] == "Expired" and body["live"] is False
            assert body["approvals"] == 1 and body["decisions"][0]["comment"] == "fine by me"
            assert "no decision within 72 h" in body["reason"]
            # An expired approval lets the version be submitted again, under a new id.
            async with build_worker(temporal_ts_env.client, task_queue, pg_url, catalog):
                r = await by_author.post(f"/prompt_versions/{version['id']}/submit_for_approval")
                assert r.status_code == 202, r.text
                assert r.json()["approval_id"] == f"approval-{version['id']}-2"
                await temporal_ts_env.client.get_workflow_handle(r.json()["approval_id"]).terminate(
                    "test over"
                )
    assert [b["reminder"] for b in hook.bodies] == [1, 2]
    assert hook.bodies[0]["event"] == "approval.reminder"
    assert hook.bodies[0]["approval_id"] == approval_id
    assert hook.bodies[0]["approvals"] == 1 and hook.bodies[0]["required_approvals"] == 2
    async with get_session_factory(pg_url)() as session:
        actions = list(
            (
                await session.execute(
                    select(AuditLog.action, AuditLog.after)
                    .where(AuditLog.entity_id == approval_id)
                    .order_by(AuditLog.id)
                )
            ).all()
        )
    names = [a for a, _ in actions]
    assert names == [
        "approval.submit",
        "approval.approve",
        "approval.reminder",
        "approval.reminder",
        "approval.expired",
    ]
    reminders = [after for a, after in actions if a == "approval.reminder"]
    assert all(r["channel"] == "webhook" and r["delivered"] for r in reminders)
