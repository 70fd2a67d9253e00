"""Approvals end to end: the real app, Postgres, the Temporal dev server, a real worker and the
stub LLM (the golden-set check runs a real ``BatchEvaluationWorkflow`` child).

The stub echoes the first 6 words of the prompt, so a version whose body is ``{{ text }}``
answers each golden example exactly (exact match 1.0) and ``Summary: {{ text }}`` never does
(0.0).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, Self

import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from promptops.db.models import AuditLog, Role
from promptops.db.session import get_session_factory
from promptops.llm import ModelCatalog
from tests.support.apps import issue_key, running_app
from workers.main import build_worker


@dataclass
class Actors:
    """Clients of one organization: an Admin, the versions' author, two reviewers, a Viewer."""

    admin: httpx.AsyncClient
    author: httpx.AsyncClient
    rev1: httpx.AsyncClient
    rev2: httpx.AsyncClient
    viewer: httpx.AsyncClient
    emails: dict[str, str]
    temporal: WorkflowEnvironment


@pytest.fixture
async def actors(
    pg_url: str, temporal_env: WorkflowEnvironment, catalog: ModelCatalog, task_queue: str
) -> AsyncIterator[Actors]:
    suffix = uuid.uuid4().hex[:8]
    emails = {name: f"{name}-{suffix}@example.com" for name in ("author", "rev1", "rev2", "viewer")}
    admin = await issue_key(pg_url)
    keys = {
        name: await issue_key(
            pg_url, email=email, role=Role.VIEWER if name == "viewer" else Role.EDITOR
        )
        for name, email in emails.items()
    }
    async with AsyncExitStack() as stack:
        running = await stack.enter_async_context(
            running_app(pg_url, temporal_env.client, catalog, task_queue)
        )
        await stack.enter_async_context(
            build_worker(temporal_env.client, task_queue, pg_url, catalog)
        )
        clients = {
            name: await stack.enter_async_context(running.client(k.key)) for name, k in keys.items()
        }
        yield Actors(
            admin=await stack.enter_async_context(running.client(admin.key)),
            emails=emails,
            temporal=temporal_env,
            **clients,
        )


async def make_project(
    a: Actors, *, golden: int = 0, policy: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A project with one prompt, a golden set of ``golden`` examples (when > 0) and the
    given policy (``golden_dataset_id`` filled in)."""
    project = (await a.admin.post("/projects", json={"name": f"ap-{uuid.uuid4().hex[:8]}"})).json()
    prompt = (await a.admin.post(f"/projects/{project['id']}/prompts", json={"name": "s"})).json()
    out: dict[str, Any] = {"project_id": project["id"], "prompt_id": prompt["id"]}
    body = dict(policy or {})
    if golden:
        ds = (
            await a.admin.post("/datasets", json={"project_id": project["id"], "name": "golden"})
        ).json()
        rows = [
            json.dumps(
                {"id": f"g{i}", "input": {"text": f"alpha beta {i}"}, "expected": f"alpha beta {i}"}
            )
            for i in range(golden)
        ]
        r = await a.admin.post(
            f"/datasets/{ds['id']}/examples",
            content="\n".join(rows),
            headers={"content-type": "application/x-ndjson"},
        )
        assert r.status_code == 201, r.text
        out["dataset_id"] = ds["id"]
        body["golden_dataset_id"] = ds["id"]
    if body:
        r = await a.admin.put(f"/projects/{project['id']}/approval_policy", json=body)
        assert r.status_code == 200, r.text
    return out


async def new_version(a: Actors, fx: dict[str, Any], body: str = "{{ text }}") -> str:
    r = await a.author.post(
        f"/prompts/{fx['prompt_id']}/versions", json={"body": body, "variables": {"text": "str"}}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def wait_approval(
    client: httpx.AsyncClient,
    version_id: str,
    *,
    phase: str | None = None,
    status: str | None = None,
    live: bool | None = None,
    timeout_s: float = 60,
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        r = await client.get(f"/prompt_versions/{version_id}/approval")
        body: dict[str, Any] = r.json()
        if (
            r.status_code == 200
            and (phase is None or body["phase"] == phase)
            and (status is None or body["status"] == status)
            and (live is None or body["live"] is live)
        ):
            return body
        if loop.time() > deadline:
            raise TimeoutError(f"approval of {version_id}: {r.status_code} {body}")
        await asyncio.sleep(0.1)


async def audit_actions(pg_url: str, entity_id: str) -> list[tuple[str, str, Any, Any]]:
    async with get_session_factory(pg_url)() as session:
        return [
            tuple(row)
            for row in (
                await session.execute(
                    select(AuditLog.action, AuditLog.actor, AuditLog.before, AuditLog.after)
                    .where(AuditLog.entity_id == entity_id)
                    .order_by(AuditLog.id)
                )
            ).all()
        ]


async def test_golden_check_then_two_reviewers_approve(actors: Actors, pg_url: str) -> None:
    a = actors
    fx = await make_project(a, golden=3, policy={"required_approvals": 2, "min_eval_score": 0.7})
    vid = await new_version(a, fx)
    r = await a.author.post(f"/prompt_versions/{vid}/submit_for_approval")
    assert r.status_code == 202, r.text
    started = r.json()
    approval_id = started["approval_id"]
    assert approval_id == started["workflow_id"] == f"approval-{vid}-1"
    assert started["temporal_ui_url"].endswith(f"/workflows/{approval_id}")

    # A second submit while it runs returns the same approval and starts nothing.
    r = await a.rev1.post(f"/prompt_versions/{vid}/submit_for_approval")
    assert r.status_code == 202 and r.json()["approval_id"] == approval_id
    assert r.json()["run_id"] == started["run_id"]
    runs = [w async for w in a.temporal.client.list_workflows(f"WorkflowId = '{approval_id}'")]
    assert len(runs) == 1
    tagged = [w async for w in a.temporal.client.list_workflows(f"PromptVersion = '{vid}'")]
    assert [w.id for w in tagged] == [approval_id]

    waiting = await wait_approval(a.viewer, vid, phase="waiting")
    assert waiting["live"] is True and waiting["status"] == "Pending"
    assert waiting["eval_score"] == pytest.approx(1.0) and waiting["eval_metric"] == "exact_match"
    assert waiting["evaluation_id"] == f"eval-{approval_id}"
    assert waiting["required_approvals"] == 2 and waiting["deadline_at"]
    assert (await a.viewer.get(f"/prompt_versions/{vid}")).json()["status"] == "Pending"
    ev = (await a.viewer.get(f"/evals/{waiting['evaluation_id']}", params={"rows": 0})).json()
    assert ev["status"] == "Completed"

    r = await a.author.post(f"/prompt_versions/{vid}/approve", json={"comment": "mine"})
    assert r.status_code == 403 and "author" in r.json()["detail"]
    r = await a.viewer.post(f"/prompt_versions/{vid}/approve")
    assert r.status_code == 403
    r = await a.rev1.post(f"/prompt_versions/{vid}/approve", json={"comment": "good"})
    assert r.status_code == 200, r.text
    assert r.json()["approvals"] == 1 and r.json()["status"] == "Pending"

    # Approving twice: 409 with the validator's message, and nothing changes.
    r = await a.rev1.post(f"/prompt_versions/{vid}/approve", json={"comment": "again"})
    assert r.status_code == 409 and "already approved" in r.json()["detail"]
    state = await wait_approval(a.viewer, vid)
    assert state["approvals"] == 1 and len(state["decisions"]) == 1
    assert state["decisions"][0]["comment"] == "good"

    r = await a.rev2.post(f"/prompt_versions/{vid}/approve")
    assert r.status_code == 200, r.text
    assert r.json()["approvals"] == 2 and r.json()["status"] == "Approved"

    done = await wait_approval(a.viewer, vid, status="Approved", live=False)
    assert done["phase"] == "done" and done["completed_at"]
    assert [d["reviewer"] for d in done["decisions"]] == [a.emails["rev1"], a.emails["rev2"]]
    assert done["eval_score"] == pytest.approx(1.0)
    assert (await a.viewer.get(f"/prompt_versions/{vid}")).json()["status"] == "Approved"

    r = await a.author.post(f"/prompt_versions/{vid}/submit_for_approval")
    assert r.status_code == 409 and "already Approved" in r.json()["detail"]
    r = await a.rev1.post(f"/prompt_versions/{vid}/approve")
    assert r.status_code == 409

    listed = (
        await a.viewer.get(
            "/approvals", params={"project_id": fx["project_id"], "status": "Approved"}
        )
    ).json()
    assert [x["id"] for x in listed["data"]] == [approval_id]
    assert listed["data"][0]["approvals"] == 2

    actions = await audit_actions(pg_url, approval_id)
    assert [(x[0], x[1]) for x in actions] == [
        ("approval.submit", a.emails["author"]),
        ("approval.check", "system:approval-workflow"),
        ("approval.approve", a.emails["rev1"]),
        ("approval.approve", a.emails["rev2"]),
        ("approval.approved", "system:approval-workflow"),
    ]
    assert actions[-1][2] == {"version_status": "Pending"}
    assert actions[-1][3]["version_status"] == "Approved"


async def test_one_approval_by_id_names_the_prompt_version_and_author(actors: Actors) -> None:
    """``GET /approvals/{id}`` (the web app's review pane) and the list carry what a reviewer
    reads an approval by: the prompt, the version number, its author and the policy's golden
    set; live while the workflow runs, stored once it ended; 404 for ids that are not one."""
    a = actors
    fx = await make_project(a, golden=2)
    vid = await new_version(a, fx)
    approval_id = (await a.author.post(f"/prompt_versions/{vid}/submit_for_approval")).json()[
        "approval_id"
    ]
    await wait_approval(a.viewer, vid, phase="waiting")
    r = await a.viewer.get(f"/approvals/{approval_id}")
    assert r.status_code == 200, r.text
    one = r.json()
    assert one["live"] is True and one["status"] == "Pending" and one["id"] == approval_id
    assert (one["prompt_id"], one["prompt_name"], one["version"]) == (fx["prompt_id"], "s", 1)
    assert one["author"] == a.emails["author"] and one["golden_dataset_id"] == fx["dataset_id"]
    assert one["eval_metric"] == "exact_match" and one["eval_score"] == pytest.approx(1.0)
    listed = (await a.viewer.get("/approvals", params={"project_id": fx["project_id"]})).json()
    assert listed["data"][0]["author"] == a.emails["author"]
    assert listed["data"][0]["version"] == 1 and listed["data"][0]["prompt_name"] == "s"
    r = await a.rev1.post(f"/prompt_versions/{vid}/reject", json={"comment": "too terse"})
    assert r.status_code == 200, r.text
    await wait_approval(a.viewer, vid, status="Rejected", live=False)
    done = (await a.viewer.get(f"/approvals/{approval_id}")).json()
    assert done["live"] is False and done["status"] == "Rejected"
    assert done["decisions"][0]["comment"] == "too terse" and done["author"] == a.emails["author"]
    for missing in (
        f"approval-{uuid.uuid4()}-1",
        f"approval-{vid}-2",
        "approval-not-a-uuid-1",
        "something-else",
    ):
        r = await a.viewer.get(f"/approvals/{missing}")
        assert r.status_code == 404, (missing, r.text)


async def test_reject_needs_a_comment(actors: Actors) -> None:
    a = actors
    fx = await make_project(a)
    vid = await new_version(a, fx)
    assert (await a.author.post(f"/prompt_versions/{vid}/submit_for_approval")).status_code == 202
    await wait_approval(a.viewer, vid, phase="waiting")
    r = await a.rev1.post(f"/prompt_versions/{vid}/reject", json={"comment": "   "})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "comment"
    r = await a.rev1.post(f"/prompt_versions/{vid}/reject", json={"comment": "too vague"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "Rejected"
    done = await wait_approval(a.viewer, vid, status="Rejected", live=False)
    assert done["reason"] == f"rejected by {a.emails['rev1']}: too vague"
    assert done["decisions"][0]["decision"] == "reject"
    assert (await a.viewer.get(f"/prompt_versions/{vid}")).json()["status"] == "Rejected"
    r = await a.author.post(f"/prompt_versions/{vid}/submit_for_approval")
    assert r.status_code == 409 and "Rejected" in r.json()["detail"]


async def test_golden_check_below_minimum_rejects(actors: Actors) -> None:
    a = actors
    fx = await make_project(a, golden=3, policy={"min_eval_score": 0.7})
    vid = await new_version(a, fx, body="Summary: {{ text }}")
    assert (await a.author.post(f"/prompt_versions/{vid}/submit_for_approval")).status_code == 202
    done = await wait_approval(a.viewer, vid, status="CheckFailed", live=False)
    assert done["eval_score"] == 0.0 and "below the minimum 0.70" in done["reason"]
    assert done["decisions"] == []
    assert (await a.viewer.get(f"/prompt_versions/{vid}")).json()["status"] == "Rejected"


async def test_only_listed_reviewers_decide(actors: Actors) -> None:
    a = actors
    fx = await make_project(a, policy={"reviewers": [a.emails["rev1"].upper()]})
    vid = await new_version(a, fx)
    assert (await a.author.post(f"/prompt_versions/{vid}/submit_for_approval")).status_code == 202
    await wait_approval(a.viewer, vid, phase="waiting")
    r = await a.rev2.post(f"/prompt_versions/{vid}/approve")
    assert r.status_code == 403 and "not a reviewer" in r.json()["detail"]
    r = await a.rev1.post(f"/prompt_versions/{vid}/approve")
    assert r.status_code == 200 and r.json()["status"] == "Approved"


async def test_policy_endpoints(actors: Actors, pg_url: str) -> None:
    a = actors
    fx = await make_project(a, golden=1)
    other = await make_project(a, golden=1)
    pid = fx["project_id"]
    url = f"/projects/{pid}/approval_policy"
    r = await a.viewer.get(f"/projects/{other['project_id']}/approval_policy")
    assert r.status_code == 200 and r.json()["golden_dataset_id"] == other["dataset_id"]
    r = await a.rev1.put(url, json={})
    assert r.status_code == 403
    for body, field in [
        ({"min_eval_score": 1.5}, "min_eval_score"),
        ({"required_approvals": 0}, "required_approvals"),
        ({"eval_metric": "latency_ms"}, "eval_metric"),
        ({"eval_metric": "nope"}, "eval_metric"),
        ({"webhook_url": "ftp://x"}, "webhook_url"),
        ({"golden_dataset_id": other["dataset_id"]}, "golden_dataset_id"),
        ({"reviewers": ["nobody@example.com"]}, "reviewers"),
        ({"reviewers": [a.emails["viewer"]]}, "reviewers"),
        ({"reviewers": [a.emails["rev1"]], "required_approvals": 2}, "reviewers"),
    ]:
        r = await a.admin.put(url, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["detail"][0]["loc"][-1] == field, (body, r.text)
    before = (await a.viewer.get(url)).json()
    r = await a.admin.put(
        url,
        json={
            "required_approvals": 2,
            "reviewers": [a.emails["rev1"], a.emails["rev2"]],
            "min_eval_score": 0.8,
            "eval_metric": "token_f1",
            "deadline_hours": 48,
            "reminder_hours": 12,
        },
    )
    assert r.status_code == 200, r.text
    got = (await a.viewer.get(url)).json()
    assert got["required_approvals"] == 2 and got["eval_metric"] == "token_f1"
    assert got["golden_dataset_id"] is None and got["deadline_hours"] == 48
    actions = await audit_actions(pg_url, pid)
    update = [x for x in actions if x[0] == "approval_policy.update"][-1]
    assert update[2]["golden_dataset_id"] == before["golden_dataset_id"]
    assert update[3]["min_eval_score"] == 0.8


async def test_missing_approvals_and_other_organizations(
    actors: Actors,
    pg_url: str,
    temporal_env: WorkflowEnvironment,
    catalog: ModelCatalog,
    task_queue: str,
) -> None:
    a = actors
    fx = await make_project(a)
    vid = await new_version(a, fx)
    assert (await a.rev1.post(f"/prompt_versions/{vid}/approve")).status_code == 404
    assert (await a.viewer.get(f"/prompt_versions/{vid}/approval")).status_code == 404
    assert (await a.viewer.post(f"/prompt_versions/{vid}/submit_for_approval")).status_code == 403
    # Submitted, so the approval exists: another organization still sees none of it.
    assert (await a.author.post(f"/prompt_versions/{vid}/submit_for_approval")).status_code == 202
    await wait_approval(a.viewer, vid, phase="waiting")
    other = await issue_key(
        pg_url,
        organization=f"org-{uuid.uuid4().hex[:6]}",
        email=f"x-{uuid.uuid4().hex[:6]}@example.com",
    )
    async with (
        running_app(pg_url, temporal_env.client, catalog, task_queue) as running,
        running.client(other.key) as outsider,
    ):
        for method, path in [
            ("POST", f"/prompt_versions/{vid}/submit_for_approval"),
            ("POST", f"/prompt_versions/{vid}/approve"),
            ("POST", f"/prompt_versions/{vid}/reject"),
            ("GET", f"/prompt_versions/{vid}/approval"),
            ("GET", f"/projects/{fx['project_id']}/approval_policy"),
            ("PUT", f"/projects/{fx['project_id']}/approval_policy"),
            ("GET", f"/approvals?project_id={fx['project_id']}"),
            ("GET", f"/approvals/approval-{vid}-1"),
        ]:
            body = None if method == "GET" else {} if method == "PUT" else {"comment": "x"}
            r = await outsider.request(method, path, json=body)
            assert r.status_code == 404, (method, path, r.text)
        assert (await outsider.get("/approvals")).json()["count"] == 0


def test_cli_prints_approvals_and_clean_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from promptops.cli import app
    from promptops.devstack.client import APIClientError

    approval = {
        "id": "approval-v-1",
        "workflow_id": "approval-v-1",
        "prompt_version_id": "v",
        "status": "Pending",
        "phase": "waiting",
        "live": True,
        "version_status": "Pending",
        "required_approvals": 2,
        "approvals": 1,
        "reviewers": [],
        "eval_score": 0.9,
        "min_eval_score": 0.7,
        "eval_metric": "exact_match",
        "evaluation_id": "eval-x",
        "deadline_at": "2026-11-26T10:00:00+00:00",
        "reminders_sent": 0,
        "reason": "",
        "decisions": [
            {
                "reviewer": "rev1@example.com",
                "decision": "approve",
                "comment": "good",
                "decided_at": "2026-11-23T10:00:00+00:00",
            }
        ],
        "temporal_ui_url": "http://127.0.0.1:8233/namespaces/default/workflows/approval-v-1",
    }
    calls: list[tuple[str, str, Any]] = []

    class FakeClient:
        def __enter__(self) -> Self:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def request(self, method: str, path: str, **kwargs: Any) -> Any:
            calls.append((method, path, kwargs.get("json")))
            if path.endswith("/reject"):
                raise APIClientError(409, "rev1@example.com already approved this version")
            if path.endswith("submit_for_approval"):
                return {
                    "approval_id": "approval-v-1",
                    "workflow_id": "approval-v-1",
                    "run_id": "r",
                    "prompt_version_id": "v",
                    "status": "Pending",
                    "temporal_ui_url": approval["temporal_ui_url"],
                }
            return approval

    monkeypatch.setattr("promptops.cli.evals._client", lambda: FakeClient())
    runner = CliRunner()
    result = runner.invoke(app, ["submit", "v"])
    assert result.exit_code == 0 and "approval-v-1" in result.output
    result = runner.invoke(app, ["approve", "v", "--comment", "good"])
    assert result.exit_code == 0, result.output
    assert "1/2" in result.output and "rev1@example.com" in result.output
    assert calls[-1] == ("POST", "/prompt_versions/v/approve", {"comment": "good"})
    result = runner.invoke(app, ["approval", "v"])
    assert result.exit_code == 0 and "exact_match = 0.900" in result.output
    result = runner.invoke(app, ["reject", "v", "--comment", "no"])
    assert result.exit_code == 1 and "already approved" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["reject", "v", "--comment", " "])
    assert result.exit_code == 1 and "needs a comment" in result.output
