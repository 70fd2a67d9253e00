"""``/api/v1/deployments`` on the real app, the real Temporal dev server (with the custom search
attributes) and the test Postgres; and the ``promptops deploy`` / ``rollout`` CLI against a
stand-in API client.

What is checked: admission rules (approved versions only, 409/404/422 naming the field, one
active deployment per prompt and environment, nothing written or started on a refusal), the
workflow start (business id, search attributes, Temporal UI link), reads with the live status,
operator requests (pause, resume, abort) acting on the row, roles and tenant isolation.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, Self

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from promptops.db.models import Deployment, PromptVersionStatus, Role
from promptops.db.session import get_session_factory
from promptops.llm import ModelCatalog
from tests.support.apps import issue_key, running_app
from tests.support.canary import canary_worker, make_versions
from workflows.search_attributes import DEPLOYMENT_ID, PROMPT_VERSION

#: Short real-time bakes, no traffic needed (min_samples 0, no eval gate).
QUICK = {
    "steps": [20, 100],
    "bake_time_s": 2,
    "check_interval_s": 1,
    "min_samples": 0,
    "min_eval_score": None,
}
#: A bake long enough to steer the rollout by hand.
SLOW = {"steps": [10, 50, 100], "bake_time_s": 600, "check_interval_s": 300}


async def make_prompt(
    api: httpx.AsyncClient,
    pg_url: str,
    *,
    candidate: PromptVersionStatus = PromptVersionStatus.APPROVED,
    baseline: bool = True,
) -> dict[str, str]:
    fx = await make_versions(
        api, pg_url, baseline=baseline, candidate_status=candidate, approval_score=None
    )
    return {
        "project": fx.project_id,
        "prompt": fx.prompt_id,
        "baseline": fx.baseline_id,
        "candidate": fx.candidate_id,
    }


def body(
    fx: dict[str, str],
    plan: dict[str, Any] | None = None,
    *,
    environment: str = "prod",
    version: str | None = None,
) -> dict[str, Any]:
    return {
        "project_id": fx["project"],
        "prompt_version_id": version or fx["candidate"],
        "environment": environment,
        "plan": plan or SLOW,
    }


async def deployments_of(pg_url: str, prompt_id: str) -> list[Deployment]:
    async with get_session_factory(pg_url)() as session:
        return list(
            (
                await session.execute(
                    select(Deployment).where(Deployment.prompt_id == uuid.UUID(prompt_id))
                )
            ).scalars()
        )


@pytest.fixture
async def worker(
    temporal_env: WorkflowEnvironment, pg_url: str, task_queue: str
) -> AsyncIterator[Worker]:
    async with canary_worker(temporal_env.client, task_queue, pg_url) as w:
        yield w


async def wait_row(
    api: httpx.AsyncClient, dep_id: str, *statuses: str, timeout_s: float = 30
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        r = await api.get(f"/deployments/{dep_id}")
        assert r.status_code == 200, r.text
        d: dict[str, Any] = r.json()
        if d["status"] in statuses:
            return d
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"deployment {dep_id} still {d['status']}")
        await asyncio.sleep(0.1)


# --------------------------------------------------------------------------- happy path


async def test_create_starts_the_workflow_and_the_rollout_promotes(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    pg_url: str,
    worker: Worker,
) -> None:
    fx = await make_prompt(api, pg_url)
    r = await api.post("/deployments", json=body(fx, QUICK))
    assert r.status_code == 202, r.text
    started = r.json()
    dep = started["deployment"]
    assert started["workflow_id"] == f"canary-{dep['id']}" == dep["workflow_id"]
    assert started["temporal_ui_url"].endswith(f"/workflows/canary-{dep['id']}")
    assert dep["baseline_version_id"] == fx["baseline"]
    assert dep["plan"]["bake_time_s"] == [2] and dep["plan"]["steps"] == [20, 100]
    desc = await temporal_env.client.get_workflow_handle(started["workflow_id"]).describe()
    assert desc.typed_search_attributes.get(DEPLOYMENT_ID) == dep["id"]
    assert desc.typed_search_attributes.get(PROMPT_VERSION) == fx["candidate"]
    running = await wait_row(api, dep["id"], "Running", "Promoted")
    if running["status"] == "Running" and running["live"]:
        assert running["live"]["weights"]["canary"] in (0.0, 20.0)
    final = await wait_row(api, dep["id"], "Promoted")
    assert final["canary_weight"] == 100.0 and final["completed_at"]
    labels = (await api.get(f"/prompts/{fx['prompt']}/labels")).json()["data"]
    assert {x["name"]: x["prompt_version_id"] for x in labels}["production"] == fx["candidate"]
    listed = (await api.get("/deployments", params={"project_id": fx["project"]})).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == dep["id"]
    # Rows name the prompt and the version numbers (the web app's list reads them).
    assert (dep["prompt_name"], dep["candidate_version"], dep["baseline_version"]) == ("p", 2, 1)
    assert (final["prompt_name"], final["candidate_version"]) == ("p", 2)
    assert listed["data"][0]["baseline_version"] == 1
    # The guard checks of the bake (one mid-bake at 1 s, the deciding one at 2 s) are stored.
    checks = (await api.get(f"/deployments/{dep['id']}/checks")).json()
    assert checks["deployment_id"] == dep["id"]
    assert [c["check_index"] for c in checks["data"]] == [1, 2]
    assert {(c["step_index"], c["canary_weight"]) for c in checks["data"]} == {(0, 20.0)}
    assert all(c["baseline"]["arm"] == "baseline" for c in checks["data"])
    later = (await api.get(f"/deployments/{dep['id']}/checks", params={"after": 1})).json()
    assert [c["check_index"] for c in later["data"]] == [2]
    audit = (await api.get("/audit", params={"entity_id": dep["id"]})).json()["data"]
    assert {"deployment.create", "deployment.start", "deployment.promote"} <= {
        a["action"] for a in audit
    }


async def test_pause_resume_and_abort_through_the_api(
    api: httpx.AsyncClient,
    pg_url: str,
    worker: Worker,
) -> None:
    fx = await make_prompt(api, pg_url)
    dep_id = (await api.post("/deployments", json=body(fx))).json()["deployment"]["id"]
    d = await wait_row(api, dep_id, "Running")
    deadline = asyncio.get_running_loop().time() + 30
    while d["canary_weight"] != 10.0 and asyncio.get_running_loop().time() < deadline:
        d = (await api.get(f"/deployments/{dep_id}")).json()
        await asyncio.sleep(0.1)
    assert d["live"]["step_index"] == 0 and d["live"]["weights"] == {
        "baseline": 90.0,
        "canary": 10.0,
    }
    r = await api.post(f"/deployments/{dep_id}/pause", json={"reason": "look at logs"})
    assert r.status_code == 202 and r.json()["requested"] == "pause"
    d = await wait_row(api, dep_id, "Paused")
    assert d["canary_weight"] == 10.0 and d["live"]["paused"] is True
    r = await api.post(f"/deployments/{dep_id}/resume")
    assert r.status_code == 202
    await wait_row(api, dep_id, "Running")
    r = await api.post(f"/deployments/{dep_id}/abort", json={"reason": "wrong model"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "Aborted" and r.json()["canary_weight"] == 0.0
    assert "wrong model" in r.json()["reason"]
    for action, payload in (
        ("pause", {}),
        ("resume", {}),
        ("promote", {}),
        ("abort", {"reason": "again"}),
    ):
        r = await api.post(f"/deployments/{dep_id}/{action}", json=payload)
        assert r.status_code == 409 and "already ended (Aborted)" in r.text, (action, r.text)
    # The rollout ended: a new deployment of the same prompt and environment is admitted.
    r = await api.post("/deployments", json=body(fx))
    assert r.status_code == 202, r.text
    await api.post(f"/deployments/{r.json()['deployment']['id']}/abort", json={"reason": "x"})


async def test_live_generate_traffic_with_a_feedback_regression_rolls_back(
    api: httpx.AsyncClient,
    pg_url: str,
    worker: Worker,
) -> None:
    """End to end: ``generate`` splits real requests by the deployment's weight, users thumb
    the canary's answers down, and the feedback guard rolls the canary back by itself."""
    fx = await make_prompt(api, pg_url)
    plan = {
        "steps": [50, 100],
        "bake_time_s": 60,
        "check_interval_s": 1,
        "min_samples": 5,
        "max_feedback_drop": 0.3,
        "min_eval_score": None,
    }
    dep_id = (await api.post("/deployments", json=body(fx, plan))).json()["deployment"]["id"]
    deadline = asyncio.get_running_loop().time() + 30
    while (await api.get(f"/deployments/{dep_id}")).json()["canary_weight"] != 50.0:
        assert asyncio.get_running_loop().time() < deadline, "never reached 50%"
        await asyncio.sleep(0.1)
    arms: dict[str, int] = {}
    for i in range(40):
        r = await api.post(
            "/generate",
            json={
                "prompt_id": fx["prompt"],
                "environment": "prod",
                "subject_id": f"user-{i}",
                "variables": {"q": "hi"},
            },
        )
        assert r.status_code == 200, r.text
        served = r.json()
        if served["deployment_id"] is None:
            break  # already rolled back: generate serves the label again
        assert served["deployment_id"] == dep_id
        arm = served["arm"]
        arms[arm] = arms.get(arm, 0) + 1
        assert served["prompt_version_id"] == fx["candidate" if arm == "canary" else "baseline"]
        r = await api.post(f"/runs/{served['run_id']}/feedback", json={"thumbs": arm != "canary"})
        assert r.status_code in (200, 201), r.text
    final = await wait_row(api, dep_id, "RolledBack", "Promoted", timeout_s=30)
    assert final["status"] == "RolledBack", final
    assert "feedback" in final["reason"] and final["canary_weight"] == 0.0
    assert set(arms) == {"baseline", "canary"}
    served = (
        await api.post(
            "/generate",
            json={
                "prompt_id": fx["prompt"],
                "environment": "prod",
                "subject_id": "user-0",
                "variables": {"q": "hi"},
            },
        )
    ).json()
    assert served["prompt_version_id"] == fx["baseline"] and served["deployment_id"] is None


# --------------------------------------------------------------------------- admission


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (PromptVersionStatus.REJECTED, "rejected versions cannot be deployed"),
        (PromptVersionStatus.DRAFT, "is not approved (status Draft)"),
        (PromptVersionStatus.PENDING, "is not approved (status Pending)"),
    ],
)
async def test_only_approved_versions_can_be_deployed(
    api: httpx.AsyncClient,
    pg_url: str,
    status: PromptVersionStatus,
    message: str,
) -> None:
    fx = await make_prompt(api, pg_url, candidate=status)
    r = await api.post("/deployments", json=body(fx))
    assert r.status_code == 409, r.text
    [detail] = r.json()["detail"]
    assert detail["loc"] == ["body", "prompt_version_id"] and message in detail["msg"]
    assert await deployments_of(pg_url, fx["prompt"]) == []


@pytest.mark.parametrize(
    ("plan", "loc", "text"),
    [
        ({"steps": [10, 50]}, ["body", "plan", "steps"], "end at 100"),
        ({"steps": [50, 20, 100]}, ["body", "plan", "steps"], "rise strictly"),
        ({"steps": [0, 100]}, ["body", "plan", "steps"], "(0, 100]"),
        (
            {"steps": [10, 50, 100], "bake_time_s": [60, 60, 60]},
            ["body", "plan", "bake_time_s"],
            "one bake time per step below 100%",
        ),
        ({"min_eval_score": 1.5}, ["body", "plan", "min_eval_score"], "less than or equal"),
    ],
)
async def test_bad_plans_are_422_naming_the_field(
    api: httpx.AsyncClient,
    pg_url: str,
    plan: dict[str, Any],
    loc: list[str],
    text: str,
) -> None:
    fx = await make_prompt(api, pg_url)
    r = await api.post("/deployments", json=body(fx, plan))
    assert r.status_code == 422, r.text
    [detail] = r.json()["detail"]
    assert detail["loc"] == loc and text in detail["msg"]
    assert await deployments_of(pg_url, fx["prompt"]) == []


async def test_unknown_environment_is_422(api: httpx.AsyncClient, pg_url: str) -> None:
    fx = await make_prompt(api, pg_url)
    r = await api.post("/deployments", json=body(fx, environment="production"))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "environment"]
    assert await deployments_of(pg_url, fx["prompt"]) == []


async def test_the_version_the_label_already_serves_is_409(
    api: httpx.AsyncClient,
    pg_url: str,
) -> None:
    fx = await make_prompt(api, pg_url)
    r = await api.post("/deployments", json=body(fx, version=fx["baseline"]))
    assert r.status_code == 409 and "already serves prod" in r.text


async def test_a_second_active_deployment_is_409_and_starts_nothing(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    pg_url: str,
) -> None:
    fx = await make_prompt(api, pg_url)
    first = (await api.post("/deployments", json=body(fx))).json()["deployment"]
    r = await api.post("/deployments", json=body(fx))
    assert r.status_code == 409 and first["id"] in r.text and "still Pending" in r.text
    rows = await deployments_of(pg_url, fx["prompt"])
    assert [str(d.id) for d in rows] == [first["id"]]
    # Another environment of the same prompt is independent.
    other = await api.post("/deployments", json=body(fx, environment="staging"))
    assert other.status_code == 202, other.text
    for dep in (first, other.json()["deployment"]):
        await temporal_env.client.get_workflow_handle(dep["workflow_id"]).terminate("test done")


async def test_the_partial_unique_index_backs_the_check(
    api: httpx.AsyncClient,
    pg_url: str,
) -> None:
    """Two concurrent requests: at most one is admitted (the index catches the race)."""
    fx = await make_prompt(api, pg_url)
    answers = await asyncio.gather(*(api.post("/deployments", json=body(fx)) for _ in range(3)))
    assert sorted(r.status_code for r in answers).count(202) == 1
    assert all(r.status_code in (202, 409) for r in answers)
    async with get_session_factory(pg_url)() as session:
        n = (
            await session.execute(
                select(func.count())
                .select_from(Deployment)
                .where(Deployment.prompt_id == uuid.UUID(fx["prompt"]))
            )
        ).scalar_one()
    assert n == 1


async def test_a_version_of_another_project_is_404(api: httpx.AsyncClient, pg_url: str) -> None:
    a = await make_prompt(api, pg_url)
    b = await make_prompt(api, pg_url)
    r = await api.post("/deployments", json=body(a, version=b["candidate"]))
    assert r.status_code == 404 and "not found in project" in r.text


async def test_first_deployment_has_no_baseline(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    pg_url: str,
) -> None:
    fx = await make_prompt(api, pg_url, baseline=False)
    r = await api.post("/deployments", json=body(fx))
    assert r.status_code == 202 and r.json()["deployment"]["baseline_version_id"] is None
    await temporal_env.client.get_workflow_handle(r.json()["workflow_id"]).terminate("done")


# --------------------------------------------------------------------------- roles, tenants


async def test_roles_and_tenant_isolation(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    pg_url: str,
    catalog: ModelCatalog,
    task_queue: str,
) -> None:
    fx = await make_prompt(api, pg_url)
    dep = (await api.post("/deployments", json=body(fx))).json()["deployment"]
    viewer = await issue_key(pg_url, email=f"v-{uuid.uuid4().hex[:6]}@x.example", role=Role.VIEWER)
    other = await issue_key(
        pg_url,
        organization=f"other-{uuid.uuid4().hex[:6]}",
        email=f"o-{uuid.uuid4().hex[:6]}@x.example",
        role=Role.ADMIN,
    )
    async with running_app(pg_url, temporal_env.client, catalog, task_queue) as app:
        async with app.client(viewer.key) as v:
            assert (await v.get(f"/deployments/{dep['id']}")).status_code == 200
            assert (await v.post("/deployments", json=body(fx))).status_code == 403
            r = await v.post(f"/deployments/{dep['id']}/abort", json={"reason": "x"})
            assert r.status_code == 403
        async with app.client(other.key) as o:
            assert (await o.get(f"/deployments/{dep['id']}")).status_code == 404
            assert (await o.get(f"/deployments/{dep['id']}/checks")).status_code == 404
            assert (
                await o.get("/deployments", params={"project_id": fx["project"]})
            ).status_code == 404
            assert dep["id"] not in (await o.get("/deployments")).text
            for action in ("pause", "resume", "promote", "abort"):
                r = await o.post(f"/deployments/{dep['id']}/{action}", json={"reason": "x"})
                assert r.status_code == 404, (action, r.text)
            assert (await o.post("/deployments", json=body(fx))).status_code == 404
    row = (await deployments_of(pg_url, fx["prompt"]))[0]
    assert row.status == "Pending"  # untouched (no worker polls this task queue)
    await temporal_env.client.get_workflow_handle(dep["workflow_id"]).terminate("test done")


# --------------------------------------------------------------------------- CLI


class FakeClient:
    """Stands in for ``PromptOpsClient``: canned answers, records the calls."""

    def __init__(self, answers: dict[tuple[str, str], Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        from promptops.devstack.client import APIClientError

        self.calls.append((method, path, kwargs))
        answer = self.answers.get((method, path))
        if isinstance(answer, APIClientError):
            raise answer
        return answer


def _dep(**extra: Any) -> dict[str, Any]:
    return {
        "id": "d1",
        "environment": "prod",
        "status": "Running",
        "candidate_version_id": "v2",
        "baseline_version_id": "v1",
        "plan": {"steps": [10, 50, 100]},
        "current_step": 0,
        "canary_weight": 10.0,
        "reason": "",
        "created_at": "2026-01-01T00:00:00",
        "temporal_ui_url": "http://ui/workflows/canary-d1",
        **extra,
    }


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    client = FakeClient({})
    monkeypatch.setattr("promptops.cli.evals._client", lambda: client)
    return client


def test_cli_duration_parsing() -> None:
    from promptops.cli.rollouts import parse_bake, parse_duration, parse_steps

    assert parse_duration("90") == 90 and parse_duration("15m") == 900
    assert parse_duration("1h30m") == 5400 and parse_duration("2d") == 172800
    assert parse_bake("1h") == 3600 and parse_bake("1h,4h") == [3600, 14400]
    assert parse_steps("10,50,100") == [10.0, 50.0, 100.0]
    for bad in ("", "1x", "h", "0", "1h 2"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_cli_deploy_derives_the_project_and_sends_the_plan(fake: FakeClient) -> None:
    from promptops.cli import app

    fake.answers.update(
        {
            ("GET", "/prompt_versions/v2"): {"id": "v2", "prompt_id": "p1"},
            ("GET", "/prompts/p1"): {"id": "p1", "project_id": "proj"},
            ("POST", "/deployments"): {
                "deployment": _dep(),
                "workflow_id": "canary-d1",
                "temporal_ui_url": "http://ui/workflows/canary-d1",
            },
        }
    )
    result = CliRunner().invoke(
        app,
        [
            "deploy",
            "v2",
            "--env",
            "prod",
            "--steps",
            "5,100",
            "--bake",
            "2h",
            "--max-p95-ms",
            "900",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Deployment d1 started" in result.output and "canary-d1" in result.output
    method, path, kwargs = fake.calls[-1]
    assert (method, path) == ("POST", "/deployments")
    assert kwargs["json"] == {
        "project_id": "proj",
        "prompt_version_id": "v2",
        "environment": "prod",
        "plan": {"steps": [5.0, 100.0], "bake_time_s": 7200, "max_p95_latency_ms": 900.0},
    }


def test_cli_errors_are_clean(fake: FakeClient) -> None:
    from promptops.cli import app
    from promptops.devstack.client import APIClientError

    fake.answers[("POST", "/deployments")] = APIClientError(
        409, "prompt_version_id: rejected versions cannot be deployed"
    )
    result = CliRunner().invoke(app, ["deploy", "v2", "--env", "prod", "--project", "p"])
    assert result.exit_code == 1
    assert "rejected versions cannot be deployed" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(app, ["deploy", "v2", "--env", "moon", "--project", "p"])
    assert result.exit_code == 1 and "dev, staging or prod" in result.output
    result = CliRunner().invoke(app, ["rollout", "abort", "d1", "--reason", " "])
    assert result.exit_code == 1 and "needs a reason" in result.output


def test_cli_rollout_status_and_operator_commands(fake: FakeClient) -> None:
    from promptops.cli import app

    live = {
        "status": "Running",
        "step_index": 0,
        "weights": {"baseline": 90.0, "canary": 10.0},
        "bake_time_s": 3600,
        "bake_elapsed_s": 1800.0,
        "check_interval_s": 300,
        "checks": 6,
        "last_check_at": "t",
        "eval_score": 0.9,
        "reason": "",
        "figures": {
            "baseline": {"n": 50, "error_rate": 0.02, "p95_latency_ms": 300.0},
            "canary": {"n": 6, "error_rate": 0.0, "p95_latency_ms": 280.0},
        },
        "breaches": [],
        "history": [
            {
                "step_index": 0,
                "percent": 10.0,
                "started_at": "t0",
                "ended_at": None,
                "paused_s": 0,
                "outcome": None,
            }
        ],
    }
    fake.answers.update(
        {
            ("GET", "/deployments/d1"): _dep(live=live),
            ("POST", "/deployments/d1/pause"): {"id": "d1", "requested": "pause"},
            ("POST", "/deployments/d1/abort"): _dep(
                status="Aborted", canary_weight=0.0, reason="aborted by me: bad"
            ),
        }
    )
    runner = CliRunner()
    result = runner.invoke(app, ["rollout", "status", "d1"])
    assert result.exit_code == 0, result.output
    for text in (
        "Running",
        "step 1/3 (10%)",
        "canary 10% / baseline 90%",
        "0.50 h of 1.00 h",
        "baseline",
        "2.0%",
        "Temporal UI",
    ):
        assert text in result.output, text
    result = runner.invoke(app, ["rollout", "pause", "d1"])
    assert result.exit_code == 0 and "pause requested" in result.output
    result = runner.invoke(app, ["rollout", "abort", "d1", "--reason", "bad"])
    assert result.exit_code == 0 and "Aborted" in result.output
    assert fake.calls[-1][2]["json"] == {"reason": "bad"}
