"""``CanaryRolloutWorkflow`` on the time-skipping test server, with a real in-process worker
running the deployment activities against the test Postgres, started through the real API.

Live traffic is injected the way ``generate`` records it: ``runs`` rows with ``source =
'generate'``, the deployment id, the arm, success and latency, timestamped inside the step's
bake window (the workflow's clock runs ahead of the wall clock once time was skipped). Time
moves only when a test says so (``env.sleep``), so each test controls exactly which checks
happen and what traffic they see.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.deployment.activities import DeploymentActivities
from api.main import create_app
from promptops.db.models import (
    AuditLog,
    Deployment,
    EvaluationResult,
    Feedback,
    Label,
    Run,
)
from promptops.db.session import get_session_factory
from promptops.llm import ModelCatalog
from tests.support import apps
from tests.support.apps import RunningApp, issue_key
from tests.support.canary import Fixture, make_versions
from tests.support.canary import canary_worker as support_canary_worker
from workflows.canary.types import CanaryPlan, CanaryResult, CanaryRolloutInput
from workflows.canary.workflow import CanaryRolloutWorkflow

DAY = 86400
HOUR = 3600
#: 1 day bake per step, a guard check every 6 hours, 20 runs per arm needed.
PLAN: dict[str, Any] = {
    "steps": [10, 50, 100],
    "bake_time_s": DAY,
    "check_interval_s": 6 * HOUR,
    "min_samples": 20,
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
async def ts_api(
    pg_url: str, temporal_ts_env: WorkflowEnvironment, catalog: ModelCatalog, task_queue: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app on the time-skipping server (which knows no custom search attributes)."""
    key = await issue_key(pg_url)
    app = create_app(
        apps.test_settings(task_queue, PROMPTOPS_SEARCH_ATTRIBUTES="false"),
        database_url=pg_url,
        catalog=catalog,
    )
    async with app.router.lifespan_context(app):
        app.state.temporal = temporal_ts_env.client
        async with RunningApp(app).client(key.key) as client:
            yield client


def canary_worker(env: WorkflowEnvironment, task_queue: str, pg_url: str, **options: Any) -> Worker:
    return support_canary_worker(env.client, task_queue, pg_url, **options)


async def deploy(
    api: httpx.AsyncClient,
    fx: Fixture,
    plan: dict[str, Any] | None = None,
    environment: str = "prod",
) -> dict[str, Any]:
    r = await api.post(
        "/deployments",
        json={
            "project_id": fx.project_id,
            "prompt_version_id": fx.candidate_id,
            "environment": environment,
            "plan": plan or PLAN,
        },
    )
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


async def status_of(handle: WorkflowHandle[Any, Any]) -> dict[str, Any]:
    result: dict[str, Any] = await handle.query("status")
    return result


async def wait_for(
    handle: WorkflowHandle[Any, Any],
    *,
    step: int | None = None,
    status: str | None = None,
    timeout_s: float = 30,
) -> dict[str, Any]:
    """Poll the ``status`` query (wall clock; time is not skipped) until it matches."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        st = await status_of(handle)
        if (
            (step is None or st["step_index"] == step)
            and (status is None or st["status"] == status)
            and st["window_started_at"]
        ):
            return st
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"workflow still at {st['status']} step {st['step_index']}")
        await asyncio.sleep(0.05)


async def inject(
    pg_url: str,
    fx: Fixture,
    deployment_id: str,
    arm: str,
    n: int,
    *,
    at: str,
    failures: int = 0,
    latency_ms: float = 120.0,
    feedback: float | None = None,
    eval_score: float | None = None,
) -> None:
    """Insert ``n`` live runs of one arm, ``failures`` of them failed, 1 s after ``at``."""
    created = datetime.fromisoformat(at) + timedelta(seconds=1)
    version = fx.candidate_id if arm == "canary" else fx.baseline_id
    rows = [
        {
            "id": uuid.uuid4(),
            "project_id": fx.project_id,
            "prompt_version_id": version,
            "source": "generate",
            "model": "stub",
            "variables": {},
            "rendered_input": [],
            "output": "ok",
            "success": i >= failures,
            "error": None if i >= failures else "boom",
            "latency_ms": latency_ms + i,
            "subject_id": f"{arm}-{i}",
            "environment": "prod",
            "deployment_id": deployment_id,
            "arm": arm,
            "created_at": created,
        }
        for i in range(n)
    ]
    async with get_session_factory(pg_url)() as session:
        await session.execute(insert(Run), rows)
        if feedback is not None:
            await session.execute(
                insert(Feedback),
                [
                    {
                        "id": uuid.uuid4(),
                        "project_id": fx.project_id,
                        "run_id": r["id"],
                        "score": feedback,
                        "value": feedback,
                        "comment": "",
                        "actor": "user",
                        "created_at": created,
                    }
                    for r in rows
                ],
            )
        if eval_score is not None:
            await session.execute(
                insert(EvaluationResult),
                [
                    {
                        "id": uuid.uuid4(),
                        "run_id": r["id"],
                        "metric": "token_f1",
                        "value": eval_score,
                    }
                    for r in rows
                ],
            )
        await session.commit()


async def healthy_traffic(
    pg_url: str, fx: Fixture, deployment_id: str, at: str, n: int = 30
) -> None:
    await inject(pg_url, fx, deployment_id, "baseline", n, at=at, failures=1)
    await inject(pg_url, fx, deployment_id, "canary", n, at=at, failures=1)


async def row(pg_url: str, deployment_id: str) -> Deployment:
    async with get_session_factory(pg_url)() as session:
        dep = await session.get(Deployment, uuid.UUID(deployment_id))
        assert dep is not None
        return dep


async def label_version(pg_url: str, prompt_id: str, name: str = "production") -> str | None:
    async with get_session_factory(pg_url)() as session:
        value = (
            await session.execute(
                select(Label.prompt_version_id).where(
                    Label.prompt_id == uuid.UUID(prompt_id), Label.name == name
                )
            )
        ).scalar_one_or_none()
    return str(value) if value else None


async def audit_actions(pg_url: str, deployment_id: str) -> list[str]:
    async with get_session_factory(pg_url)() as session:
        return list(
            (
                await session.execute(
                    select(AuditLog.action)
                    .where(AuditLog.entity_id == deployment_id)
                    .order_by(AuditLog.id)
                )
            ).scalars()
        )


async def result_of(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> CanaryResult:
    async with env.time_skipping_unlocked():  # type: ignore[attr-defined]
        result: CanaryResult = await handle.result()
    return result


def seconds_between(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()


@asynccontextmanager
async def started(
    ts_api: httpx.AsyncClient,
    env: WorkflowEnvironment,
    fx: Fixture,
    plan: dict[str, Any] | None = None,
) -> AsyncIterator[tuple[str, WorkflowHandle[Any, Any]]]:
    body = await deploy(ts_api, fx, plan)
    dep_id = body["deployment"]["id"]
    assert body["workflow_id"] == f"canary-{dep_id}"
    yield dep_id, env.client.get_workflow_handle(body["workflow_id"], result_type=CanaryResult)


# --------------------------------------------------------------------------- tests


async def test_full_ramp_over_simulated_days_promotes_and_moves_the_label(
    ts_api: httpx.AsyncClient,
    temporal_ts_env: WorkflowEnvironment,
    pg_url: str,
    task_queue: str,
) -> None:
    env = temporal_ts_env
    fx = await make_versions(ts_api, pg_url)
    async with canary_worker(env, task_queue, pg_url), started(ts_api, env, fx) as (dep_id, h):
        st = await wait_for(h, step=0, status="Running")
        assert st["weights"] == {"baseline": 90.0, "canary": 10.0}
        dep = await row(pg_url, dep_id)
        assert (dep.status, dep.canary_weight, dep.current_step) == ("Running", 10.0, 0)
        await healthy_traffic(pg_url, fx, dep_id, st["window_started_at"])
        await env.sleep(timedelta(days=1, minutes=5))
        st = await wait_for(h, step=1, status="Running")
        assert st["weights"] == {"baseline": 50.0, "canary": 50.0}
        assert (await row(pg_url, dep_id)).canary_weight == 50.0
        await healthy_traffic(pg_url, fx, dep_id, st["window_started_at"])
        result = await result_of(env, h)
    assert result.status == "Promoted", result.reason
    assert [s.percent for s in result.history] == [10.0, 50.0, 100.0]
    assert [s.outcome for s in result.history] == ["promoted"] * 3
    # Each step baked one simulated day (checks every 6 h: 3 mid-bake + 1 final).
    for step in result.history[:2]:
        assert step.ended_at is not None
        assert DAY <= seconds_between(step.started_at, step.ended_at) < DAY + 600
    dep = await row(pg_url, dep_id)
    assert (dep.status, dep.canary_weight, dep.current_step) == ("Promoted", 100.0, 2)
    assert dep.completed_at is not None
    assert await label_version(pg_url, fx.prompt_id) == fx.candidate_id
    actions = await audit_actions(pg_url, dep_id)
    assert actions[:2] == ["deployment.create", "deployment.start"]
    assert actions.count("deployment.step") == 2 and actions[-1] == "deployment.promote"
    # The live view is gone once finished; the row tells the story.
    r = await ts_api.get(f"/deployments/{dep_id}")
    assert r.json()["status"] == "Promoted" and r.json()["live"] is None
    # ... and so do the stored checks: every check once, in order, with its step and weight.
    checks = (await ts_api.get(f"/deployments/{dep_id}/checks")).json()["data"]
    assert [c["check_index"] for c in checks] == list(range(1, 9))
    assert [(c["step_index"], c["canary_weight"]) for c in checks] == [(0, 10.0)] * 4 + [
        (1, 50.0)
    ] * 4
    assert checks[-1]["canary"]["n"] == 30 and checks[-1]["baseline"]["errors"] == 1
    assert checks[-1]["approval_eval_score"] == 0.9


async def test_an_error_rate_rise_rolls_back_within_one_bake_window(
    ts_api: httpx.AsyncClient,
    temporal_ts_env: WorkflowEnvironment,
    pg_url: str,
    task_queue: str,
) -> None:
    env = temporal_ts_env
    fx = await make_versions(ts_api, pg_url)
    async with canary_worker(env, task_queue, pg_url), started(ts_api, env, fx) as (dep_id, h):
        st = await wait_for(h, step=0, status="Running")
        await inject(pg_url, fx, dep_id, "baseline", 40, at=st["window_started_at"], failures=0)
        # 6 of 30 canary requests fail: success rate 80% vs 100%.
        await inject(pg_url, fx, dep_id, "canary", 30, at=st["window_started_at"], failures=6)
        result = await result_of(env, h)
    assert result.status == "RolledBack"
    assert "error rate" in result.reason and "+20.0 points" in result.reason
    [breach] = result.breaches
    assert breach.guard == "error_rate" and breach.observed == pytest.approx(0.2)
    step = result.history[0]
    assert step.outcome == "rolled_back" and step.ended_at is not None
    # Caught at the first check (6 h), well inside the 1-day bake window.
    assert seconds_between(step.started_at, step.ended_at) < 7 * HOUR
    dep = await row(pg_url, dep_id)
    assert (dep.status, dep.canary_weight) == ("RolledBack", 0.0)
    assert "error rate" in dep.reason
    assert await label_version(pg_url, fx.prompt_id) == fx.baseline_id  # untouched
    assert (await audit_actions(pg_url, dep_id))[-1] == "deployment.rollback"


async def test_a_p95_latency_above_the_limit_rolls_back(
    ts_api: httpx.AsyncClient,
    temporal_ts_env: WorkflowEnvironment,
    pg_url: str,
    task_queue: str,
) -> None:
    env = temporal_ts_env
    fx = await make_versions(ts_api, pg_url)
    plan = {**PLAN, "max_p95_latency_ms": 800}
    async with (
        canary_worker(env, task_queue, pg_url),
        started(ts_api, env, fx, plan) as (dep_id, h),
    ):
        st = await wait_for(h, step=0, status="Running")
        await inject(pg_url, fx, dep_id, "baseline", 30, at=st["window_started_at"])
        await inject(
            pg_url, fx, dep_id, "canary", 30, at=st["window_started_at"], latency_ms=1500.0
        )
        result = await result_of(env, h)
    assert result.status == "RolledBack"
    [breach] = result.breaches
    assert breach.guard == "p95_latency" and breach.limit == 800
    # Nearest rank: latencies 1500..1529, ceil(0.95 * 30) = 29th -> 1528 ms.
    assert breach.observed == 1528.0
    assert "p95 latency 1528 ms" in result.reason


async def test_too_few_samples_by_the_deadline_rolls_back(
    ts_api: httpx.AsyncClient,
    temporal_ts_env: WorkflowEnvironment,
    pg_url: str,
    task_queue: str,
) -> None:
    env = temporal_ts_env
    fx = await make_versions(ts_api, pg_url)
    async with canary_worker(env, task_queue, pg_url), started(ts_api, env, fx) as (dep_id, h):
        st = await wait_for(h, step=0, status="Running")
        await inject(pg_url, fx, dep_id, "baseline", 40, at=st["window_started_at"])
        await inject(pg_url, fx, dep_id, "canary", 4, at=st["window_started_at"])
        result = await result_of(env, h)
    assert result.status == "RolledBack"
    assert [b.guard for b in result.breaches] == ["min_samples"]
    assert "too few samples by the deadline" in result.reason and "canary 4" in result.reason
    step = result.history[0]
    assert step.ended_at is not None
    assert DAY <= seconds_between(step.started_at, step.ended_at) < DAY + 600
    assert (await row(pg_url, dep_id)).status == "RolledBack"


async def test_a_low_online_eval_score_blocks_promotion_beyond_the_first_step(
    ts_api: httpx.AsyncClient,
    temporal_ts_env: WorkflowEnvironment,
    pg_url: str,
    task_queue: str,
) -> None:
    env = temporal_ts_env
    fx = await make_versions(ts_api, pg_url, approval_score=0.95)
    async with canary_worker(env, task_queue, pg_url), started(ts_api, env, fx) as (dep_id, h):
        st = await wait_for(h, step=0, status="Running")
        await inject(pg_url, fx, dep_id, "baseline", 30, at=st["window_started_at"])
        # Online evaluation of the canary's runs scores 0.5: it wins over the approval's 0.95.
        await inject(pg_url, fx, dep_id, "canary", 30, at=st["window_started_at"], eval_score=0.5)
        result = await result_of(env, h)
    assert result.status == "RolledBack"
    [breach] = result.breaches
    assert breach.guard == "eval_score" and breach.observed == 0.5 and breach.limit == 0.7
    assert result.reason.startswith("cannot promote beyond 10%")


async def test_pause_holds_the_weight_and_stops_the_bake_clock(
    ts_api: httpx.AsyncClient,
    temporal_ts_env: WorkflowEnvironment,
    pg_url: str,
    task_queue: str,
) -> None:
    env = temporal_ts_env
    fx = await make_versions(ts_api, pg_url)
    async with canary_worker(env, task_queue, pg_url), started(ts_api, env, fx) as (dep_id, h):
        st = await wait_for(h, step=0, status="Running")
        window = st["window_started_at"]
        await healthy_traffic(pg_url, fx, dep_id, window)
        await env.sleep(timedelta(hours=7))  # one check at 6 h
        r = await ts_api.post(f"/deployments/{dep_id}/pause", json={"reason": "incident 42"})
        assert r.status_code == 202, r.text
        st = await wait_for(h, step=0, status="Paused")
        baked = st["bake_elapsed_s"]
        assert 6 * HOUR <= baked <= 8 * HOUR and st["checks"] == 1
        assert (await row(pg_url, dep_id)).status == "Paused"
        await env.sleep(timedelta(days=3))
        st = await status_of(h)
        assert st["status"] == "Paused" and st["step_index"] == 0
        assert st["weights"]["canary"] == 10.0 and st["bake_elapsed_s"] == baked
        assert st["checks"] == 1  # no checks while paused
        live = (await ts_api.get(f"/deployments/{dep_id}")).json()
        assert live["status"] == "Paused" and live["canary_weight"] == 10.0
        assert live["live"]["status"] == "Paused"
        r = await ts_api.post(f"/deployments/{dep_id}/resume")
        assert r.status_code == 202, r.text
        await wait_for(h, step=0, status="Running")
        await env.sleep(timedelta(days=1))  # the remaining 17 h of bake, then step 2
        st = await wait_for(h, step=1, status="Running")
        await healthy_traffic(pg_url, fx, dep_id, st["window_started_at"])
        result = await result_of(env, h)
    assert result.status == "Promoted", result.reason
    first = result.history[0]
    assert first.ended_at is not None
    # The step lasted its 1-day bake plus the 3 days it was paused.
    assert first.paused_s == pytest.approx(3 * DAY, abs=600)
    assert 4 * DAY <= seconds_between(first.started_at, first.ended_at) < 4 * DAY + 1200
    actions = await audit_actions(pg_url, dep_id)
    assert "deployment.pause" in actions and "deployment.resume" in actions


async def test_promote_now_jumps_to_100_and_moves_the_label(
    ts_api: httpx.AsyncClient,
    temporal_ts_env: WorkflowEnvironment,
    pg_url: str,
    task_queue: str,
) -> None:
    env = temporal_ts_env
    fx = await make_versions(ts_api, pg_url)
    async with canary_worker(env, task_queue, pg_url), started(ts_api, env, fx) as (dep_id, h):
        await wait_for(h, step=0, status="Running")
        r = await ts_api.post(f"/deployments/{dep_id}/promote", json={"reason": "hotfix"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "Promoted" and r.json()["canary_weight"] == 100.0
        result = await result_of(env, h)
    assert result.status == "Promoted"
    assert "promoted now by" in result.reason and "hotfix" in result.reason
    assert await label_version(pg_url, fx.prompt_id) == fx.candidate_id
    r = await ts_api.post(f"/deployments/{dep_id}/abort", json={"reason": "too late"})
    assert r.status_code == 409 and "already ended" in r.text


async def test_promote_now_without_an_eval_score_is_refused_then_abort_stops_it(
    ts_api: httpx.AsyncClient,
    temporal_ts_env: WorkflowEnvironment,
    pg_url: str,
    task_queue: str,
) -> None:
    env = temporal_ts_env
    fx = await make_versions(ts_api, pg_url, approval_score=None)
    async with canary_worker(env, task_queue, pg_url), started(ts_api, env, fx) as (dep_id, h):
        await wait_for(h, step=0, status="Running")
        r = await ts_api.post(f"/deployments/{dep_id}/promote")
        assert r.status_code == 409 and "no evaluation score" in r.text
        st = await status_of(h)
        assert st["status"] == "Running" and st["weights"]["canary"] == 10.0
        r = await ts_api.post(f"/deployments/{dep_id}/abort", json={"reason": ""})
        assert r.status_code == 422  # a reason is required
        r = await ts_api.post(f"/deployments/{dep_id}/abort", json={"reason": "wrong prompt"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "Aborted" and body["canary_weight"] == 0.0
        assert "wrong prompt" in body["reason"]
        result = await result_of(env, h)
    assert result.status == "Aborted" and result.history[0].outcome == "aborted"
    assert await label_version(pg_url, fx.prompt_id) == fx.baseline_id
    assert (await audit_actions(pg_url, dep_id))[-1] == "deployment.abort"


async def test_first_deployment_without_a_baseline_promotes_at_once(
    ts_api: httpx.AsyncClient,
    temporal_ts_env: WorkflowEnvironment,
    pg_url: str,
    task_queue: str,
) -> None:
    env = temporal_ts_env
    fx = await make_versions(ts_api, pg_url, baseline=False)
    async with canary_worker(env, task_queue, pg_url), started(ts_api, env, fx) as (dep_id, h):
        result = await result_of(env, h)
    assert result.status == "Promoted" and result.reason == "first deployment: no baseline"
    assert await label_version(pg_url, fx.prompt_id) == fx.candidate_id
    dep = await row(pg_url, dep_id)
    assert dep.baseline_version_id is None and dep.canary_weight == 100.0


async def test_a_killed_worker_mid_bake_resumes_on_a_new_worker(
    ts_api: httpx.AsyncClient,
    temporal_ts_env: WorkflowEnvironment,
    pg_url: str,
    task_queue: str,
) -> None:
    env = temporal_ts_env
    fx = await make_versions(ts_api, pg_url)
    async with started(ts_api, env, fx) as (dep_id, h):
        # The first worker keeps no workflow cache (so every task it runs is a full replay):
        # the time-skipping test server never moves a stopped worker's sticky tasks back to
        # the task queue, as a real server does after the sticky timeout.
        async with canary_worker(env, task_queue, pg_url, max_cached_workflows=0):
            st = await wait_for(h, step=0, status="Running")
            await healthy_traffic(pg_url, fx, dep_id, st["window_started_at"])
            await env.sleep(timedelta(hours=13))  # two checks done, mid-bake
            st = await status_of(h)
            assert st["checks"] == 2 and st["step_index"] == 0
        # The worker is gone; the durable timer still runs on the server.
        async with canary_worker(env, task_queue, pg_url):
            await env.sleep(timedelta(hours=12))
            st = await wait_for(h, step=1, status="Running")
            assert st["checks"] == 4  # 2 before the restart, 1 mid-bake + 1 final after
            await healthy_traffic(pg_url, fx, dep_id, st["window_started_at"])
            result = await result_of(env, h)
    assert result.status == "Promoted", result.reason
    assert await label_version(pg_url, fx.prompt_id) == fx.candidate_id


async def test_continue_as_new_carries_the_bake(
    ts_api: httpx.AsyncClient,
    temporal_ts_env: WorkflowEnvironment,
    pg_url: str,
    task_queue: str,
) -> None:
    """With ``max_checks_per_run=1`` every guard check ends a run: the bake clock, the window
    and the step history survive continue-as-new."""
    env = temporal_ts_env
    fx = await make_versions(ts_api, pg_url)
    plan = CanaryPlan(steps=[10, 100], bake_time_s=[DAY], check_interval_s=6 * HOUR, min_samples=20)
    dep_id = uuid.uuid4()
    # The row the API would create (the workflow is started here with a test-only option).
    async with get_session_factory(pg_url)() as session:
        await session.execute(
            insert(Deployment).values(
                id=dep_id,
                project_id=fx.project_id,
                prompt_id=fx.prompt_id,
                environment="prod",
                candidate_version_id=fx.candidate_id,
                baseline_version_id=fx.baseline_id,
                plan=dataclasses.asdict(plan),
                status="Pending",
                canary_weight=0.0,
                current_step=-1,
                reason="",
                workflow_id=f"canary-{dep_id}",
                created_by="test",
            )
        )
        await session.commit()
    handle = await env.client.start_workflow(
        CanaryRolloutWorkflow.run,
        CanaryRolloutInput(deployment_id=str(dep_id), plan=plan, max_checks_per_run=1),
        id=f"canary-{dep_id}",
        task_queue=task_queue,
    )
    async with canary_worker(env, task_queue, pg_url):
        st = await wait_for(handle, step=0, status="Running")
        await healthy_traffic(pg_url, fx, str(dep_id), st["window_started_at"])
        result = await handle.result()
    assert result.status == "Promoted", result.reason
    assert result.history[0].started_at == st["window_started_at"]
    assert result.history[0].ended_at is not None
    assert seconds_between(result.history[0].started_at, result.history[0].ended_at) >= DAY
    # 3 mid-bake checks, each followed by continue-as-new: the last run is not the first.
    desc = await env.client.get_workflow_handle(handle.id).describe()
    assert desc.run_id != handle.first_execution_run_id
    assert await label_version(pg_url, fx.prompt_id) == fx.candidate_id


# --------------------------------------------------------------------------- activities


async def _bare_deployment(pg_url: str, fx: Fixture) -> uuid.UUID:
    dep_id = uuid.uuid4()
    async with get_session_factory(pg_url)() as session:
        await session.execute(
            insert(Deployment).values(
                id=dep_id,
                project_id=fx.project_id,
                prompt_id=fx.prompt_id,
                environment="prod",
                candidate_version_id=fx.candidate_id,
                baseline_version_id=fx.baseline_id,
                plan={},
                status="Pending",
                canary_weight=0.0,
                current_step=-1,
                reason="",
                workflow_id=f"canary-{dep_id}",
                created_by="test",
            )
        )
        await session.commit()
    return dep_id


async def test_figures_match_the_pure_formulas(ts_api: httpx.AsyncClient, pg_url: str) -> None:
    """The SQL aggregates equal the guards' definitions: nearest-rank p95
    (``percentile_disc(0.95)``), error rate, means of feedback, outcomes and online evaluation
    results (latency/cost metrics excluded), only live runs of the window."""
    import random

    from temporalio.testing import ActivityEnvironment

    from activities.deployment.types import ComputeFiguresInput
    from promptops.db.models import Outcome
    from workflows.canary.guards import nearest_rank_percentile

    fx = await make_versions(ts_api, pg_url, approval_score=0.81)
    dep_id = await _bare_deployment(pg_url, fx)
    window = datetime.fromisoformat("2030-01-01T00:00:00+00:00")
    rng = random.Random(7)
    latencies = {
        arm: [round(rng.uniform(50, 2000), 1) for _ in range(37)] for arm in ("baseline", "canary")
    }
    async with get_session_factory(pg_url)() as session:
        for arm, values in latencies.items():
            version = fx.candidate_id if arm == "canary" else fx.baseline_id
            for i, latency in enumerate(values):
                run_id = uuid.uuid4()
                await session.execute(
                    insert(Run).values(
                        id=run_id,
                        project_id=fx.project_id,
                        prompt_version_id=version,
                        source="generate",
                        model="stub",
                        variables={},
                        rendered_input=[],
                        success=i % 5 != 0,
                        latency_ms=latency,
                        deployment_id=dep_id,
                        arm=arm,
                        created_at=window + timedelta(minutes=i),
                    )
                )
                if i < 10:
                    await session.execute(
                        insert(Feedback).values(
                            id=uuid.uuid4(),
                            project_id=fx.project_id,
                            run_id=run_id,
                            thumbs=i % 2 == 0,
                            value=1.0 if i % 2 == 0 else 0.0,
                            comment="",
                            actor="u",
                        )
                    )
                    await session.execute(
                        insert(Outcome).values(
                            id=uuid.uuid4(),
                            project_id=fx.project_id,
                            name="sale",
                            value=float(i),
                            run_id=run_id,
                            actor="u",
                        )
                    )
                if arm == "canary" and i < 4:
                    for metric, value in (("token_f1", 0.25 * i), ("latency_ms", 999.0)):
                        await session.execute(
                            insert(EvaluationResult).values(
                                id=uuid.uuid4(), run_id=run_id, metric=metric, value=value
                            )
                        )
        # Noise: a run before the window, a run of another source, a run of no arm.
        for created, source, arm in (
            (window - timedelta(seconds=1), "generate", "canary"),
            (window, "execute", "canary"),
            (window, "generate", None),
        ):
            await session.execute(
                insert(Run).values(
                    id=uuid.uuid4(),
                    project_id=fx.project_id,
                    prompt_version_id=fx.candidate_id,
                    source=source,
                    model="stub",
                    variables={},
                    rendered_input=[],
                    success=False,
                    latency_ms=99_999.0,
                    deployment_id=dep_id,
                    arm=arm,
                    created_at=created,
                )
            )
        await session.commit()
    acts = DeploymentActivities(pg_url)
    result = await ActivityEnvironment().run(
        acts.compute_deployment_figures,
        ComputeFiguresInput(deployment_id=str(dep_id), window_start=window.isoformat()),
    )
    for arm, figures in (("baseline", result.baseline), ("canary", result.canary)):
        assert figures.n == 37 and figures.errors == 8  # i = 0, 5, ..., 35
        assert figures.error_rate == pytest.approx(8 / 37)
        assert figures.p95_latency_ms == nearest_rank_percentile(latencies[arm], 95)
        assert figures.feedback_n == 10 and figures.mean_feedback == pytest.approx(0.5)
        assert figures.outcome_n == 10 and figures.mean_outcome == pytest.approx(4.5)
    assert result.canary.eval_n == 4 and result.canary.eval_score == pytest.approx(0.375)
    assert result.baseline.eval_n == 0 and result.baseline.eval_score is None
    assert result.approval_eval_score == 0.81


async def test_write_activities_are_idempotent(ts_api: httpx.AsyncClient, pg_url: str) -> None:
    """A retried activity (same input after its commit) writes and audits nothing twice, and a
    finished deployment is never changed again."""
    from temporalio.testing import ActivityEnvironment

    from activities.deployment.types import (
        FinishDeploymentInput,
        SetStepInput,
        StartDeploymentInput,
    )

    fx = await make_versions(ts_api, pg_url)
    dep_id = await _bare_deployment(pg_url, fx)
    acts, env = DeploymentActivities(pg_url), ActivityEnvironment()
    for _ in range(2):
        started = await env.run(
            acts.start_deployment, StartDeploymentInput(deployment_id=str(dep_id), actor="a")
        )
        assert started.status == "Running" and started.baseline_version_id == fx.baseline_id
    step = SetStepInput(
        deployment_id=str(dep_id),
        step_index=0,
        canary_weight=10.0,
        status="Running",
        action="deployment.step",
        actor="wf",
    )
    changed = [(await env.run(acts.set_deployment_step, step)).changed for _ in range(2)]
    assert changed == [True, False]
    finish = FinishDeploymentInput(
        deployment_id=str(dep_id), status="Promoted", reason="ok", actor="wf", step_index=1
    )
    first = await env.run(acts.finish_deployment, finish)
    again = await env.run(acts.finish_deployment, finish)
    assert first.changed and first.label == "production" and not again.changed
    late = await env.run(
        acts.set_deployment_step,
        SetStepInput(
            deployment_id=str(dep_id),
            step_index=0,
            canary_weight=0.0,
            status="Paused",
            action="deployment.pause",
            actor="op",
        ),
    )
    assert late.changed is False
    dep = await row(pg_url, str(dep_id))
    assert (dep.status, dep.canary_weight, dep.current_step) == ("Promoted", 100.0, 1)
    assert await audit_actions(pg_url, str(dep_id)) == [
        "deployment.start",
        "deployment.step",
        "deployment.promote",
    ]
    assert await label_version(pg_url, fx.prompt_id) == fx.candidate_id


async def test_a_retried_figures_activity_rewrites_its_check_not_adds_one(
    ts_api: httpx.AsyncClient, pg_url: str
) -> None:
    """Checks are keyed by (deployment, check number): the same check computed again (a retry
    after the commit, or a check the workflow repeats) leaves one row with the latest
    figures; a call without a check number (rollouts scheduled before checks were stored)
    writes nothing."""
    from temporalio.testing import ActivityEnvironment

    from activities.deployment.types import ComputeFiguresInput

    fx = await make_versions(ts_api, pg_url)
    dep_id = await _bare_deployment(pg_url, fx)
    window = "2030-01-01T00:00:00+00:00"
    acts, env = DeploymentActivities(pg_url), ActivityEnvironment()
    await env.run(
        acts.compute_deployment_figures,
        ComputeFiguresInput(deployment_id=str(dep_id), window_start=window),
    )
    check = ComputeFiguresInput(
        deployment_id=str(dep_id),
        window_start=window,
        check_index=1,
        step_index=0,
        canary_weight=10.0,
    )
    await env.run(acts.compute_deployment_figures, check)
    await inject(pg_url, fx, str(dep_id), "canary", 3, at=window)
    await env.run(acts.compute_deployment_figures, check)
    checks = (await ts_api.get(f"/deployments/{dep_id}/checks")).json()
    assert checks["count"] == 1
    assert checks["data"][0]["canary"]["n"] == 3 and checks["data"][0]["canary_weight"] == 10.0
