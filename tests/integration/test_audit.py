"""The audit log: append-only, one row per mutation with actor and request id, queryable
(issue 3, item 4)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from temporalio import workflow
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import CancelledError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from promptops.db.models import Role
from promptops.db.session import get_session_factory
from promptops.governance.identity import IssuedKey
from promptops.llm import ModelCatalog
from tests.support.apps import RunningApp, issue_key, running_app
from tests.support.evals import make_eval_fixture


@pytest.fixture
async def app(
    pg_url: str, temporal_env: WorkflowEnvironment, catalog: ModelCatalog, task_queue: str
) -> AsyncIterator[RunningApp]:
    async with running_app(pg_url, temporal_env.client, catalog, task_queue) as running:
        yield running


@workflow.defn(name="BatchEvaluationWorkflow", sandboxed=False)
class ParkedEvaluation:
    """Stands in for the evaluation workflow: waits until cancelled and answers the progress
    query, so start/status/cancel go through Temporal without evaluating anything."""

    @workflow.run
    async def run(self, _: Any) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.query
    def progress(self) -> dict[str, Any]:
        return {"done": 0, "total": 0, "versions": []}


async def _org_admin(pg_url: str) -> tuple[str, IssuedKey]:
    org = f"org-{uuid.uuid4().hex[:10]}"
    return org, await issue_key(pg_url, organization=org, email=f"admin@{org}.example")


async def test_audit_log_refuses_update_and_delete(app: RunningApp, pg_url: str) -> None:
    _, admin = await _org_admin(pg_url)
    async with app.client(admin.key) as a:
        assert (await a.post("/projects", json={"name": "p"})).status_code == 201
        entry = (await a.get("/audit", params={"action": "project.create"})).json()["data"][0]
    factory = get_session_factory(pg_url)
    for statement in (
        "UPDATE audit_log SET actor = 'someone else' WHERE id = :id",
        "DELETE FROM audit_log WHERE id = :id",
        "UPDATE audit_log SET after = NULL WHERE id = :id",
    ):
        async with factory() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(statement), {"id": entry["id"]})
            await session.rollback()
    async with factory() as session:
        actor = (
            await session.execute(
                text("SELECT actor FROM audit_log WHERE id = :id"), {"id": entry["id"]}
            )
        ).scalar_one()
    assert actor == entry["actor"]


async def test_every_mutation_leaves_a_row_with_actor_and_request_id(
    app: RunningApp,
    pg_url: str,
    temporal_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    org, admin = await _org_admin(pg_url)
    actor = f"admin@{org}.example"
    secrets_seen: list[str] = []
    expected: dict[str, str] = {}  # request id -> action

    def rid(action: str) -> dict[str, str]:
        request_id = f"req-{action}-{uuid.uuid4().hex[:8]}"
        expected[request_id] = action
        return {"X-Request-ID": request_id}

    async with app.client(admin.key) as a:
        fx = await make_eval_fixture(a, 2)  # project, prompt, versions, dataset + import
        r = await a.post("/projects", json={"name": "audited"}, headers=rid("project.create"))
        project_id = r.json()["id"]
        r = await a.post(
            f"/projects/{project_id}/prompts", json={"name": "p"}, headers=rid("prompt.create")
        )
        prompt_id = r.json()["id"]
        r = await a.post(
            f"/prompts/{prompt_id}/versions",
            json={"body": "{{ x }}", "variables": {"x": "str"}},
            headers=rid("prompt_version.create"),
        )
        version_id = r.json()["id"]
        r = await a.put(
            f"/prompts/{prompt_id}/labels/staging",
            json={"prompt_version_id": version_id},
            headers=rid("label.move"),
        )
        assert r.status_code == 200, r.text
        r = await a.post(
            "/datasets", json={"project_id": project_id, "name": "d"}, headers=rid("dataset.create")
        )
        dataset_id = r.json()["id"]
        r = await a.post(
            f"/datasets/{dataset_id}/examples",
            content=json.dumps({"id": "e1", "input": {"x": "1"}}),
            headers={"content-type": "application/x-ndjson", **rid("dataset.import")},
        )
        assert r.status_code == 201, r.text
        async with Worker(temporal_env.client, task_queue=task_queue, workflows=[ParkedEvaluation]):
            r = await a.post(
                "/evals/run",
                json={
                    "prompt_version_ids": fx["versions"][:1],
                    "dataset_id": fx["dataset_id"],
                    "metrics": ["exact_match"],
                },
                headers=rid("evaluation.start"),
            )
            assert r.status_code == 202, r.text
            eval_id = r.json()["id"]
            r = await a.post(f"/evals/{eval_id}/cancel", headers=rid("evaluation.cancel"))
            assert r.status_code == 202, r.text
            with pytest.raises(WorkflowFailureError) as failure:
                await temporal_env.client.get_workflow_handle(eval_id).result()
            assert isinstance(failure.value.cause, CancelledError)
        r = await a.post(
            "/members",
            json={"email": f"m@{org}.example", "role": "Editor"},
            headers=rid("member.add"),
        )
        member_id = r.json()["user_id"]
        r = await a.patch(
            f"/members/{member_id}", json={"role": "Viewer"}, headers=rid("member.update")
        )
        assert r.status_code == 200
        r = await a.post(
            "/api_keys", json={"name": "k", "role": "Viewer"}, headers=rid("api_key.create")
        )
        key = r.json()
        secrets_seen.append(key["key"])
        r = await a.post(f"/api_keys/{key['id']}/rotate", headers=rid("api_key.rotate"))
        secrets_seen.append(r.json()["key"])
        r = await a.delete(f"/api_keys/{r.json()['id']}", headers=rid("api_key.revoke"))
        assert r.status_code == 200
        provider_secret = f"sk-{uuid.uuid4().hex}"
        secrets_seen.append(provider_secret)
        r = await a.post(
            "/provider_keys",
            json={"provider": "openai", "name": "p", "api_key": provider_secret},
            headers=rid("provider_key.create"),
        )
        r = await a.delete(f"/provider_keys/{r.json()['id']}", headers=rid("provider_key.delete"))
        assert r.status_code == 204
        r = await a.delete(f"/members/{member_id}", headers=rid("member.remove"))
        assert r.status_code == 200

        for request_id, action in expected.items():
            rows = (await a.get("/audit", params={"request_id": request_id})).json()["data"]
            assert [row["action"] for row in rows] == [action], (request_id, rows)
            assert rows[0]["actor"] == actor and rows[0]["request_id"] == request_id
            assert rows[0]["before"] or rows[0]["after"] or action == "evaluation.cancel"
        everything = (await a.get("/audit", params={"limit": 1000})).text
    for secret in secrets_seen:
        assert secret not in everything
    async with get_session_factory(pg_url)() as session:
        hashes = (
            (
                await session.execute(
                    text("SELECT secret_hash FROM api_keys WHERE organization_id = :o"),
                    {"o": admin.organization_id},
                )
            )
            .scalars()
            .all()
        )
    assert hashes and not any(h in everything for h in hashes)


async def test_filters_and_paging(app: RunningApp, pg_url: str) -> None:
    org, admin = await _org_admin(pg_url)
    other_org, other_admin = await _org_admin(pg_url)
    editor = await issue_key(pg_url, organization=org, email=f"ed@{org}.example", role=Role.EDITOR)
    await asyncio.sleep(0.05)
    start = datetime.now(UTC)  # after the two bootstrap rows (api_key.create)
    await asyncio.sleep(0.05)
    async with app.client(admin.key) as a, app.client(editor.key) as e:
        project_ids = []
        for i in range(5):
            r = await a.post("/projects", json={"name": f"p{i}"})
            project_ids.append(r.json()["id"])
        r = await e.post(f"/projects/{project_ids[0]}/prompts", json={"name": "by-editor"})
        prompt_id = r.json()["id"]

        async def get(**params: Any) -> dict[str, Any]:
            r = await a.get("/audit", params={k: v for k, v in params.items() if v is not None})
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()
            return body

        by_action = (await get(action="project.create"))["data"]
        assert [r["entity_id"] for r in by_action] == project_ids[::-1]  # newest first
        by_actor = await get(actor=f"ed@{org}.example", since=start.isoformat())
        assert [(r["action"], r["entity_id"]) for r in by_actor["data"]] == [
            ("prompt.create", prompt_id)
        ]
        by_entity = await get(entity_type="project", entity_id=project_ids[2])
        assert [r["entity_id"] for r in by_entity["data"]] == [project_ids[2]]
        assert by_entity["data"][0]["after"] == {"name": "p2"}
        assert (await get(since=start.isoformat()))["count"] == 6
        before = await get(until=start.isoformat())
        assert {(r["action"], r["actor"]) for r in before["data"]} == {
            ("api_key.create", f"admin@{org}.example"),
            ("api_key.create", f"ed@{org}.example"),
        }
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert (await get(since=future))["count"] == 0

        # Paging with limit + before_id visits every row once, newest first.
        seen: list[int] = []
        before_id = None
        while True:
            page = await get(limit=3, before_id=before_id)
            seen.extend(r["id"] for r in page["data"])
            before_id = page["next_before_id"]
            if before_id is None:
                break
        all_rows = (await get(limit=1000))["data"]
        assert seen == [r["id"] for r in all_rows] and len(seen) == 8
        assert seen == sorted(seen, reverse=True)

        assert (await a.get("/audit", params={"limit": 0})).status_code == 422
        assert (await e.get("/audit")).status_code == 403
        scoped = (
            await a.post(
                "/api_keys", json={"name": "s", "role": "Admin", "project_id": project_ids[0]}
            )
        ).json()
    async with app.client(scoped["key"]) as s:
        r = await s.get("/audit")
        assert r.status_code == 403 and "whole organization" in r.text
    async with app.client(other_admin.key) as b:  # another organization sees none of it
        rows = (await b.get("/audit", params={"limit": 1000})).json()["data"]
        assert {r["actor"] for r in rows} == {f"admin@{other_org}.example"}
